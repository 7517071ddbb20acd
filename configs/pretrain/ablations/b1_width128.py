"""Table 1(b) decoder width, row '128'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.9, lin 69.1.

Heads are derived (width / 32). Small scale: widths / 4 (the demo decoder is 128 wide, the paper's 512).

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/b1_width128.py \
    --data-path IMAGENET/train --output-dir runs/ablations/b1_width128
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table b
"""
from transfer.studies.ablation.rows import derive

ROW = '128'
BASELINE = False
PAPER = (84.9, 69.1)

config = derive(__file__, "mae_vit_large.py",
                ['model.target=pixel', 'model.decoder_embed_dim=128', 'model.decoder_num_heads=0'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.decoder_embed_dim=32', 'model.decoder_num_heads=0'])
