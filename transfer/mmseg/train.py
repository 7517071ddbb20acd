"""Train / evaluate / resume an mmseg segmentor from a config of ``configs/ade20k`` on an ADE20K-layout root.

Everything runs through mmengine's ``Runner`` (training loop, checkpoints, resume, launcher) and mmseg's
``IoUMetric``; this module only fills the config from the command line, checks the data first and writes
``metrics.json`` (``mIoU``, ``aAcc``, ``mAcc`` in percent, plus what produced them) to the output folder.
"""
from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import logging
import os
import time
from pathlib import Path

from mmengine.hooks import Hook  # noqa: E402

from . import ensure_mmcv_ops  # noqa: F401  (stand-in before mmseg)
from .data import SPLITS, check_ade_root, dataset_overrides

logger = logging.getLogger(__name__)

AMP_ONLY_KEYS = ("loss_scale", "dtype", "use_fsdp")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True, help="an mmengine config file (configs/ade20k/*.py)")
    p.add_argument("--data-root", required=True, help="ADE20K layout: images/{training,validation}/*.jpg, "
                                                      "annotations/{training,validation}/*.png")
    p.add_argument("--num-classes", type=int, default=150, help="classes 1..N in the annotations (0 is ignored)")
    p.add_argument("--pretrained", default=None, help="MAE checkpoint for the backbone (ours or official)")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint in --output-dir")
    p.add_argument("--eval-only", action="store_true",
                   help="evaluate the last checkpoint in --output-dir (or load_from=PATH) on the validation split")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default=None,
                   help="multi-GPU: 'pytorch' under torchrun (default: pytorch when WORLD_SIZE > 1)")
    p.add_argument("overrides", nargs="*", default=[], help="key=value config overrides, e.g. train_cfg.max_iters=100")
    return p.parse_args(argv)


def _set_checked(cfg, key: str, value) -> None:
    """cfg[key] = value for a dotted key whose parent and leaf exist; a typo is a KeyError naming the nearest key."""
    node, parts = getattr(cfg, "_cfg_dict", cfg), key.split(".")
    for i, part in enumerate(parts):
        if not isinstance(node, dict) or part not in node:
            options = list(node.keys()) if isinstance(node, dict) else []
            near = difflib.get_close_matches(part, options, n=1)
            hint = f"; did you mean {'.'.join(parts[:i] + near)!r}?" if near else ""
            raise KeyError(f"config has no key {'.'.join(parts[:i + 1])!r}{hint}")
        if i < len(parts) - 1:
            node = node[part]
    node[parts[-1]] = value


def apply_overrides(cfg, overrides: list[str]) -> None:
    from mmengine.config import DictAction
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"override {item!r} is not key=value")
        key, val = item.split("=", 1)
        _set_checked(cfg, key, DictAction._parse_iterable(val))


def build_config(args: argparse.Namespace):
    """The mmengine Config of `args.config` with data root, classes, pretrained weights, output folder, overrides."""
    from mmengine.config import Config
    cfg = Config.fromfile(args.config)
    if "fp16" in cfg:
        raise KeyError("`fp16=` is not read here: turn AMP on with optim_wrapper.type='AmpOptimWrapper'")
    apply_overrides(cfg, args.overrides)
    ow = cfg.optim_wrapper
    if ow.get("type") != "AmpOptimWrapper":
        dropped = [k for k in AMP_ONLY_KEYS if ow.pop(k, None) is not None]
        if dropped:
            logger.info("AMP off (optim_wrapper.type=%s): ignoring %s", ow.get("type"), dropped)
    else:
        import torch
        if not torch.cuda.is_available():
            raise RuntimeError("this config trains with AMP (AmpOptimWrapper), which needs a GPU; on a CPU pass "
                               "optim_wrapper.type=OptimWrapper")
    ds = dataset_overrides(args.data_root, args.num_classes)
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        if cfg.get(loader) is not None:
            cfg[loader].dataset.update(ds)
    for head in ("decode_head", "auxiliary_head"):
        if cfg.model.get(head) is not None:
            cfg.model[head].num_classes = args.num_classes
    if args.pretrained:
        if not Path(args.pretrained).is_file():
            raise FileNotFoundError(f"--pretrained checkpoint not found: {args.pretrained}")
        cfg.model.backbone.pretrained = str(args.pretrained)
    cfg.work_dir = str(args.output_dir)
    launcher = args.launcher or ("pytorch" if int(os.environ.get("WORLD_SIZE", "1")) > 1 else "none")
    cfg.launcher = launcher
    cfg.resume = bool(args.resume)
    if args.resume or args.eval_only:
        last = Path(args.output_dir) / "last_checkpoint"
        if cfg.get("load_from") is None:
            if not last.is_file():
                raise FileNotFoundError(f"{'--resume' if args.resume else '--eval-only'}: no checkpoint in "
                                        f"{args.output_dir} (no {last.name}); pass load_from=PATH to evaluate another")
            cfg.load_from = last.read_text().strip()
    return cfg


@contextlib.contextmanager
def _full_unpickling(enabled: bool):
    """Resuming / evaluating reads a Runner checkpoint (by default this output folder's) whose message hub holds
    mmengine objects that torch.load(weights_only=True), the default since torch 2.6, refuses; mmengine 0.10 does not
    pass the flag. Trust: these files are written by the Runner of this tool."""
    key = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
    old = os.environ.get(key)
    if enabled:
        os.environ[key] = "1"
    try:
        yield
    finally:
        if enabled:
            os.environ.pop(key) if old is None else os.environ.__setitem__(key, old)


class _LastValMetrics(Hook):
    """Keeps the metrics of the latest validation."""

    def __init__(self) -> None:
        self.metrics: dict | None = None
        self.iter = -1

    def after_val_epoch(self, runner, metrics: dict | None = None) -> None:
        self.metrics, self.iter = dict(metrics or {}), runner.iter


def run(argv: list[str] | None = None) -> dict:
    """Checks the data, trains (unless --eval-only), evaluates on the validation split, writes metrics.json."""
    args = parse_args(argv)
    cfg = build_config(args)
    check_ade_root(args.data_root, args.num_classes, splits=("validation",) if args.eval_only else SPLITS)
    from mmengine.dist import is_main_process
    from mmengine.runner import Runner
    runner = Runner.from_cfg(cfg)
    record = _LastValMetrics()
    runner.register_hook(record, priority="LOWEST")
    t0 = time.time()
    with _full_unpickling(args.resume or args.eval_only):
        if not args.eval_only:
            runner.train()
        # The train loop validates after its last iteration; evaluate again only when it did not.
        metrics = record.metrics if record.metrics and record.iter == runner.iter else runner.test()
    wall = time.time() - t0
    out = {k: float(metrics[k]) for k in ("mIoU", "aAcc", "mAcc")}
    out.update(mode=cfg.model.test_cfg.get("mode", "whole"), iters=int(runner.iter), wall_s=round(wall, 1),
               config=str(args.config), pretrained=args.pretrained, eval_only=bool(args.eval_only),
               num_classes=args.num_classes, checkpoint=cfg.get("load_from"))
    if is_main_process():
        path = Path(args.output_dir) / "metrics.json"
        path.write_text(json.dumps(out, indent=2))
        logger.info("wrote %s: mIoU %.2f aAcc %.2f mAcc %.2f", path, out["mIoU"], out["aAcc"], out["mAcc"])
    return out
