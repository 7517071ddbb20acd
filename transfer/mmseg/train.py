"""Train / evaluate / resume an mmseg segmentor from a config of ``configs/ade20k`` on an ADE20K-layout root.

Everything runs through mmengine's ``Runner`` (training loop, checkpoints, resume, launcher) and mmseg's
``IoUMetric``; this module only fills the config from an :class:`AdeJob` (typed, built by the command line of
``transfer.mmseg.cli`` or by a study), checks the data first and writes ``metrics.json`` (``mIoU``, ``aAcc``,
``mAcc`` in percent, plus what produced them) to the output folder.
"""
from __future__ import annotations

import contextlib
import importlib
import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from mmengine.hooks import Hook

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.checkpoint.io import CheckpointMismatchError
from mae_core.engine.run_state import precision_choice
from mae_core.overrides import ConfigError, apply_tree_overrides

from . import ensure_mmcv_ops  # noqa: F401  (stand-in before mmseg)
from .data import SPLITS, check_ade_root, dataset_overrides

logger = logging.getLogger(__name__)

AMP_ONLY_KEYS = ("loss_scale", "dtype", "use_fsdp")
# what a Runner checkpoint's message hub and meta may hold beyond tensors (read with torch.load(weights_only=True))
TRUSTED_MODULES = ("mmengine.", "numpy", "collections", "builtins", "_codecs", "torch.")


@dataclass
class AdeJob:
    """One training / evaluation run. ``overrides``: {dotted key: value} (typed values, or command-line text)."""
    config: str
    data_path: str
    output_dir: str
    num_classes: int = 150
    pretrained: str | None = None
    resume: bool = True           # continue from OUTPUT_DIR's last checkpoint when there is one
    eval_only: bool = False       # evaluate OUTPUT_DIR's last checkpoint (or load_from=PATH)
    launcher: str | None = None   # none | pytorch | slurm | mpi; default: pytorch when WORLD_SIZE > 1
    seed: int | None = None       # mmengine's randomness.seed
    overrides: dict[str, Any] = field(default_factory=dict)


def cpu_amp(ow, width: int) -> dict:
    """``optim_wrapper`` of type AmpOptimWrapper (mixed precision; mmengine's asks for a GPU) on a CPU, changed in
    place: bf16 autocast (CpuBf16OptimWrapper; a ``dtype`` of float16 is a GPU's, there is no fast fp16 on a CPU)
    where :func:`mae_core.engine.run_state.precision_choice` ('auto': AMX, or AVX-512 bf16 and measured at the
    backbone's `width`) finds it the faster, else plain fp32 OptimWrapper; loss scaling dropped (bf16 keeps fp32's
    range) -> the choice {"precision", "chosen_by", "bf16_speedup"}, as detectron2's ``train.amp`` on a CPU."""
    choice = precision_choice("auto", torch.device("cpu"), "AmpOptimWrapper precision", dim=width)
    dropped = {k: ow.pop(k) for k in AMP_ONLY_KEYS if k in ow}
    ow.type = "CpuBf16OptimWrapper" if choice["precision"] == "bf16" else "OptimWrapper"
    logger.info("AmpOptimWrapper on the CPU: training in %s (%s)%s", choice["precision"], choice["chosen_by"],
                f"; not used here: {dropped}" if dropped else "")
    return choice


def _last_checkpoint(output_dir: str) -> str | None:
    last = Path(output_dir) / "last_checkpoint"
    return last.read_text().strip() if last.is_file() else None


def build_config(job: AdeJob):
    """The mmengine Config of ``job.config`` with data root, classes, pretrained weights, output folder, overrides."""
    from mmengine.config import Config
    if not Path(job.config).is_file():
        raise FileNotFoundError(f"--config: mmengine config file not found: {job.config}")
    cfg = Config.fromfile(job.config)
    if "fp16" in cfg:
        raise ConfigError(f"{job.config}: `fp16=` is not read here: turn AMP on with "
                          "optim_wrapper.type='AmpOptimWrapper'")
    # Config's own dict (a ConfigDict) is the tree the one override grammar walks
    apply_tree_overrides(cfg._cfg_dict, job.overrides, where=str(job.config))
    ow = cfg.optim_wrapper
    if ow.get("type") != "AmpOptimWrapper":
        dropped = [k for k in AMP_ONLY_KEYS if ow.pop(k, None) is not None]
        if dropped:
            logger.info("AMP off (optim_wrapper.type=%s): ignoring %s", ow.get("type"), dropped)
        cfg.training_precision = {"precision": "fp32", "chosen_by": f"optim_wrapper.type={ow.get('type')}"}
    elif not torch.cuda.is_available():
        cfg.training_precision = cpu_amp(ow, cfg.model.backbone.get("embed_dim", 192))
    else:
        half = "bf16" if str(ow.get("dtype")).endswith("bfloat16") else "fp16"
        cfg.training_precision = {"precision": half, "chosen_by": "cuda"}
    ds = dataset_overrides(job.data_path, job.num_classes)
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        if cfg.get(loader) is not None:
            cfg[loader].dataset.update(ds)
    for head in ("decode_head", "auxiliary_head"):
        if cfg.model.get(head) is not None:
            cfg.model[head].num_classes = job.num_classes
    if job.pretrained:
        if not Path(job.pretrained).is_file():
            raise FileNotFoundError(f"--pretrained checkpoint not found: {job.pretrained}")
        cfg.model.backbone.pretrained = str(job.pretrained)
    if job.seed is not None:
        cfg.randomness = dict(seed=job.seed)
    cfg.work_dir = str(job.output_dir)
    if cfg.get("visualizer") is not None:   # mmengine keeps one visualizer per name and process: a run of its own
        cfg.visualizer.name = f"visualizer_{os.getpid()}_{time.time_ns()}"
    cfg.launcher = job.launcher or ("pytorch" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "none")
    last = _last_checkpoint(job.output_dir)
    cfg.resume = bool(job.resume and last and not job.eval_only)
    if job.eval_only and cfg.get("load_from") is None:
        if last is None:
            raise FileNotFoundError(f"--eval-only: no checkpoint in {job.output_dir} (no last_checkpoint); pass "
                                    "load_from=PATH to evaluate another")
        cfg.load_from = last
    elif cfg.resume and cfg.get("load_from") is None:
        cfg.load_from = last
    return cfg


@contextlib.contextmanager
def runner_checkpoint_globals(path: str | None):
    """Lets torch.load(weights_only=True) (the default since torch 2.6; mmengine 0.10 passes no flag) read a Runner
    checkpoint, whose message hub holds mmengine and numpy objects: the globals that file names are allowed for the
    duration of the block, if each comes from a module in ``TRUSTED_MODULES``. Nothing process-wide stays set."""
    if not path or not Path(path).is_file():
        yield
        return
    allowed = []
    for name in torch.serialization.get_unsafe_globals_in_checkpoint(path):
        if not name.startswith(TRUSTED_MODULES):
            raise CheckpointMismatchError(f"{path}: refers to {name}, which a Runner checkpoint of this tool does not "
                                          "hold; not loading it")
        allowed.append(_import_global(name))
        if name == "numpy.dtype":  # an array's dtype unpickles as its class (numpy.dtypes.Int64DType, ...)
            import numpy as np
            allowed += [v for v in vars(np.dtypes).values() if isinstance(v, type)]
    with torch.serialization.safe_globals(allowed):
        yield


def _import_global(name: str) -> Any:
    parts = name.split(".")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # pickles name numpy.core.*, now numpy._core
        for i in range(len(parts) - 1, 0, -1):
            try:
                obj = importlib.import_module(".".join(parts[:i]))
            except ImportError:
                continue
            for attr in parts[i:]:
                obj = getattr(obj, attr)
            return obj
    raise CheckpointMismatchError(f"cannot import {name}")


class _LastValMetrics(Hook):
    """Keeps the metrics of the latest validation."""

    def __init__(self) -> None:
        self.metrics: dict | None = None
        self.iter = -1

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        self.metrics, self.iter = dict(metrics or {}), runner.iter


def run(job: AdeJob) -> dict:
    """Checks the data, trains (unless eval_only), evaluates on the validation split, writes metrics.json."""
    cfg = build_config(job)
    check_ade_root(job.data_path, job.num_classes, splits=("validation",) if job.eval_only else SPLITS)
    from mmengine.dist import is_main_process
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    record = _LastValMetrics()
    runner.register_hook(record, priority="LOWEST")
    t0 = time.time()
    with runner_checkpoint_globals(cfg.get("load_from") if (cfg.resume or job.eval_only) else None):
        if not job.eval_only:
            runner.train()
        # The train loop validates after its last iteration; evaluate again only when it did not.
        metrics = record.metrics if record.metrics and record.iter == runner.iter else runner.test()
    wall = time.time() - t0
    out = {k: float(metrics[k]) for k in ("mIoU", "aAcc", "mAcc")}
    out.update(mode=cfg.model.test_cfg.get("mode", "whole"), iters=int(runner.iter), wall_s=round(wall, 1),
               config=str(job.config), pretrained=job.pretrained, eval_only=bool(job.eval_only),
               num_classes=job.num_classes, checkpoint=cfg.get("load_from"),
               precision=cfg.training_precision["precision"], precision_choice=cfg.training_precision)
    if is_main_process():
        path = atomic_write_json(out, Path(job.output_dir) / "metrics.json")
        logger.info("wrote %s: mIoU %.2f aAcc %.2f mAcc %.2f", path, out["mIoU"], out["aAcc"], out["mAcc"])
    return out
