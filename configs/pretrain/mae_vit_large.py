"""MAE ViT-L/16 on ImageNet-1k: the ViT-B recipe (mae_vit_base.py) with the large encoder.

Command (8 GPUs):
  torchrun --nproc_per_node 8 tools/pretrain.py --config configs/pretrain/mae_vit_large.py \
      --data-path IMAGENET/train --output-dir runs/mae_large
Expected: fine-tuning this encoder (configs/classification) reaches 85.9% top-1 on IN-1k (paper, Table 3);
the paper's ablations (Table 1) use this model at 800 epochs.
"""
from pathlib import Path

from mae_core.config import load_config

config = load_config(Path(__file__).with_name("mae_vit_base.py"))
config.model.encoder = "vit_large_patch16"
