"""Command line of tools/train_coco.py: flags, logging, detectron2's ``launch`` for multi-GPU, then train/eval."""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from . import compat

compat.apply()
from detectron2.config import LazyConfig  # noqa: E402
from detectron2.engine import launch  # noqa: E402
from detectron2.utils import comm  # noqa: E402
from detectron2.utils.env import seed_all_rng  # noqa: E402
from detectron2.utils.logger import setup_logger  # noqa: E402

from .train import apply_overrides, eval_only, setup_data, train  # noqa: E402

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Mask R-CNN with an MAE-pretrained ViT on a COCO-format set (detectron2)")
    p.add_argument("--config", required=True, help="a LazyConfig file, e.g. configs/coco/smoke.py")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--resume", action="store_true", help="continue from the output folder's last checkpoint")
    p.add_argument("--eval-only", action="store_true")
    p.add_argument("--pretrained", default=None, help="MAE checkpoint (this project's or official) for the ViT")
    for split in ("train", "val"):
        p.add_argument(f"--{split}-json", default=None, help=f"COCO instances JSON of the {split} set")
        p.add_argument(f"--{split}-images", default=None, help=f"image folder of the {split} set")
    p.add_argument("--num-gpus", type=int, default=1)
    p.add_argument("--num-machines", type=int, default=1)
    p.add_argument("--machine-rank", type=int, default=0)
    p.add_argument("--dist-url", default="auto")
    p.add_argument("overrides", nargs="*", help="key=value LazyConfig overrides, e.g. train.max_iter=100")
    return p


def run(args: argparse.Namespace) -> dict:
    """One process's work: load the config, check the data, train or evaluate; returns the metrics."""
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    setup_logger(str(out), distributed_rank=comm.get_rank(), name="detectron2")
    setup_logger(str(out), distributed_rank=comm.get_rank(), name="transfer")
    setup_logger(str(out), distributed_rank=comm.get_rank(), name="mae_core")
    cfg = LazyConfig.load(args.config)
    cfg = apply_overrides(cfg, list(args.overrides))
    cfg.train.output_dir = str(out)
    setup_data(cfg, args.train_json, args.train_images, args.val_json, args.val_images, str(out))
    if comm.is_main_process():
        try:
            LazyConfig.save(cfg, str(out / "config.yaml"))
        except Exception as e:  # noqa: BLE001 - a config that cannot be saved must not stop training
            logger.warning("could not save the config as YAML: %s", e)
    seed_all_rng(cfg.train.get("seed", 0) + comm.get_rank())
    if args.eval_only:
        return eval_only(cfg, str(out), args.pretrained)
    return train(cfg, str(out), resume=args.resume, pretrained=args.pretrained)


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    launch(run, args.num_gpus if _cuda() else 1, num_machines=args.num_machines, machine_rank=args.machine_rank,
           dist_url=args.dist_url, args=(args,))


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()
