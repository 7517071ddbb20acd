"""ViT-B/16 fine-tuning on ImageNet-1k: 100 epochs, layer decay 0.65, drop path 0.1 (paper recipe).

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/in1k_finetune_vit_base.py \
        --data-path IMAGENET --pretrained mae_pretrain_vit_base.pth --output-dir runs/in1k_finetune_vit_base \
        finetune.accum_iter=4

(8 processes x 32 images x accum 4 = the paper's batch 1024.) Expected top-1 on IN-1k val: 83.6 (from scratch: 82.3).
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_base_patch16")
