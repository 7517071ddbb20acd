"""The transfer study's in-domain MAE (tools/transfer_study.py): the demo-sized model (encoder 192 x 6, decoder
128 x 2) at the transfer resolution, 128 px at patch 8 (a 16 x 16 grid, as the paper's 224 px at patch 16 is
14 x 14), pretrained on the train scenes' images (no labels). The study sets the data path, steps and batch. The
scenes (one size) are decoded into memory once and cropped in batches on tensors in the training process
(``data.tensor_augmentation``; no loader worker to compete with the step for 2 cores).

    python tools/pretrain.py --config configs/pretrain/transfer_study.py \
        --data-path runs/transfer_study/data/coco/train --output-dir runs/mae_scenes train.max_steps=1200

Expected: its final loss and the transfers it gives, per seed, are in docs/results/transfer_study.md.
"""
from mae_core.engine.pretrain_config import DataConfig, ModelConfig, OptimConfig, PretrainConfig, TrainConfig

config = PretrainConfig(
    model=ModelConfig(encoder="vit_demo_patch4", img_size=128, patch_size=8, decoder_embed_dim=128, decoder_depth=2,
                      decoder_num_heads=4, mask_ratio=0.75, target="norm_pixel"),
    data=DataConfig(augmentation="random_resized_crop", crop_min_scale=0.2, num_workers=0, tensor_augmentation=True),
    optim=OptimConfig(base_lr=1.5e-3, weight_decay=0.05, betas=(0.9, 0.95), warmup_epochs=2),
    train=TrainConfig(epochs=40, batch_size=64, precision="auto", log_every=20, vis_every_steps=400),
)
