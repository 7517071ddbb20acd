"""Command-line front ends shared by the tools: common flags (--config, --output-dir, --resume, --eval-only) and
``key=value`` overrides, then a hand-off to a library function."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from mae_core.config import ConfigError, load_config
from mae_core.data.datasets import DataError


def base_parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--config", required=True, help="a Python config file")
    p.add_argument("--output-dir", required=True, help="checkpoints, logs and metrics.json go here")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="resume from OUTPUT_DIR's last checkpoint when there is one (default on)")
    p.add_argument("--eval-only", action="store_true", help="evaluate only")
    p.add_argument("overrides", nargs="*", help="config overrides, section.key=value")
    return p


def setup_logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        datefmt="%H:%M:%S")


def pretrain_main(argv: list[str] | None = None) -> int:
    p = base_parser("MAE pretraining")
    p.add_argument("--data-path", default=None, help="folder of images, Fashion-MNIST IDX folder, or 'fashion-mnist'")
    args = p.parse_args(argv)
    setup_logging()
    from mae_core.engine.trainer import pretrain
    try:
        cfg = load_config(args.config, args.overrides + ([f"data.path={args.data_path}"] if args.data_path else []))
        if args.eval_only:
            raise ConfigError("--eval-only has no meaning for pretraining; use tools/linprobe.py or tools/finetune.py")
        metrics = pretrain(cfg, args.output_dir, resume=args.resume)
    except (ConfigError, DataError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(metrics))
    return 0
