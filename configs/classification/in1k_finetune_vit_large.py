"""ViT-L/16 fine-tuning on ImageNet-1k, FINETUNE.md's ViT-L command: 50 epochs, base lr 1e-3, layer decay 0.75,
drop path 0.2, batch 1024, random erasing 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1, the position table
trained, bf16 autocast (train.precision=bf16; the reference uses AMP). Every value and its source: docs/recipes.md.

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/in1k_finetune_vit_large.py \
        --data-path IMAGENET --pretrained mae_pretrain_vit_large.pth --output-dir runs/in1k_finetune_vit_large \
        finetune.accum_iter=4

(8 processes x 32 images x accum 4 = batch 1024.) Expected top-1 on IN-1k val: 85.9 from the 1600-epoch encoder
(paper Table 3; FINETUNE.md: 85.87 mean of 4 seeds), 85.4 from the 800-epoch one (configs/pretrain/
mae_vit_large_800ep.py; paper Table 1d). From scratch (paper Table 11 recipe, not this file): 82.6.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_large_patch16")
