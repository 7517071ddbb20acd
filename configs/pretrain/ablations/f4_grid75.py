"""Table 1(f) mask sampling, row 'grid 75%'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.0, lin 66.0.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/f4_grid75.py \
    --data-path IMAGENET/train --output-dir runs/ablations/f4_grid75
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table f
"""
from transfer.studies.ablation.rows import derive

ROW = 'grid 75%'
BASELINE = False
PAPER = (84.0, 66.0)

config = derive(__file__, "mae_vit_large_800ep.py",
                ['model.target=pixel', 'model.masking=grid', 'model.mask_ratio=0.75'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.masking=grid', 'model.mask_ratio=0.75'])
