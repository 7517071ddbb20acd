"""Table 1(b) decoder width, row '768'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.4, lin 73.1.

Heads are derived (width / 32). Small scale: widths / 4 (the demo decoder is 128 wide, the paper's 512).

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/b4_width768.py \
    --data-path IMAGENET/train --output-dir runs/ablations/b4_width768
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table b
"""
from transfer.studies.ablation.rows import derive

ROW = '768'
BASELINE = False
PAPER = (84.4, 73.1)

config = derive(__file__, "mae_vit_large.py",
                ['model.target=pixel', 'model.decoder_embed_dim=768', 'model.decoder_num_heads=0'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.decoder_embed_dim=192', 'model.decoder_num_heads=0'])
