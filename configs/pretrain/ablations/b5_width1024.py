"""Table 1(b) decoder width, row '1024'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.3, lin 73.1.

Heads are fixed at every width, as the official decoder (models_mae.py: 16 heads whatever the width): 16 at
full scale, 4 at small scale (the demo decoder's count), so only the width changes. Small scale: widths / 4
(the demo decoder is 128 wide, the paper's 512); every width is divisible by its heads.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/b5_width1024.py \
    --data-path IMAGENET/train --output-dir runs/ablations/b5_width1024
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table b
"""
from transfer.studies.ablation.rows import derive

ROW = '1024'
BASELINE = False
PAPER = (84.3, 73.1)

config = derive(__file__, "mae_vit_large_800ep.py",
                ['model.target=pixel', 'model.decoder_embed_dim=1024', 'model.decoder_num_heads=16'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.decoder_embed_dim=256', 'model.decoder_num_heads=4'])
