"""The dense transfers of a study cell, one implementation for every study (the target study, the transfer study):
a recipe of ``configs/coco`` or ``configs/ade20k`` at a given budget, from a given encoder checkpoint, into a cell's
work folder (a rerun resumes it) -> its figures. detectron2 and mmseg are imported only when a transfer runs.

Both go through the tools' own library entry points (``transfer.detectron2.train``, ``transfer.mmseg.train``) with
typed overrides of the one grammar; the schedule keeps the recipe's shape at the budget's length.
"""
from __future__ import annotations

import math
import time
from collections.abc import Sequence
from pathlib import Path


def finite(v) -> float:
    """detectron2 reports AP as NaN when there is nothing to score: counted as 0.0 (tables say so)."""
    v = float("nan") if v is None else float(v)
    return 0.0 if math.isnan(v) else round(v, 2)


def device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def coco_files(root: str | Path) -> dict[str, tuple[str, str]]:
    """The scene composer's COCO root -> {"train" | "val": (annotation json, image folder)}."""
    root = Path(root)
    return {s: (str(root / "annotations" / f"{s}.json"), str(root / s)) for s in ("train", "val")}


def coco_transfer(config: str, data: dict[str, tuple[str, str]], work: Path, checkpoint: str, iters: int, seed: int,
                  lr_scale: float = 1.0) -> dict:
    """Mask R-CNN (detectron2) of `config` for `iters` iterations at ``lr_scale`` x the recipe's lr, from
    `checkpoint`; data: {"train" | "val": (annotation json, image folder)}.
    -> {"bbox_AP", "segm_AP", "lr", "steps", "batch", "wall_s", "resumed", "metrics"}."""
    from transfer.detectron2 import compat
    compat.apply()
    from detectron2.config import LazyConfig
    from detectron2.utils.env import seed_all_rng

    from transfer.detectron2.train import apply_overrides, setup_data, train
    if iters < 3:
        raise ValueError(f"coco iterations must be >= 3 (the step schedule drops the lr at 80%), got {iters}")
    work.mkdir(parents=True, exist_ok=True)
    cfg = LazyConfig.load(config)
    lr = float(cfg.optimizer.lr) * lr_scale
    cfg = apply_overrides(cfg, {"train.max_iter": iters, "train.seed": seed, "train.device": device(),
                                "optimizer.lr": lr, "lr_multiplier.warmup_iters": max(1, min(30, iters // 10)),
                                "train.checkpointer.period": max(1, min(iters, 50))}, where=config)
    cfg.train.output_dir = str(work)
    setup_data(cfg, *data["train"], *data["val"], str(work))
    seed_all_rng(seed)
    resumed = (work / "last_checkpoint").is_file()
    t0 = time.time()
    res = train(cfg, str(work), resume=resumed, pretrained=checkpoint)
    return {"bbox_AP": finite(res.get("bbox", {}).get("AP")), "segm_AP": finite(res.get("segm", {}).get("AP")),
            "lr": lr, "steps": iters, "batch": int(cfg.dataloader.train.total_batch_size),
            "wall_s": round(time.time() - t0, 1), "resumed": resumed, "metrics": res}


def ade_schedule(iters: int) -> dict:
    """Overrides that give an mmseg recipe `iters` iterations: linear warm-up (10 iterations at most), poly decay,
    one validation and one checkpoint kept at the end (every 100 iterations for resume)."""
    if iters < 1:
        raise ValueError(f"ade20k iterations must be >= 1, got {iters}")
    warm = max(1, min(10, iters // 2))
    schedule = [dict(type="LinearLR", start_factor=1e-3, by_epoch=False, begin=0, end=warm)]
    if iters > warm:
        schedule.append(dict(type="PolyLR", eta_min=0.0, power=1.0, begin=warm, end=iters, by_epoch=False))
    return {"max_iters": iters, "param_scheduler": schedule, "train_cfg.max_iters": iters,
            "train_cfg.val_interval": iters, "default_hooks.checkpoint.interval": max(1, min(iters, 100)),
            "default_hooks.checkpoint.max_keep_ckpts": 1}


def ade_recipe(config: str, options: Sequence[str] = ()):
    """The mmseg Config of `config` with `options` (``key=value`` overrides of the recipe, the same for every arm)
    applied; an unknown key or a bad value is a ConfigError naming it (checked before a study starts)."""
    from mmengine.config import Config

    from mae_core.overrides import apply_tree_overrides
    base = Config.fromfile(config)
    apply_tree_overrides(base._cfg_dict, list(options), where=f"--ade-options of {config}")
    return base


def ade_overrides(config: str, iters: int, lr_scale: float = 1.0,
                  options: Sequence[str] = ()) -> tuple[dict, float, int]:
    """The overrides of one UperNet run: `options`, then `iters` iterations (ade_schedule) at ``lr_scale`` x the
    recipe's lr (the lr after `options`). -> (overrides, lr, batch)."""
    from mae_core.overrides import split_overrides
    base = ade_recipe(config, options)
    lr = float(base.optim_wrapper.optimizer.lr) * lr_scale
    overrides = {**split_overrides(list(options)), **ade_schedule(iters), "optim_wrapper.optimizer.lr": lr}
    return overrides, lr, int(base.train_dataloader.batch_size)


def ade_transfer(config: str, data_root: str, num_classes: int, work: Path, checkpoint: str, iters: int, seed: int,
                 lr_scale: float = 1.0, options: Sequence[str] = ()) -> dict:
    """UperNet (mmseg) of `config` (with the ``key=value`` `options`) on an ADE-layout root for `iters` iterations at
    ``lr_scale`` x the recipe's lr, from `checkpoint`. -> {"mIoU", "lr", "steps", "batch", "wall_s", "metrics"}."""
    from transfer.mmseg.train import AdeJob, run
    overrides, lr, batch = ade_overrides(config, iters, lr_scale, options)
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    res = run(AdeJob(config=str(config), data_path=str(data_root), output_dir=str(work), num_classes=num_classes,
                     pretrained=checkpoint, resume=True, seed=seed, overrides=overrides))
    return {"mIoU": finite(res["mIoU"]), "lr": lr, "steps": iters, "batch": batch, "wall_s": round(time.time() - t0, 1),
            "metrics": res}
