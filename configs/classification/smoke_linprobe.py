"""Smoke linear probe of the demo ViT (vit_demo_patch4) on 28 px grayscale images (3 channels), e.g. Fashion-MNIST
folders; minutes on a CPU. linprobe.mode=fast trains on cached features (several lrs, chosen on held-out training
images), linprobe.mode=knn runs the k-NN classifier.

    python tools/linprobe.py --config configs/classification/smoke_linprobe.py --data-path data/fmnist \
        --pretrained runs/mae_fmnist.pth --output-dir runs/lin_smoke [linprobe.mode=fast]

Expected: MAE encoder above a randomly initialised one; the measured numbers are in docs/classification.md.
"""
from transfer.classification.config import ClassificationConfig, DataConfig, LinprobeConfig, ModelConfig

config = ClassificationConfig(
    model=ModelConfig(name="vit_demo_patch4"),
    data=DataConfig(num_classes=10, input_size=28, mean=(0.286,) * 3, std=(0.353,) * 3, crop_pct=1.0,
                    scale=(0.35, 1.0), num_workers=0),
    # a small data set gives few steps; LARS moves each weight matrix by about lr * 1e-3 of its norm per step, so
    # the smoke recipe raises the base lr far above the paper's 0.1 (which is for ~7,000 steps of batch 16384)
    linprobe=LinprobeConfig(epochs=10, batch_size=64, blr=10.0, warmup_epochs=1, pool="cls",
                            fast_blrs=(3.0, 10.0, 30.0, 100.0, 300.0)),
)
