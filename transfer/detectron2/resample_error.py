"""The error of the ViT-H recipe's patch change (14 -> 16 at load time), measured on a small MAE and real images.

``python -m transfer.detectron2.resample_error [--steps N] [--out docs/results/patch_resample_14to16.json]``:
pretrains a small MAE at patch 14 on Fashion-MNIST (112 px: an 8 x 8 grid at 14, 7 x 7 at 16) for N steps, then
resamples its encoder to patch 16 with ``mae_core.checkpoint.convert.patch_resample`` (the function the detector's
loader calls) and reports relative errors ||new - old|| / ||old|| on held-out test images:
- ``patch_embed``: the new kernel on images resized by 16/14 vs the old kernel on the images (exact when upsampling);
- ``same_grid_tokens`` (+ ``_naive``: kernel merely interpolated): the whole encoder, resized images, same grid;
- ``same_size_cls`` / ``same_size_mean``: the same images at patch 16 (a coarser grid, position table resampled),
  which is how ViTDet uses the ViT-H/14 weights at patch 16.
The same at step 0 (random init) is recorded for comparison. The JSON names the commit, CPU, load average, budget.
"""
from __future__ import annotations

import argparse
import logging
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.checkpoint.convert.patch_resample import measure_resample_error, resample_patch_embed
from mae_core.cli import setup_logging
from mae_core.data.datasets import read_fashion_mnist
from mae_core.engine.metrics_log import run_context
from mae_core.models.mae import create_mae
from mae_core.models.vit import VisionTransformer

logger = logging.getLogger(__name__)
IMG, OLD, NEW = 112, 14, 16


def fashion_batch(images: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    """uint8 [N, 28, 28] -> [len(idx), 3, 112, 112], normalized to zero mean and unit std per set."""
    x = torch.from_numpy(images[idx]).float().div(255).unsqueeze(1)
    x = F.interpolate(x, size=(IMG, IMG), mode="bilinear", align_corners=False).repeat(1, 3, 1, 1)
    return (x - 0.286) / 0.353


def encoder_of(mae) -> VisionTransformer:
    cfg = mae.encoder_config()
    vit = VisionTransformer(**cfg).eval()
    vit.load_state_dict(mae.encoder_state_dict(), strict=True)
    return vit


@torch.no_grad()
def patch_embed_error(vit: VisionTransformer, x: torch.Tensor) -> float:
    """Relative error of the patch embedding (no bias) after 14 -> 16 on images resized by 16/14."""
    w = vit.patch_embed.proj.weight
    big = F.interpolate(x, scale_factor=NEW / OLD, mode="bilinear", align_corners=False)
    ref = F.conv2d(x, w, stride=OLD)
    new = F.conv2d(big, resample_patch_embed(w, NEW), stride=NEW)
    return ((new - ref).norm() / ref.norm()).item()


def measure(steps: int, batch: int = 64, seed: int = 0) -> dict:
    torch.manual_seed(seed)
    train, _ = read_fashion_mnist("train")
    test, _ = read_fashion_mnist("test")
    mae = create_mae("vit_micro_patch4", patch_size=OLD, img_size=IMG, embed_dim=96, depth=4, num_heads=3,
                     decoder_embed_dim=64, decoder_depth=1, decoder_num_heads=2, norm_pix_loss=True)
    held_out = fashion_batch(test, np.arange(64))
    out: dict = {"untrained": {}, "trained": {}}
    vit = encoder_of(mae)
    out["untrained"] = {"patch_embed": patch_embed_error(vit, held_out), **measure_resample_error(vit, held_out, NEW)}
    opt = torch.optim.AdamW(mae.parameters(), lr=1.5e-3, betas=(0.9, 0.95), weight_decay=0.05)
    rng = np.random.default_rng(seed)
    t0, loss = time.perf_counter(), float("nan")
    mae.train()
    for step in range(steps):
        loss_t, _, _ = mae(fashion_batch(train, rng.integers(0, len(train), batch)))
        opt.zero_grad(set_to_none=True)
        loss_t.backward()
        opt.step()
        loss = loss_t.item()
        if step % 100 == 0:
            logger.info("step %d loss %.4f", step, loss)
    vit = encoder_of(mae.eval())
    out["trained"] = {"patch_embed": patch_embed_error(vit, held_out), **measure_resample_error(vit, held_out, NEW)}
    out["train"] = {"steps": steps, "batch": batch, "final_loss": loss, "wall_s": round(time.perf_counter() - t0, 1),
                    "model": "MAE, encoder 96 wide, 4 deep, 3 heads, patch 14, 112 px; decoder 64 x 1; norm-pixel"}
    return out


def main(argv: list[str] | None = None) -> Path:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--out", default="docs/results/patch_resample_14to16.json")
    args = p.parse_args(argv)
    setup_logging()
    load_before = os.getloadavg()
    result = measure(args.steps)
    record = {
        "what": "relative error ||new - old|| / ||old|| of a ViT's outputs after resampling its patch size 14 -> 16 "
                "(mae_core.checkpoint.convert.patch_resample), on 64 Fashion-MNIST test images at 112 px",
        "command": f"python -m transfer.detectron2.resample_error --steps {args.steps}",
        **run_context(), "loadavg_before": [round(v, 2) for v in load_before],
        "loadavg_after": [round(v, 2) for v in os.getloadavg()],
        "budget": f"{args.steps} pretraining steps on the CPU", **result}
    path = atomic_write_json(record, args.out)
    logger.info("wrote %s: trained same_size_mean %.4f, patch_embed %.2e", path,
                result["trained"]["same_size_mean"], result["trained"]["patch_embed"])
    return path


if __name__ == "__main__":
    main()
