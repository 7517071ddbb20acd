"""MAE ViT-B/16 on ImageNet-1k, the paper's recipe (800 epochs, batch 4096 = 64 x 8 GPUs x accum 8).

Command (8 GPUs):
  torchrun --nproc_per_node 8 tools/pretrain.py --config configs/pretrain/mae_vit_base.py \
      --data-path IMAGENET/train --output-dir runs/mae_base
Expected: fine-tuning this encoder (configs/classification) reaches 83.6% top-1 on IN-1k (paper, Table 3).
"""
from mae_core.engine.pretrain_config import DataConfig, ModelConfig, OptimConfig, PretrainConfig, TrainConfig

config = PretrainConfig(
    model=ModelConfig(encoder="vit_base_patch16", img_size=224, decoder_embed_dim=512, decoder_depth=8,
                      decoder_num_heads=16, mask_ratio=0.75, target="norm_pixel"),
    data=DataConfig(augmentation="random_resized_crop", crop_min_scale=0.2, num_workers=10),
    optim=OptimConfig(base_lr=1.5e-4, weight_decay=0.05, betas=(0.9, 0.95), warmup_epochs=40),
    train=TrainConfig(epochs=800, batch_size=64, accum_iter=8, precision="bf16", save_every_steps=1000),
)
