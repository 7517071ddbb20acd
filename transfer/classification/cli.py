"""The command line shared by ``tools/finetune.py`` and ``tools/linprobe.py``."""
from __future__ import annotations

import argparse
import logging
import os

from mae_core.config import load_config

from .config import ClassificationConfig


def parse(description: str, argv: list[str] | None = None) -> tuple[argparse.Namespace, ClassificationConfig]:
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--config", required=True, help="a Python config file defining `config`")
    ap.add_argument("--data-path", required=True, help="data root (ImageNet style: train/ and val/ class folders)")
    ap.add_argument("--dataset", default=None, help="folder, inat2017, inat2018, inat2019, places205, places365 "
                                                    "(overrides data.dataset)")
    ap.add_argument("--pretrained", default=None, help="checkpoint: this project's, or an official MAE file")
    ap.add_argument("--output-dir", required=True)
    ap.add_argument("--resume", nargs="?", const="auto", default=None,
                    help="a run checkpoint; without a value: OUTPUT_DIR/checkpoint.pth if present")
    ap.add_argument("--eval-only", action="store_true", help="evaluate --resume or --pretrained, no training")
    ap.add_argument("overrides", nargs="*", help="key=value config overrides (e.g. finetune.epochs=3)")
    args = ap.parse_args(argv)
    overrides = list(args.overrides) + ([f"data.dataset={args.dataset}"] if args.dataset else [])
    cfg = load_config(args.config, overrides)
    rank = int(os.environ.get("RANK", "0"))
    logging.basicConfig(level=logging.INFO if rank == 0 else logging.WARNING,
                        format=f"%(asctime)s [r{rank}] %(name)s: %(message)s")
    return args, cfg
