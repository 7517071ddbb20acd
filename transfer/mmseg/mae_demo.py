"""A brief MAE pretraining of the demo ViT on Fashion-MNIST, to have an MAE checkpoint for the smoke recipe.

A short loop (AdamW, betas (0.9, 0.95), warmup + cosine, 75% random masking, normalized-pixel target), not the
pretraining engine. Images: 28x28 gray items replicated to 3 channels and normalized with the ImageNet mean / std
that mmseg's SegDataPreProcessor uses, random horizontal flip. Saves {"model": state_dict, "manifest": {"encoder"}}.

    python -m transfer.mmseg.mae_demo --output runs/mae_demo/checkpoint.pth --minutes 5
"""
from __future__ import annotations

import argparse
import logging
import math
import time
from pathlib import Path

import numpy as np
import torch

from mae_core.checkpoint import atomic_save
from mae_core.data import read_fashion_mnist
from mae_core.mae import create_mae

logger = logging.getLogger(__name__)

MEAN = torch.tensor([123.675, 116.28, 103.53]).view(1, 3, 1, 1)
STD = torch.tensor([58.395, 57.12, 57.375]).view(1, 3, 1, 1)


def fashion_batch(images: np.ndarray, idx: np.ndarray) -> torch.Tensor:
    """uint8 [N, 28, 28] -> float [B, 3, 28, 28], normalized, randomly flipped."""
    x = torch.from_numpy(images[idx]).float().unsqueeze(1).expand(-1, 3, -1, -1)
    flip = torch.rand(len(idx)) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    return (x - MEAN) / STD


def pretrain_demo_mae(output: str | Path, max_steps: int = 2000, minutes: float = 5.0, batch: int = 256,
                      lr: float = 1e-3, warmup: int = 50, seed: int = 0) -> dict:
    """Pretrains until `max_steps` or `minutes` (wall) and saves the checkpoint; returns a summary."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    images, _ = read_fashion_mnist("train")
    mae = create_mae("vit_demo_patch4", decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4,
                     norm_pix_loss=True)
    decay = [p for n, p in mae.named_parameters() if p.requires_grad and p.ndim > 1 and "token" not in n]
    no_decay = [p for n, p in mae.named_parameters() if p.requires_grad and (p.ndim <= 1 or "token" in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95))
    t0, step, losses = time.time(), 0, []
    mae.train()
    while step < max_steps and time.time() - t0 < minutes * 60:
        scale = (step + 1) / warmup if step < warmup else 0.5 * (1 + math.cos(math.pi * step / max_steps))
        for g in opt.param_groups:
            g["lr"] = lr * scale
        loss, _, _ = mae(fashion_batch(images, rng.integers(0, len(images), size=batch)))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        step += 1
        if step % 25 == 0:
            logger.info("step %d loss %.4f (%.0f s)", step, float(np.mean(losses[-25:])), time.time() - t0)
    summary = dict(steps=step, batch=batch, wall_s=round(time.time() - t0, 1), first_loss=losses[0],
                   last_loss=float(np.mean(losses[-20:])))
    atomic_save({"model": mae.state_dict(), "manifest": {"encoder": mae.encoder_config(), "pretrain": summary}},
                output)
    logger.info("saved %s: %s", output, summary)
    return summary


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", required=True)
    p.add_argument("--max-steps", type=int, default=2000)
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--batch", type=int, default=256)
    a = p.parse_args()
    print(pretrain_demo_mae(a.output, a.max_steps, a.minutes, a.batch))
