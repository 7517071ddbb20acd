"""Table 1(f) mask sampling, row 'block 50%'. Paper (ViT-L, 800 epochs, IN-1k): ft 83.9, lin 72.3.

Block masking removes exactly L - int(L * 0.25..) patches: the last block is trimmed to the count.

Full scale (`config`, ViT-L):  python tools/pretrain.py --config configs/pretrain/ablations/f2_block50.py \
    --data-path IMAGENET/train --output-dir runs/ablations/f2_block50
Small scale (`small`, Fashion-MNIST, the demo ViT):  python tools/ablate.py --table f
"""
from transfer.studies.ablation.rows import derive

ROW = 'block 50%'
BASELINE = False
PAPER = (83.9, 72.3)

config = derive(__file__, "mae_vit_large_800ep.py",
                ['model.target=pixel', 'model.masking=block', 'model.mask_ratio=0.5'])
small = derive(__file__, "demo.py", ['model.target=pixel', 'model.masking=block', 'model.mask_ratio=0.5'])
