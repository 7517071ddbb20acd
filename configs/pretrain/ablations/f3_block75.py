"""Table 1(f) mask sampling, row 'block 75%'. Paper (ViT-L, 800 epochs, IN-1k): ft 82.8, lin 63.9.

Block masking removes exactly L - int(L * 0.25..) patches: the last block is trimmed to the count.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/f3_block75.py \
    --data-path IMAGENET/train --output-dir runs/ablations/f3_block75
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table f
"""
from transfer.studies.ablation.rows import derive

ROW = 'block 75%'
BASELINE = False
PAPER = (82.8, 63.9)

config = derive(__file__, "mae_vit_large_800ep.py",
                ['model.target=pixel', 'model.masking=block', 'model.mask_ratio=0.75'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.masking=block', 'model.mask_ratio=0.75'])
