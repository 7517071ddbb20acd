"""Table 1(e) data augmentation, row 'none'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.0, lin 65.7.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/e1_none.py \
    --data-path IMAGENET/train --output-dir runs/ablations/e1_none
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table e
"""
from transfer.studies.ablation.rows import derive

ROW = 'none'
BASELINE = False
PAPER = (84.0, 65.7)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel', 'data.augmentation=none'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'data.augmentation=none'])
