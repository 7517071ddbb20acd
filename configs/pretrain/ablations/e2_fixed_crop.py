"""Table 1(e) data augmentation, row 'crop, fixed size'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.7, lin 73.1.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/e2_fixed_crop.py \
    --data-path IMAGENET/train --output-dir runs/ablations/e2_fixed_crop
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table e
"""
from transfer.studies.ablation.rows import derive

ROW = 'crop, fixed size'
BASELINE = False
PAPER = (84.7, 73.1)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel', 'data.augmentation=fixed_crop'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'data.augmentation=fixed_crop'])
