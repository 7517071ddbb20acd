"""Table 1(d) reconstruction target, row 'HOG (MaskFeat; not in the paper's table)'. No paper number.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/d5_hog.py \
    --data-path IMAGENET/train --output-dir runs/ablations/d5_hog
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table d
"""
from transfer.studies.ablation.rows import derive

ROW = "HOG (MaskFeat; not in the paper's table)"
BASELINE = False
PAPER = ()

config = derive(__file__, "mae_vit_large_800ep.py", ['model.target=hog'])
small = derive(__file__, "demo.py", ['model.target=hog'])
