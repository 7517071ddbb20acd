"""Pieces shared by the fine-tuning and probing runs: transforms, data loaders, run checkpoints, log files."""
from __future__ import annotations

import json
import logging
import os
import random
from pathlib import Path

import numpy as np
import torch
from timm.data import create_transform
from torch.utils.data import DataLoader, DistributedSampler
from torchvision import transforms as T

from mae_core.checkpoint.io import atomic_save, load_weights, package_versions
from mae_core.config import to_dict
from mae_core.data.datasets import DataError, SeededDataset

from .config import ClassificationConfig, DataConfig
from .datasets import build_dataset
from .distributed import ShardSampler

logger = logging.getLogger(__name__)


def eval_transform(d: DataConfig):
    """Resize to input_size / crop_pct (bicubic), center crop, normalize: [3, S, S]."""
    return create_transform(d.input_size, is_training=False, crop_pct=d.crop_pct, interpolation=d.interpolation,
                            mean=tuple(d.mean), std=tuple(d.std))


def _cap_posterize(tf) -> None:
    """Pillow >= 11 rejects posterize(bits=0), which timm's increasing posterize gives at magnitude 10 (reached by
    m9 + magnitude noise); capping its magnitude just below 10 keeps 1 bit instead (same op otherwise)."""
    for t in getattr(tf, "transforms", []):
        for op in getattr(t, "ops", []):
            if getattr(op, "name", "") == "PosterizeIncreasing":
                op.magnitude_max = 9.99


def finetune_transform(d: DataConfig):
    """RandomResizedCrop + flip + RandAugment + random erasing (timm's implementations)."""
    tf = create_transform(d.input_size, is_training=True, scale=tuple(d.scale), auto_augment=d.auto_augment or None,
                            interpolation=d.interpolation, re_prob=d.reprob, re_mode=d.remode, re_count=d.recount,
                            color_jitter=None, mean=tuple(d.mean), std=tuple(d.std))
    _cap_posterize(tf)
    return tf


def probe_transform(d: DataConfig):
    """The linear probe's training augmentation: RandomResizedCrop (bicubic) + horizontal flip."""
    crop = T.RandomResizedCrop(d.input_size, scale=tuple(d.scale), interpolation=T.InterpolationMode.BICUBIC)
    return T.Compose([crop, T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize(d.mean, d.std)])


def build_datasets(cfg: ClassificationConfig, data_path: str, train_tf, eval_only: bool = False):
    """-> (train dataset or None, val dataset, class names); the splits' classes must agree."""
    d = cfg.data
    mode = "L" if len(d.mean) == 1 else "RGB"   # the channel count of the normalisation
    val = build_dataset(d.dataset, data_path, "val", eval_transform(d), d.num_classes, d.val_limit, d.places_split,
                        mode)
    if eval_only:
        return None, val, val.classes
    train = build_dataset(d.dataset, data_path, "train", train_tf, d.num_classes, d.train_limit, d.places_split,
                          mode)
    if train.classes != val.classes:
        only_t = sorted(set(train.classes) - set(val.classes))[:5]
        only_v = sorted(set(val.classes) - set(train.classes))[:5]
        raise DataError(f"{data_path}: train and val classes differ (only in train: {only_t}, only in val: {only_v})")
    return train, val, train.classes


def train_loader(ds, batch_size: int, rank: int, world: int, seed: int, workers: int) -> DataLoader:
    """Shuffled per epoch (``loader.sampler.set_epoch``), samples seeded by (seed, epoch, index), last batch dropped."""
    if len(ds) < batch_size * world:
        raise DataError(f"{len(ds)} training images are fewer than one batch ({batch_size} x {world} processes)")
    seeded = SeededDataset(ds, seed + rank)
    sampler = DistributedSampler(seeded, num_replicas=world, rank=rank, shuffle=True, seed=seed, drop_last=True)
    return DataLoader(seeded, batch_size=batch_size, sampler=sampler, num_workers=workers, drop_last=True,
                      pin_memory=torch.cuda.is_available(), persistent_workers=workers > 0)


def eval_loader(ds, batch_size: int, rank: int, world: int, workers: int) -> DataLoader:
    return DataLoader(ds, batch_size=batch_size, sampler=ShardSampler(len(ds), rank, world), num_workers=workers)


def set_epoch(loader: DataLoader, epoch: int, seed: int) -> None:
    """Deterministic epoch start: sampler order, per-sample augmentation, mixup (numpy) and drop path (torch)."""
    loader.sampler.set_epoch(epoch)
    loader.dataset.set_epoch(epoch)
    random.seed(seed + epoch)
    np.random.seed((seed + epoch) % 2**32)
    torch.manual_seed(seed + epoch)


def save_run_checkpoint(path: Path, model, optimizer, epoch: int, cfg: ClassificationConfig, ema=None,
                        extra: dict | None = None) -> None:
    obj = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch,
           "config": to_dict(cfg), "manifest": {"versions": package_versions(), **(extra or {})}}
    if ema is not None:
        obj["model_ema"] = ema.module.state_dict()
    atomic_save(obj, path)


def load_run_checkpoint(path: str | os.PathLike, model, optimizer=None, ema=None) -> int:
    """Restores a run checkpoint (weights through the one loader, strict) -> the next epoch to run."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if "model" not in ckpt:
        raise DataError(f"{path}: not a run checkpoint (keys {sorted(ckpt)[:10]})")
    load_weights(model, ckpt["model"], source=str(path))
    if optimizer is not None and "optimizer" in ckpt:
        optimizer.load_state_dict(ckpt["optimizer"])
    if ema is not None and "model_ema" in ckpt:
        load_weights(ema.module, ckpt["model_ema"], source=f"{path}:model_ema")
    logger.info("resumed from %s (epoch %d done)", path, ckpt.get("epoch", -1))
    return int(ckpt.get("epoch", -1)) + 1


def resolve_resume(resume: str | None, out: Path) -> str | None:
    """'auto' -> ``out/checkpoint.pth`` when it exists (else None); a path must exist."""
    if resume == "auto":
        p = out / "checkpoint.pth"
        return str(p) if p.is_file() else None
    if resume and not Path(resume).is_file():
        raise FileNotFoundError(f"--resume: checkpoint not found: {resume}")
    return resume


def log_json(out: Path, record: dict) -> None:
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
