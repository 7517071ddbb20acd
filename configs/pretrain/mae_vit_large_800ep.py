"""MAE ViT-L/16 on ImageNet-1k at 800 epochs, normalised-pixel target: the setting of the paper's ablations
(Table 1) and of PRETRAIN.md's command. The ablation rows (ablations/*.py) derive their full scale from this file.

Command (8 GPUs):
  torchrun --nproc_per_node 8 tools/pretrain.py --config configs/pretrain/mae_vit_large_800ep.py \
      --data-path IMAGENET/train --output-dir runs/mae_large_800ep
Expected: fine-tuning this encoder (configs/classification/in1k_finetune_vit_large.py) reaches 85.4% top-1 on IN-1k
(paper Table 1d, 'pixel (w/ norm)', TF/TPU; PRETRAIN.md reports 85.5 with the PyTorch code), linear probe 73.9.
"""
from pathlib import Path

from mae_core.config import load_config

config = load_config(Path(__file__).with_name("mae_vit_large.py"))
config.train.epochs = 800
