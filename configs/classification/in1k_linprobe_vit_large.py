"""ViT-L/16 linear probe on ImageNet-1k: cls token, BatchNorm without affine, LARS, batch 16384, blr 0.1,
wd 0, 90 epochs.

    torchrun --nproc_per_node 8 tools/linprobe.py --config configs/classification/in1k_linprobe_vit_large.py \
        --data-path IMAGENET --pretrained mae_pretrain_vit_large.pth --output-dir runs/in1k_linprobe_vit_large \
        linprobe.batch_size=2048

(8 processes x 2048 = 16384.) Expected top-1 on IN-1k val: 75.8
"""
from transfer.classification.recipes import linprobe_recipe

config = linprobe_recipe("vit_large_patch16")
