"""Table 1(f) mask sampling, row 'random 75%' (the default setting).
Paper (ViT-L, 800 epochs, IN-1k): ft 84.9, lin 73.5.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/f1_random75.py \
    --data-path IMAGENET/train --output-dir runs/ablations/f1_random75
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table f
"""
from transfer.studies.ablation.rows import derive

ROW = 'random 75%'
BASELINE = True
PAPER = (84.9, 73.5)

config = derive(__file__, "mae_vit_large_800ep.py",
                ['model.target=pixel', 'model.masking=random', 'model.mask_ratio=0.75'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.masking=random', 'model.mask_ratio=0.75'])
