"""A short fine-tune through the classification transfer (``run_finetune``): the ``ft`` column of the small-scale
ablation tables and the classification cells of the target study.

The paper's recipe (AdamW, layer-wise lr decay, warmup + cosine per step, label smoothing, random-resized-crop +
flip, global average pooling) at a budget of `steps` optimizer steps: one epoch over the first
``ceil(steps * batch / classes)`` training images of every class; no RandAugment, mixup, cutmix, random erasing or
drop path, which only pay off over long schedules. Evaluation keeps the image size (``crop_pct=1``).
"""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

from mae_core.config import apply_overrides

from .config import ClassificationConfig
from .finetune import run_finetune


def short_finetune_config(img_size: int, mean, std, steps: int = 100, batch_size: int = 64, base_lr: float = 2e-3,
                          layer_decay: float = 0.75, test_per_class: int = 200, num_classes: int = 10,
                          dataset: str = "fashion_mnist", seed: int = 0, crop_min_scale: float = 0.35,
                          overrides: list[str] | None = None) -> ClassificationConfig:
    """The short recipe as a ClassificationConfig (typed settings; ``overrides``: further ``key=value`` settings
    from a command line)."""
    cfg = ClassificationConfig()
    train_per_class = math.ceil(steps * batch_size / num_classes)
    cfg = apply_overrides(cfg, {
        "data.dataset": dataset, "data.num_classes": num_classes, "data.input_size": img_size,
        "data.mean": tuple(mean), "data.std": tuple(std), "data.crop_pct": 1.0, "data.scale": (crop_min_scale, 1.0),
        "data.auto_augment": "", "data.reprob": 0.0, "data.train_limit": train_per_class,
        "data.val_limit": test_per_class, "data.num_workers": 0, "model.drop_path": 0.0, "model.replace_head": True,
        "finetune.epochs": 1, "finetune.batch_size": batch_size, "finetune.blr": base_lr,
        "finetune.layer_decay": layer_decay, "finetune.warmup_epochs": 0.1, "finetune.min_lr": 0.0,
        "finetune.mixup": 0.0, "finetune.cutmix": 0.0, "finetune.smoothing": 0.1, "finetune.seed": seed})
    if overrides:
        cfg = apply_overrides(cfg, overrides)
    cfg.validate()
    return cfg


def short_finetune(checkpoint: str | os.PathLike, output_dir: str | os.PathLike, img_size: int, mean, std,
                   data_path: str = "fashion-mnist", resume: bool = True, **recipe) -> dict:
    """Fine-tunes the checkpoint's encoder with the short recipe (``recipe``: arguments of
    :func:`short_finetune_config`) into `output_dir` (resumable) -> {"top1", "top5", "steps", "batch_size",
    "test_images", ...}."""
    cfg = short_finetune_config(img_size, mean, std, **recipe)
    metrics = run_finetune(cfg, data_path, str(output_dir), pretrained=str(checkpoint),
                           resume="auto" if resume else None)
    log = (Path(output_dir) / "log.jsonl").read_text().splitlines()   # the epoch record of the run
    return {"top1": round(metrics["top1"], 2), "top5": round(metrics["top5"], 2),
            "steps": json.loads(log[-1])["steps"], "batch_size": cfg.finetune.batch_size,
            "lr": cfg.finetune.blr * cfg.finetune.batch_size / 256, "test_images": metrics["num_samples"],
            "output_dir": str(output_dir)}
