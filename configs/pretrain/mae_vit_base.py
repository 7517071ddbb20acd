"""MAE ViT-B/16 on ImageNet-1k, the paper's recipe at 1600 epochs (Table 3; the released checkpoints' length).

AdamW (0.9, 0.95), base lr 1.5e-4, weight decay 0.05, batch 4096 (64 per GPU x 8 GPUs x accum 8), 40 warmup epochs
then cosine, RandomResizedCrop(0.2-1) + flip, 75% random masking, decoder 8 x 512 (16 heads), normalised-pixel target,
bf16 autocast (the official code runs under AMP). Sources per value: docs/recipes.md.

Command (8 GPUs):
  torchrun --nproc_per_node 8 tools/pretrain.py --config configs/pretrain/mae_vit_base.py \
      --data-path IMAGENET/train --output-dir runs/mae_base
Expected: fine-tuning this encoder (configs/classification/in1k_finetune_vit_base.py) reaches 83.6% top-1 on IN-1k
(paper Table 3, 1600 epochs, normalised pixels; FINETUNE.md's released checkpoint: 83.66).
"""
from mae_core.engine.pretrain_config import DataConfig, ModelConfig, OptimConfig, PretrainConfig, TrainConfig

config = PretrainConfig(
    model=ModelConfig(encoder="vit_base_patch16", img_size=224, decoder_embed_dim=512, decoder_depth=8,
                      decoder_num_heads=16, mask_ratio=0.75, target="norm_pixel"),
    data=DataConfig(augmentation="random_resized_crop", crop_min_scale=0.2, num_workers=10),
    optim=OptimConfig(base_lr=1.5e-4, weight_decay=0.05, betas=(0.9, 0.95), warmup_epochs=40),
    train=TrainConfig(epochs=1600, batch_size=64, accum_iter=8, precision="bf16", save_every_steps=1000),
)
