"""Training this project's dVAE tokenizer on uint8 images (Fashion-MNIST or any array of images)."""
from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch

from mae_core.targets.tokenizers.dvae import DVAE, dvae_loss

logger = logging.getLogger(__name__)


def to_unit(images: np.ndarray, in_chans: int) -> torch.Tensor:
    """uint8 [N, H, W] or [N, H, W, C] -> float [N, in_chans, H, W] in [0, 1]."""
    x = torch.from_numpy(np.array(images)).float() / 255.0
    x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
    if x.shape[1] != in_chans:
        x = x.mean(1, keepdim=True).expand(-1, in_chans, -1, -1)
    return x.contiguous()


@torch.no_grad()
def hard_reconstruction_mse(model: DVAE, x01: torch.Tensor, batch: int = 500) -> float:
    """Mean squared error per pixel of the reconstruction from argmax tokens."""
    model.eval()
    err = sum(float(((model.reconstruct_hard(b) - b) ** 2).sum()) for b in x01.split(batch))
    model.train()
    return err / x01.numel()


def train_dvae(train_images: np.ndarray, val_images: np.ndarray, steps: int = 600, batch_size: int = 128,
               lr: float = 2e-3, vocab_size: int = 512, hidden: int = 32, stride: int = 4, in_chans: int = 1,
               tau_start: float = 1.0, tau_end: float = 1 / 16, kl_weight: float = 0.01,
               diversity_weight: float = 1.0, seed: int = 0,
               eval_every: int = 100) -> tuple[DVAE, list[dict]]:
    """Adam + cosine lr; the temperature decays exponentially from tau_start to tau_end over the run.

    -> (model, history of {"step", "tau", "loss", "val_hard_mse", "codes_used"}); step 0 is the untrained model.
    """
    torch.manual_seed(seed)
    model = DVAE(in_chans, vocab_size, hidden, stride)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x_train, x_val = to_unit(train_images, in_chans), to_unit(val_images, in_chans)
    g = torch.Generator().manual_seed(seed)
    history, t0, loss = [], time.time(), float("nan")
    for step in range(steps + 1):
        if step % eval_every == 0 or step == steps:
            with torch.no_grad():
                ids = model.encoder(x_val[:1000]).argmax(1)
            history.append({"step": step, "tau": round(tau, 4) if step else tau_start, "loss": loss,
                            "val_hard_mse": round(hard_reconstruction_mse(model, x_val), 6),
                            "codes_used": int(ids.unique().numel()), "seconds": round(time.time() - t0, 1)})
            logger.info("dVAE %s", history[-1])
        if step == steps:
            break
        frac = step / max(steps - 1, 1)
        tau = tau_start * (tau_end / tau_start) ** frac
        for group in opt.param_groups:
            group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * frac))
        idx = torch.randint(0, len(x_train), (batch_size,), generator=g)
        total, _ = dvae_loss(model, x_train[idx], tau, kl_weight, diversity_weight)
        opt.zero_grad(set_to_none=True)
        total.backward()
        opt.step()
        loss = round(total.item(), 4)
    model.eval()
    return model, history
