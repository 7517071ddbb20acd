"""Table 1(c) mask token, row 'encoder w/ [M]'. Paper (ViT-L, 800 epochs, IN-1k): ft 84.2, lin 59.6.

The paper measures 3.3x the FLOPs of the default row.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/c2_with_mask_token.py \
    --data-path IMAGENET/train --output-dir runs/ablations/c2_with_mask_token
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table c
"""
from transfer.studies.ablation.rows import derive

ROW = 'encoder w/ [M]'
BASELINE = False
PAPER = (84.2, 59.6)

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=pixel', 'model.mask_token_in_encoder=true'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.mask_token_in_encoder=true'])
