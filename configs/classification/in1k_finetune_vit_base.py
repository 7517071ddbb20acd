"""ViT-B/16 fine-tuning on ImageNet-1k, FINETUNE.md's ViT-B command: 100 epochs, base lr 5e-4, layer decay 0.65,
drop path 0.1, batch 1024, random erasing 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1, the position table
trained, bf16 autocast (train.precision=bf16; the reference uses AMP). Every value and its source: docs/recipes.md.

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/in1k_finetune_vit_base.py \
        --data-path IMAGENET --pretrained mae_pretrain_vit_base.pth --output-dir runs/in1k_finetune_vit_base \
        finetune.accum_iter=4

(8 processes x 32 images x accum 4 = batch 1024.) Expected top-1 on IN-1k val from the 1600-epoch encoder
(configs/pretrain/mae_vit_base.py or the released mae_pretrain_vit_base.pth): 83.6 (paper Table 3; FINETUNE.md:
83.57 mean of 4 seeds). From scratch (paper Table 11 recipe, not this file): 82.3.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_base_patch16")
