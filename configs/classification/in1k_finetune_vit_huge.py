"""ViT-H/14 fine-tuning on ImageNet-1k: 50 epochs, layer decay 0.75, drop path 0.3 (paper recipe).

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/in1k_finetune_vit_huge.py \
        --data-path IMAGENET --pretrained mae_pretrain_vit_huge.pth --output-dir runs/in1k_finetune_vit_huge \
        finetune.accum_iter=4

(8 processes x 32 images x accum 4 = the paper's batch 1024.) Expected top-1 on IN-1k val: 86.9
(87.8 at 448 px with data.input_size=448; from scratch: 83.1).
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_huge_patch14")
