"""Smoke fine-tuning of the demo ViT (vit_demo_patch4: 192 wide, 6 deep, 3 heads, patch 4) on 28 px grayscale
images (replicated to 3 channels), e.g. Fashion-MNIST folders; minutes on a CPU.

    python tools/make_scenes.py --output-dir data --formats items --items-per-class 1000
    python tools/finetune.py --config configs/classification/smoke_finetune.py --data-path data/items \
        --pretrained runs/mae_fmnist.pth --output-dir runs/ft_smoke

Expected: well above chance (10%) after one epoch; the measured numbers are in docs/classification.md.
"""
from transfer.classification.config import ClassificationConfig, DataConfig, FinetuneConfig, ModelConfig

config = ClassificationConfig(
    model=ModelConfig(name="vit_demo_patch4", global_pool="avg", drop_path=0.1),
    data=DataConfig(num_classes=10, input_size=28, mean=(0.286,) * 3, std=(0.353,) * 3, crop_pct=1.0,
                    scale=(0.35, 1.0), auto_augment="rand-m9-mstd0.5-inc1", reprob=0.25, num_workers=0),
    finetune=FinetuneConfig(epochs=3, batch_size=128, blr=1e-3, warmup_epochs=1, layer_decay=0.75, min_lr=1e-6,
                            mixup=0.8, cutmix=1.0, smoothing=0.1),
)
