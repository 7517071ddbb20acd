"""``mae-train-ade20k`` (tools/train_ade20k.py): the shared flags -> an :class:`AdeJob` -> :func:`run`."""
from __future__ import annotations

import argparse
import json

from mae_core.cli import base_parser, parse_overrides, setup_logging, tool_main

from .train import AdeJob, run


def build_parser() -> argparse.ArgumentParser:
    p = base_parser("ADE20K semantic segmentation (UperNet, mmseg) with an MAE-pretrained ViT",
                    data_path="ADE20K layout: images/{training,validation}/*.jpg, annotations/{training,validation}/"
                              "*.png", pretrained=True)
    p.add_argument("--data-root", dest="data_path", help=argparse.SUPPRESS)  # the name this tool had before
    p.add_argument("--num-classes", type=int, default=150, help="classes 1..N in the annotations (0 is ignored)")
    p.add_argument("--launcher", choices=["none", "pytorch", "slurm", "mpi"], default=None,
                   help="multi-GPU: 'pytorch' under torchrun (default: pytorch when WORLD_SIZE > 1)")
    return p


def job_from_args(args: argparse.Namespace) -> AdeJob:
    if not args.data_path:
        raise FileNotFoundError("--data-path is required (an ADE20K-layout root)")
    return AdeJob(config=args.config, data_path=args.data_path, output_dir=args.output_dir,
                  num_classes=args.num_classes, pretrained=args.pretrained, resume=args.resume,
                  eval_only=args.eval_only, launcher=args.launcher, overrides=parse_overrides(args.overrides))


@tool_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    print(json.dumps(run(job_from_args(args)), default=str))
    return 0
