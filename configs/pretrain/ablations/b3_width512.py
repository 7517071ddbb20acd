"""Table 1(b) decoder width, row '512' (the default setting). Paper (ViT-L, 800 epochs, IN-1k): ft 84.9, lin 73.5.

Heads are fixed at every width, as the official decoder (models_mae.py: 16 heads whatever the width): 16 at
full scale, 4 at small scale (the demo decoder's count), so only the width changes. Small scale: widths / 4
(the demo decoder is 128 wide, the paper's 512); every width is divisible by its heads.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/b3_width512.py \
    --data-path IMAGENET/train --output-dir runs/ablations/b3_width512
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table b
"""
from transfer.studies.ablation.rows import derive

ROW = '512'
BASELINE = True
PAPER = (84.9, 73.5)

config = derive(__file__, "mae_vit_large_800ep.py",
                ['model.target=pixel', 'model.decoder_embed_dim=512', 'model.decoder_num_heads=16'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.decoder_embed_dim=128', 'model.decoder_num_heads=4'])
