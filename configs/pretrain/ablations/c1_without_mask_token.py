"""Table 1(c) mask token, row 'encoder w/o [M]' (the default setting).
Paper (ViT-L, 800 epochs, IN-1k): ft 84.9, lin 73.5.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/c1_without_mask_token.py \
    --data-path IMAGENET/train --output-dir runs/ablations/c1_without_mask_token
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table c
"""
from transfer.studies.ablation.rows import derive

ROW = 'encoder w/o [M]'
BASELINE = True
PAPER = (84.9, 73.5)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel'])
small = derive(__file__, "demo.py", ['model.target=pixel'])
