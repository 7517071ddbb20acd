"""The classification recipes as config builders, per ViT size (sources and deviations: docs/recipes.md).

Fine-tuning (IN-1k), the official FINETUNE.md commands (for the released 1600-epoch normalised-pixel encoders) on
main_finetune.py's defaults: batch 1024, AdamW (0.9, 0.999), wd 0.05, warmup 5, min lr 1e-6, RandAug m9 mstd0.5,
mixup 0.8, cutmix 1.0, label smoothing 0.1, random erasing 0.25, average pool + LayerNorm, the position table
trained, AMP; per size (epochs, base lr, layer decay, drop path): ViT-B 100 / 5e-4 / 0.65 / 0.1, ViT-L 50 / 1e-3 /
0.75 / 0.2, ViT-H 50 / 1e-3 / 0.75 / 0.3. Linear probe (paper Table 10, main_linprobe.py): cls token, BatchNorm
without affine, LARS, batch 16384, blr 0.1, wd 0, 90 epochs, warmup 10, min lr 0, RandomResizedCrop + flip, AMP.
"""
from __future__ import annotations

from dataclasses import dataclass

from .config import ClassificationConfig, DataConfig, FinetuneConfig, LinprobeConfig, ModelConfig, RunConfig


@dataclass(frozen=True)
class FinetuneSize:
    """The per-size values of FINETUNE.md: epochs, base lr, layer decay, drop path, batch per GPU x GPUs."""
    epochs: int
    blr: float
    layer_decay: float
    drop_path: float
    batch_per_gpu: int
    gpus: int


FINETUNE_BY_SIZE = {
    "vit_base_patch16": FinetuneSize(100, 5e-4, 0.65, 0.1, 32, 32),   # 4 nodes x 8 GPUs x 32
    "vit_large_patch16": FinetuneSize(50, 1e-3, 0.75, 0.2, 32, 32),   # 4 nodes x 8 GPUs x 32
    "vit_huge_patch14": FinetuneSize(50, 1e-3, 0.75, 0.3, 16, 64),    # 8 nodes x 8 GPUs x 16
}
FINETUNE_BATCH = 1024
PROBE_BATCH, PROBE_GPUS = 16384, 32       # 4 nodes x 8 GPUs x 512


def finetune_size(name: str) -> FinetuneSize:
    if name not in FINETUNE_BY_SIZE:
        raise KeyError(f"no fine-tuning recipe for model {name!r}; recipes exist for {', '.join(FINETUNE_BY_SIZE)}")
    return FINETUNE_BY_SIZE[name]


def finetune_recipe(name: str = "vit_base_patch16", dataset: str = "folder", num_classes: int = 1000,
                    input_size: int = 224) -> ClassificationConfig:
    """The IN-1k fine-tuning recipe of one ViT size; the per-process batch is FINETUNE.md's (32 for B/L, 16 for H):
    run with that many processes or make up the batch of 1024 with ``finetune.accum_iter``."""
    s = finetune_size(name)
    assert s.batch_per_gpu * s.gpus == FINETUNE_BATCH
    return ClassificationConfig(
        model=ModelConfig(name=name, global_pool="avg", drop_path=s.drop_path, head_init_std=2e-5,
                          learn_pos_embed=True),
        data=DataConfig(dataset=dataset, num_classes=num_classes, input_size=input_size, crop_pct=224 / 256,
                        scale=(0.08, 1.0), auto_augment="rand-m9-mstd0.5-inc1", reprob=0.25, remode="pixel",
                        recount=1, interpolation="bicubic", num_workers=10),
        finetune=FinetuneConfig(epochs=s.epochs, batch_size=s.batch_per_gpu, blr=s.blr, layer_decay=s.layer_decay,
                                weight_decay=0.05, warmup_epochs=5, min_lr=1e-6, mixup=0.8, cutmix=1.0,
                                mixup_prob=1.0, mixup_switch_prob=0.5, smoothing=0.1, clip_grad=0.0),
        train=RunConfig(precision="bf16"))


def linprobe_recipe(name: str = "vit_base_patch16", dataset: str = "folder",
                    num_classes: int = 1000) -> ClassificationConfig:
    """The linear-probe recipe (per-process batch 512; 32 processes, or linprobe.batch_size, give 16384)."""
    finetune_size(name)  # a known size
    return ClassificationConfig(
        model=ModelConfig(name=name, global_pool="token", drop_path=0.0),
        data=DataConfig(dataset=dataset, num_classes=num_classes, scale=(0.08, 1.0), crop_pct=224 / 256,
                        num_workers=10),
        linprobe=LinprobeConfig(mode="full", pool="cls", epochs=90, batch_size=PROBE_BATCH // PROBE_GPUS, blr=0.1,
                                weight_decay=0.0, momentum=0.9, warmup_epochs=10),
        train=RunConfig(precision="bf16"))


def partial_finetune_recipe(name: str = "vit_large_patch16", blocks: int = 1,
                            epochs: int = 100) -> ClassificationConfig:
    """Partial fine-tuning (paper Fig. 9, appendix A.1): the Table 9 setting (here: the size's fine-tuning recipe)
    with only the last `blocks` blocks trained and a longer schedule; the paper picks the epochs from {50, 100, 200}
    per block count without listing its choices."""
    cfg = finetune_recipe(name)
    cfg.finetune.trainable_blocks = blocks
    cfg.finetune.epochs = epochs
    return cfg
