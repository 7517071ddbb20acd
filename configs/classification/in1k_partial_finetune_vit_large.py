"""Partial fine-tuning of ViT-L/16 on ImageNet-1k (paper Figure 9): only the last k blocks (plus the final norm and
the head) learn; k = 0 is linear probing with the paper's head (BatchNorm without affine + Linear).

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/in1k_partial_finetune_vit_large.py \
        --data-path IMAGENET --pretrained mae_pretrain_vit_large.pth --output-dir runs/partial_k1 \
        finetune.trainable_blocks=1 finetune.accum_iter=4

Uses the fine-tuning recipe (the paper adjusts lr and epochs per k without listing them). Expected top-1 on IN-1k
val, read from Figure 9: k = 0 ~73.5 (the linear probe), k = 1 ~81, k = 2 ~83, k = 4 ~84.5, all 24 blocks 85.9.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_large_patch16")
config.finetune.trainable_blocks = 1
