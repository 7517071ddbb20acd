"""Table 1(e) data augmentation, row 'crop + color jit'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.3, lin 71.9.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/e4_random_crop_jitter.py \
    --data-path IMAGENET/train --output-dir runs/ablations/e4_random_crop_jitter
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table e
"""
from transfer.studies.ablation.rows import derive

ROW = 'crop + color jit'
BASELINE = False
PAPER = (84.3, 71.9)

config = derive(__file__, "mae_vit_large_800ep.py",
                ['model.target=pixel', 'data.augmentation=random_resized_crop_color_jitter'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'data.augmentation=random_resized_crop_color_jitter'])
