"""``mae-train-coco`` (tools/train_coco.py): the shared flags, detectron2's ``launch`` for multi-GPU, then train or
evaluate. ``--data-path`` is a COCO root (``annotations/instances_{train,val}2017.json`` + ``{train,val}2017/``, or
``annotations/{train,val}.json`` + ``{train,val}/``); ``--{train,val}-{json,images}`` name the files one by one."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from detectron2.config import LazyConfig
from detectron2.engine import launch
from detectron2.utils import comm
from detectron2.utils.env import seed_all_rng

from mae_core.cli import base_parser, parse_overrides, setup_logging, tool_main
from mae_core.data.datasets import DataError

from .train import apply_overrides, eval_only, setup_data, train

logger = logging.getLogger(__name__)

LAYOUTS = (("annotations/instances_{split}2017.json", "{split}2017"), ("annotations/{split}.json", "{split}"))


def build_parser() -> argparse.ArgumentParser:
    p = base_parser("Mask R-CNN with an MAE-pretrained ViT on a COCO-format set (detectron2)",
                    data_path="a COCO root (annotations/ + image folders); or give --{train,val}-{json,images}",
                    pretrained=True)
    for split in ("train", "val"):
        p.add_argument(f"--{split}-json", default=None, help=f"COCO instances JSON of the {split} set")
        p.add_argument(f"--{split}-images", default=None, help=f"image folder of the {split} set")
    p.add_argument("--num-gpus", type=int, default=1)
    p.add_argument("--num-machines", type=int, default=1)
    p.add_argument("--machine-rank", type=int, default=0)
    p.add_argument("--dist-url", default="auto")
    return p


def coco_files(root: str | Path) -> dict[str, tuple[str, str]]:
    """{split: (annotation json, image folder)} of a COCO root in either layout of ``LAYOUTS``."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"--data-path {root}: not a folder")
    for ann, img in LAYOUTS:
        found = {s: (root / ann.format(split=s), root / img.format(split=s)) for s in ("train", "val")}
        if all(j.is_file() and i.is_dir() for j, i in found.values()):
            return {s: (str(j), str(i)) for s, (j, i) in found.items()}
    wanted = " or ".join(f"{a.format(split='{train,val}')} + {i.format(split='{train,val}')}/" for a, i in LAYOUTS)
    raise DataError(f"--data-path {root}: not a COCO root (expected {wanted})")


def _files(args: argparse.Namespace) -> dict[str, tuple[str | None, str | None]]:
    files = {s: (getattr(args, f"{s}_json"), getattr(args, f"{s}_images")) for s in ("train", "val")}
    if args.data_path:
        for split, pair in coco_files(args.data_path).items():
            if files[split] == (None, None):
                files[split] = pair
    return files


def run(args: argparse.Namespace) -> dict:
    """One process's work: load the config, check the data, train or evaluate; returns the metrics."""
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    setup_logging(comm.get_rank(), log_file=out / "log.txt")
    cfg = LazyConfig.load(args.config)
    cfg = apply_overrides(cfg, parse_overrides(args.overrides), where=args.config)
    cfg.train.output_dir = str(out)
    files = _files(args)
    setup_data(cfg, *files["train"], *files["val"], str(out))
    if comm.is_main_process():
        try:
            LazyConfig.save(cfg, str(out / "config.yaml"))
        except Exception as e:  # noqa: BLE001 - a config that cannot be saved must not stop training
            logger.warning("could not save the config as YAML: %s", e)
    seed_all_rng(cfg.train.get("seed", 0) + comm.get_rank())
    if args.eval_only:
        return eval_only(cfg, str(out), args.pretrained)
    return train(cfg, str(out), resume=args.resume, pretrained=args.pretrained)


@tool_main
def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not Path(args.config).is_file():
        raise FileNotFoundError(f"--config: LazyConfig file not found: {args.config}")
    launch(run, args.num_gpus if _cuda() else 1, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))
    return 0


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()
