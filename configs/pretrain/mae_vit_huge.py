"""MAE ViT-H/14 on ImageNet-1k at 1600 epochs: the ViT-B recipe (mae_vit_base.py) with the huge encoder,
batch 4096 = 32 per GPU x 8 GPUs x accum 16, gradient checkpointing on (paper Table 3).

Command (8 GPUs):
  torchrun --nproc_per_node 8 tools/pretrain.py --config configs/pretrain/mae_vit_huge.py \
      --data-path IMAGENET/train --output-dir runs/mae_huge
Expected: fine-tuning this encoder (configs/classification/in1k_finetune_vit_huge.py) reaches 86.9% top-1 on IN-1k
(paper Table 3, 1600 epochs, normalised pixels; 87.8 at 448 px; FINETUNE.md's released checkpoint: 86.93).
"""
from pathlib import Path

from mae_core.config import load_config

config = load_config(Path(__file__).with_name("mae_vit_base.py"))
config.model.encoder = "vit_huge_patch14"
config.model.grad_checkpointing = True
config.train.batch_size, config.train.accum_iter = 32, 16
