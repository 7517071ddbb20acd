"""Table 1(d) reconstruction target, row 'pixel (w/ norm)'. Paper (ViT-L, 800 epochs, IN-1k): ft 85.4, lin 73.9.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/d2_norm_pixel.py \
    --data-path IMAGENET/train --output-dir runs/ablations/d2_norm_pixel
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table d
"""
from transfer.studies.ablation.rows import derive

ROW = 'pixel (w/ norm)'
BASELINE = False
PAPER = (85.4, 73.9)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=norm_pixel'])
small = derive(__file__, "demo.py", ['model.target=norm_pixel'])
