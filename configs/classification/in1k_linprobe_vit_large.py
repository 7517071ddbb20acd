"""ViT-L/16 linear probe on ImageNet-1k (paper Table 10, main_linprobe.py): cls token, BatchNorm without
affine + linear head, LARS (momentum 0.9), batch 16384, base lr 0.1, wd 0, 90 epochs with 10 warmup, cosine to 0,
RandomResizedCrop + flip, bf16 autocast (train.precision=bf16; the reference uses AMP). Sources: docs/recipes.md.

    torchrun --nproc_per_node 8 tools/linprobe.py --config configs/classification/in1k_linprobe_vit_large.py \
        --data-path IMAGENET --pretrained mae_pretrain_vit_large.pth --output-dir runs/in1k_linprobe_vit_large \
        linprobe.batch_size=2048

(8 processes x 2048 = 16384.) Expected top-1 on IN-1k val: 75.8 (paper Table 12, TF/TPU; FINETUNE.md's PyTorch
code: 76.0).
"""
from transfer.classification.recipes import linprobe_recipe

config = linprobe_recipe("vit_large_patch16")
