"""MAE ViT-L/16 on ImageNet-1k at 1600 epochs: the ViT-B recipe (mae_vit_base.py) with the large encoder
(paper Table 3; the released checkpoints' length). The 800-epoch run of the paper's ablations: mae_vit_large_800ep.py.

Command (8 GPUs):
  torchrun --nproc_per_node 8 tools/pretrain.py --config configs/pretrain/mae_vit_large.py \
      --data-path IMAGENET/train --output-dir runs/mae_large
Expected: fine-tuning this encoder (configs/classification/in1k_finetune_vit_large.py) reaches 85.9% top-1 on IN-1k
(paper Table 3, 1600 epochs, normalised pixels; FINETUNE.md's released checkpoint: 85.95).
"""
from pathlib import Path

from mae_core.config import load_config

config = load_config(Path(__file__).with_name("mae_vit_base.py"))
config.model.encoder = "vit_large_patch16"
