"""A micro MAE that runs on any small image folder in seconds (tests, CI smoke).

Command: python tools/pretrain.py --config configs/pretrain/smoke.py --data-path DIR --output-dir runs/smoke
"""
from mae_core.engine.pretrain_config import DataConfig, ModelConfig, OptimConfig, PretrainConfig, TrainConfig

config = PretrainConfig(
    model=ModelConfig(encoder="vit_micro_patch4", img_size=32, patch_size=4, decoder_embed_dim=32, decoder_depth=1,
                      decoder_num_heads=4, target="norm_pixel"),
    data=DataConfig(path="", num_workers=0, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)),
    optim=OptimConfig(base_lr=1.5e-3, warmup_epochs=1),
    train=TrainConfig(epochs=2, batch_size=16, log_every=5, vis_every_steps=0),
)
