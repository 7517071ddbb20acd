"""The transfer study's classification recipe (tools/transfer_study.py): fine-tuning on the scenes' item crops
resized to 48 px (the larger items' size in the scenes; a 6 x 6 grid at patch 8), ImageNet normalisation as the
in-domain MAE saw, flips and random resized crops only: RandAugment, mixup, cutmix and erasing pay off only over
long schedules. blr 5e-3: at about 200 steps blr 1e-3 and 3e-3 gave 29.0% and 38.1% top-1 from the in-domain MAE
(docs/results/transfer_study_pilot.md), the small-scale target study's best was 1e-2; the study also runs 3x.
The model (size, patch) comes from the checkpoint given with --pretrained.
Expected: docs/results/transfer_study.md (measured, per arm and seed).

    python tools/finetune.py --config configs/classification/transfer_study.py \
        --data-path runs/transfer_study/data/folders --pretrained CKPT --output-dir runs/cls_study
"""
from transfer.classification.config import ClassificationConfig, DataConfig, FinetuneConfig, ModelConfig

config = ClassificationConfig(
    model=ModelConfig(name="vit_demo_patch4", global_pool="avg", drop_path=0.1),
    data=DataConfig(dataset="folder", num_classes=10, input_size=48, crop_pct=1.0, scale=(0.35, 1.0),
                    auto_augment="", reprob=0.0, num_workers=1),
    finetune=FinetuneConfig(epochs=10, batch_size=64, blr=5e-3, warmup_epochs=1, layer_decay=0.75, min_lr=1e-6,
                            mixup=0.0, cutmix=0.0, smoothing=0.1),
)
