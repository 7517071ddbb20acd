"""`make demo`: pretrain the demo MAE on Fashion-MNIST, then compare frozen features (probe + k-NN)."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import torch

from mae_core.checkpoint.pretrained import load_encoder
from mae_core.cli import setup_logging
from mae_core.config import load_config, shipped_config
from mae_core.engine.metrics_log import write_metrics
from mae_core.engine.trainer import pretrain
from mae_core.models.vit import VisionTransformer
from transfer.studies.probe_eval import evaluate_encoder, evaluate_raw_pixels, fashion_loaders

logger = logging.getLogger(__name__)


def run_demo(config: str, output_dir: str, overrides: list[str], limit: int = 0) -> dict:
    cfg = load_config(config, overrides)
    t0 = time.time()
    pre = pretrain(cfg, output_dir)
    pretrain_s = time.time() - t0
    mode = "L" if cfg.model.in_chans == 1 else "RGB"
    train_loader, test_loader = fashion_loaders(cfg.model.img_size, cfg.data.mean, cfg.data.std, mode, limit=limit)
    encoder, _ = load_encoder(pre["checkpoint"])
    bf16 = cfg.train.precision == "bf16"
    mae = evaluate_encoder(encoder, train_loader, test_loader, bf16)
    torch.manual_seed(cfg.train.seed)
    random_enc = VisionTransformer(**encoder_kwargs(encoder))
    rand = evaluate_encoder(random_enc, train_loader, test_loader, bf16)
    pixels = evaluate_raw_pixels(limit)
    result = {"pretrain": pre, "pretrain_minutes": round(pretrain_s / 60, 2), "mae_encoder": mae,
              "random_encoder": rand, "raw_pixels": pixels, "output_dir": str(Path(output_dir).resolve())}
    write_metrics(output_dir, result)
    return result


def encoder_kwargs(model: VisionTransformer) -> dict:
    pe = model.patch_embed
    return dict(img_size=pe.img_size, patch_size=pe.patch_size[0], in_chans=pe.proj.in_channels,
                embed_dim=model.embed_dim, depth=len(model.blocks), num_heads=model.num_heads)


def print_table(r: dict) -> None:
    print(f"\nFashion-MNIST test split, frozen features (pretraining: {r['pretrain']['step']} steps, "
          f"{r['pretrain_minutes']} min)")
    print(f"{'features':<28}{'linear probe':>14}{'k-NN (k=20)':>14}")
    for name, key in (("MAE encoder", "mae_encoder"), ("random encoder", "random_encoder")):
        for pool in ("cls", "avg"):
            v = r[key][pool]
            print(f"{name + ' (' + pool + ')':<28}{v['linear']:>13.2f}%{v['knn']:>13.2f}%")
    print(f"{'raw pixels':<28}{r['raw_pixels']['linear']:>13.2f}%{r['raw_pixels']['knn']:>13.2f}%")
    print(f"\noutputs (checkpoints, reconstructions in vis/, log.jsonl, tensorboard/, metrics.json): {r['output_dir']}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="MAE demo on Fashion-MNIST")
    p.add_argument("--config", default=str(shipped_config("pretrain/demo.py")))
    p.add_argument("--output-dir", default="runs/demo")
    p.add_argument("--limit", type=int, default=0, help="use only the first N images of each split for evaluation")
    p.add_argument("overrides", nargs="*")
    args = p.parse_args(argv)
    setup_logging()
    r = run_demo(args.config, args.output_dir, args.overrides, args.limit)
    print_table(r)
    print(json.dumps({k: r[k] for k in ("mae_encoder", "random_encoder", "raw_pixels")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
