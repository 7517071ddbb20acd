"""The command lines of classification transfer: ``mae-finetune``, ``mae-linprobe``, ``mae-benchmark-linprobe``.

    mae-finetune --config configs/classification/smoke_finetune.py --data-path DATA --pretrained CKPT \
        --output-dir OUT [--no-resume] [--eval-only] [key=value ...]

Running the same command again resumes from OUTPUT_DIR's last checkpoint when there is one (``--no-resume`` starts
over); ``--eval-only`` evaluates that checkpoint, or ``--pretrained`` when there is none.
"""
from __future__ import annotations

import argparse
import json
from typing import Any

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.cli import base_parser, parse_overrides, setup_logging, tool_main
from mae_core.config import load_config

from .config import ClassificationConfig

DATA_HELP = "data root (ImageNet style: train/ and val/ class folders; or an iNaturalist / Places root)"


def build_parser(description: str) -> argparse.ArgumentParser:
    p = base_parser(description, data_path=DATA_HELP, pretrained=True)
    p.add_argument("--dataset", default=None, help="folder, inat2017, inat2018, inat2019, places205, places365 "
                                                   "(sets data.dataset)")
    return p


def load(args: argparse.Namespace) -> ClassificationConfig:
    """The config of ``args.config`` with the command line's overrides (``--dataset`` included)."""
    if not args.data_path:
        raise FileNotFoundError("--data-path is required (the data root)")
    overrides: dict[str, Any] = parse_overrides(args.overrides)
    if args.dataset:
        overrides["data.dataset"] = args.dataset
    return load_config(args.config, overrides)


def _resume(args: argparse.Namespace) -> bool:
    """--resume (default): continue from OUTPUT_DIR's last checkpoint when there is one; --no-resume: start over."""
    return bool(args.resume)


def _run(argv: list[str] | None, description: str, runner) -> int:
    """The common body of the fine-tuning and probing tools: parse, log, load the config, run, print the metrics."""
    args = build_parser(description).parse_args(argv)
    setup_logging()
    metrics = runner(load(args), args.data_path, args.output_dir, args.pretrained, _resume(args), args.eval_only)
    print(json.dumps(metrics, default=str))
    return 0


@tool_main
def finetune_main(argv: list[str] | None = None) -> int:
    """Full or partial (finetune.trainable_blocks=k) fine-tuning; DDP under torchrun."""
    from .finetune import run_finetune
    return _run(argv, "fine-tune a pretrained ViT for classification", run_finetune)


@tool_main
def linprobe_main(argv: list[str] | None = None) -> int:
    """Linear probing of a frozen encoder: linprobe.mode=full (paper), fast (cached features) or knn."""
    from .linprobe import run_linprobe
    return _run(argv, "linear probe of a frozen pretrained ViT", run_linprobe)


@tool_main
def benchmark_linprobe_main(argv: list[str] | None = None) -> int:
    """The full linear probe against the cached-feature probe and k-NN on the same data and budget; writes
    OUTPUT_DIR/benchmark_linprobe.json."""
    from .benchmark import benchmark_linprobe
    p = base_parser("full vs cached-feature linear probe (and k-NN)", data_path=DATA_HELP, pretrained=True,
                    resume=False, eval_only=False)
    p.add_argument("--modes", default="fast,full,knn", help="comma-separated: fast, full, knn")
    args = p.parse_args(argv)
    setup_logging()
    cfg = load(args)
    res = benchmark_linprobe(cfg, args.data_path, args.output_dir, args.pretrained,
                             tuple(m for m in args.modes.split(",") if m.strip()))
    atomic_write_json(res, f"{args.output_dir}/benchmark_linprobe.json")
    print(json.dumps(res, indent=2, default=str))
    return 0
