"""Table 1(d) reconstruction target, row 'pixel (w/o norm)' (the default setting).
Paper (ViT-L, 800 epochs, IN-1k): ft 84.9, lin 73.5.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/d1_pixel.py \
    --data-path IMAGENET/train --output-dir runs/ablations/d1_pixel
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table d
"""
from transfer.studies.ablation.rows import derive

ROW = 'pixel (w/o norm)'
BASELINE = True
PAPER = (84.9, 73.5)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel'])
small = derive(__file__, "demo.py", ['model.target=pixel'])
