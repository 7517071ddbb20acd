"""ViT-H/14 fine-tuning on ImageNet-1k, FINETUNE.md's ViT-H command: 50 epochs, base lr 1e-3, layer decay 0.75,
drop path 0.3, batch 1024 (16 per GPU), random erasing 0.25, mixup 0.8 / cutmix 1.0, label smoothing 0.1, the
position table trained, bf16 autocast (train.precision=bf16; the reference uses AMP). Sources: docs/recipes.md.

    torchrun --nproc_per_node 8 tools/finetune.py --config configs/classification/in1k_finetune_vit_huge.py \
        --data-path IMAGENET --pretrained mae_pretrain_vit_huge.pth --output-dir runs/in1k_finetune_vit_huge \
        finetune.accum_iter=8

(8 processes x 16 images x accum 8 = batch 1024.) Expected top-1 on IN-1k val: 86.9 (paper Table 3; 87.8 at 448 px
with data.input_size=448; FINETUNE.md's released fine-tuned model: 86.93). From scratch (Table 11 recipe): 83.1.
"""
from transfer.classification.recipes import finetune_recipe

config = finetune_recipe("vit_huge_patch14")
