"""ViT-L/16 fine-tuning on ImageNet-1k: 50 epochs, layer decay 0.75, drop path 0.2 (paper recipe).

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/in1k_finetune_vit_large.py \
        --data-path IMAGENET --pretrained mae_pretrain_vit_large.pth --output-dir runs/in1k_finetune_vit_large \
        finetune.accum_iter=4

(8 processes x 32 images x accum 4 = the paper's batch 1024.) Expected top-1 on IN-1k val: 85.9 (from scratch: 82.6).
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_large_patch16")
