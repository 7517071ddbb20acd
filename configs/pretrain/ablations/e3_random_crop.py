"""Table 1(e) data augmentation, row 'crop, rand size' (the default setting).
Paper (ViT-L, 800 epochs, IN-1k): ft 84.9, lin 73.5.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/e3_random_crop.py \
    --data-path IMAGENET/train --output-dir runs/ablations/e3_random_crop
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table e
"""
from transfer.studies.ablation.rows import derive

ROW = 'crop, rand size'
BASELINE = True
PAPER = (84.9, 73.5)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel', 'data.augmentation=random_resized_crop'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'data.augmentation=random_resized_crop'])
