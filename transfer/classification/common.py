"""Pieces shared by the fine-tuning and probing runs: transforms, data loaders, run checkpoints (the pretraining
engine's run state and resume rule), log files."""
from __future__ import annotations

import json
import logging
from pathlib import Path

import torch
from timm.data import create_transform
from torch.utils.data import DataLoader, DistributedSampler
from torchvision import transforms as T

from mae_core.checkpoint.io import CheckpointMismatchError, atomic_save, load_weights, package_versions, read_checkpoint
from mae_core.config import to_dict
from mae_core.data.datasets import DataError, SeededDataset
from mae_core.data.workers import ignore_stop_signals
from mae_core.engine.run_state import LAST, PREV, resume_checkpoint, rng_state, run_info, set_rng_state
from mae_core.engine.strategy import is_fully_sharded, load_optimizer_state, load_training_state, training_state
from mae_core.engine.trainer import SkipSampler

from .config import ClassificationConfig, DataConfig
from .datasets import build_dataset
from .distributed import ShardSampler, is_main

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
    if d.train_shards:
        train = train_shards(d.train_shards, train_tf, mode)
        data_path = f"{d.train_shards} (train) and {data_path} (val)"
    else:
        train = build_dataset(d.dataset, data_path, "train", train_tf, d.num_classes, d.train_limit, d.places_split,
                              mode)
    if train.classes != val.classes:
        only_t = sorted(set(train.classes) - set(val.classes))[:5]
        only_v = sorted(set(val.classes) - set(train.classes))[:5]
        raise DataError(f"{data_path}: train and val classes differ (only in train: {only_t}, only in val: {only_v})")
    return train, val, train.classes


def train_shards(source: str, train_tf, mode: str):
    """The training split as labelled tar shards (mae_core.data.shards): each sample's bytes decoded, then `train_tf`
    (the same PIL augmentation as for image files)."""
    from mae_core.data.decode import DecodeThen
    from mae_core.data.shards import ShardDataset
    ds = ShardDataset(source, DecodeThen(train_tf, mode))
    if not ds.classes:
        raise DataError(f"data.train_shards={source}: its index.json lists no classes; write the shards from a "
                        "labelled set (tools/make_shards.py from class folders or an IDX set keeps the labels)")
    return ds


def epoch_data(ds, batch_size: int, rank: int, world: int, seed: int, workers: int):
    """The per-epoch batches of the training split: EpochData for a map-style data set, ShardEpochData for shards."""
    from mae_core.data.shards import ShardDataset
    kind = ShardEpochData if isinstance(ds, ShardDataset) else EpochData
    return kind(ds, batch_size, rank, world, seed, workers)


class ShardEpochData:
    """EpochData's interface on a ShardDataset: this rank's shards per epoch, shuffled by (seed, epoch), samples
    seeded by (seed, epoch, key); ``loader(epoch, skip)`` starts `skip` batches into the epoch without decoding
    the skipped samples; corrupt samples are skipped and counted (see mae_core.data.shards)."""

    def __init__(self, ds, batch_size: int, rank: int, world: int, seed: int, workers: int) -> None:
        ds.seed = seed
        ds.configure(rank, world)
        if ds.batches_per_rank(batch_size) < 1:
            raise DataError(f"{ds.source}: {len(ds)} training samples per process are fewer than one batch of "
                            f"{batch_size}")
        self.dataset, self.batch_size, self.workers = ds, batch_size, workers

    def batches_per_epoch(self) -> int:
        return self.dataset.batches_per_rank(self.batch_size)

    def loader(self, epoch: int, skip_batches: int = 0):
        return self.dataset.loader(epoch, skip_batches, self.batch_size, self.workers,
                                   pin_memory=torch.cuda.is_available())


class EpochData:
    """The training split as per-epoch loaders: shuffled per epoch (DistributedSampler, seed), samples seeded by
    (seed, epoch, index), last batch dropped; ``loader(epoch, skip)`` starts `skip` batches into the epoch."""

    def __init__(self, ds, batch_size: int, rank: int, world: int, seed: int, workers: int) -> None:
        if len(ds) < batch_size * world:
            raise DataError(f"{len(ds)} training images are fewer than one batch ({batch_size} x {world} processes)")
        self.dataset = SeededDataset(ds, seed + rank)
        self.sampler = DistributedSampler(self.dataset, num_replicas=world, rank=rank, shuffle=True, seed=seed,
                                          drop_last=True)
        self.batch_size, self.seed, self.workers = batch_size, seed, workers

    def batches_per_epoch(self) -> int:
        return len(self.sampler) // self.batch_size

    def loader(self, epoch: int, skip_batches: int = 0) -> DataLoader:
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)
        return DataLoader(self.dataset, batch_size=self.batch_size, drop_last=True, num_workers=self.workers,
                          worker_init_fn=ignore_stop_signals,
                          sampler=SkipSampler(self.sampler, skip_batches * self.batch_size),
                          pin_memory=torch.cuda.is_available(),
                          generator=torch.Generator().manual_seed(self.seed * 7919 + epoch))


def eval_loader(ds, batch_size: int, rank: int, world: int, workers: int) -> DataLoader:
    return DataLoader(ds, batch_size=batch_size, sampler=ShardSampler(len(ds), rank, world), num_workers=workers)


def save_run_checkpoint(out: Path, model, optimizer, step: int, cfg: ClassificationConfig, world: int,
                        batch_size: int, accum_iter: int, precision: str, ema=None, extra: dict | None = None,
                        rotate: bool = True) -> Path | None:
    """The run state of the pretraining engine: weights, optimizer, step, RNG states, run shape, manifest; written
    atomically to ``out/checkpoint-last.pth`` by rank 0, its predecessor kept as ``checkpoint-prev.pth`` -> the path
    (None on other ranks). Weights and optimizer state are full tensors by parameter name under DDP and FSDP alike."""
    state = training_state(model, optimizer, sharded=False)   # collective under FSDP: every rank calls this
    if not is_main():
        return None
    obj = {**state, "step": step, "rng": rng_state(),
           "run": run_info(world, batch_size, accum_iter), "precision": precision, "config": to_dict(cfg),
           "manifest": {"versions": package_versions(), "step": step, **(extra or {})}}
    if ema is not None:
        obj["model_ema"] = ema.module.state_dict()
    path = out / LAST
    atomic_save(obj, path, keep_previous=out / PREV if rotate else None)
    return path


def restore_run(ckpt: dict, path: Path, model, optimizer=None, ema=None) -> int:
    """Restores a run checkpoint read by the resume rule (weights through the one loader, strict; optimizer, EMA,
    RNG states) -> its step."""
    if "model" not in ckpt:
        raise DataError(f"{path}: not a run checkpoint (keys {sorted(ckpt)[:10]})")
    if optimizer is not None and "step" not in ckpt:
        raise CheckpointMismatchError(f"{path}: a checkpoint of the old epoch-based format (no 'step'); "
                                      "start over with --no-resume")
    if is_fully_sharded(model):
        load_training_state(path, model, optimizer, ckpt)
    else:
        load_weights(model, ckpt["model"], source=str(path))
        if optimizer is not None:
            load_optimizer_state(model, optimizer, ckpt["optimizer"])
    if optimizer is not None:
        set_rng_state(ckpt["rng"])
    if ema is not None and "model_ema" in ckpt:
        load_weights(ema.module, ckpt["model_ema"], source=f"{path}:model_ema")
    logger.info("resumed from %s at step %d", path, ckpt.get("step", -1))
    return int(ckpt.get("step", 0))


def find_resume(resume: bool | str | None, out: Path) -> tuple[dict, Path] | None:
    """The one resume rule: True (or 'auto') -> ``out/checkpoint-last.pth`` when there is one (falling back to
    ``checkpoint-prev.pth`` if it is damaged); False / None -> start over; a path -> that checkpoint."""
    if resume is None or resume is False:
        return None
    if resume is True or resume == "auto":
        return resume_checkpoint(out)
    return read_checkpoint(resume), Path(resume)


def log_json(out: Path, record: dict) -> None:
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps(record) + "\n")
