"""The paper's classification recipes as config builders (reference.md; paper Table 9 and appendix A).

Fine-tuning (IN-1k): batch 1024, blr 5e-4, wd 0.05, warmup 5, RandAug m9 mstd0.5, mixup 0.8, cutmix 1.0, label
smoothing 0.1, random erasing 0.25, average pool + LayerNorm; ViT-B 100 epochs / layer decay 0.65 / drop path 0.1,
ViT-L 50 / 0.75 / 0.2, ViT-H 50 / 0.75 / 0.3. Linear probe: cls token, BatchNorm without affine, LARS, batch 16384,
blr 0.1, wd 0, 90 epochs, warmup 10.
"""
from __future__ import annotations

from .config import ClassificationConfig, DataConfig, FinetuneConfig, LinprobeConfig, ModelConfig

# name -> (epochs, layer decay, drop path)
FINETUNE_BY_SIZE = {"vit_base_patch16": (100, 0.65, 0.1), "vit_large_patch16": (50, 0.75, 0.2),
                    "vit_huge_patch14": (50, 0.75, 0.3)}
GPUS = 32  # the paper's batch 1024 = 32 processes x 32 images; 16384 = 32 x 512 for the probe


def finetune_recipe(name: str = "vit_base_patch16", dataset: str = "folder", num_classes: int = 1000,
                    input_size: int = 224) -> ClassificationConfig:
    """The IN-1k fine-tuning recipe for a ViT size (per-process batch 32; run with 32 processes or accum_iter)."""
    epochs, layer_decay, drop_path = FINETUNE_BY_SIZE[name]
    return ClassificationConfig(
        model=ModelConfig(name=name, global_pool="avg", drop_path=drop_path),
        data=DataConfig(dataset=dataset, num_classes=num_classes, input_size=input_size, crop_pct=0.875,
                        auto_augment="rand-m9-mstd0.5-inc1", reprob=0.25, num_workers=10),
        finetune=FinetuneConfig(epochs=epochs, batch_size=1024 // GPUS, blr=5e-4, layer_decay=layer_decay,
                                weight_decay=0.05, warmup_epochs=5, mixup=0.8, cutmix=1.0, smoothing=0.1,
                                min_lr=1e-6))


def linprobe_recipe(name: str = "vit_base_patch16", dataset: str = "folder",
                    num_classes: int = 1000) -> ClassificationConfig:
    """The linear-probe recipe (per-process batch 512; 32 processes give the paper's 16384)."""
    return ClassificationConfig(
        model=ModelConfig(name=name, global_pool="token", drop_path=0.0),
        data=DataConfig(dataset=dataset, num_classes=num_classes, scale=(0.08, 1.0), num_workers=10),
        linprobe=LinprobeConfig(mode="full", pool="cls", epochs=90, batch_size=16384 // GPUS, blr=0.1,
                                weight_decay=0.0, warmup_epochs=10))
