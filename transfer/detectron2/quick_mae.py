"""A short MAE pretraining of the demo ViT on Fashion-MNIST, to have an MAE checkpoint for the COCO measurement.

A stand-in until the project's pretraining engine is used instead: a plain loop (AdamW betas (0.9, 0.95), lr =
1.5e-4 * batch / 256, warmup + cosine per step, bf16 autocast on CUDA) over 28 px items, grey replicated to RGB
with a random tint per image (as the COCO canvases), normalized with ImageNet mean/std. Saves
{"model": state_dict, "manifest": {"encoder": mae.encoder_config(), ...}}.

    python -m transfer.detectron2.quick_mae --output mae_demo.pth --minutes 3 [--device cuda]
"""
from __future__ import annotations

import argparse
import logging
import math
import time

import torch

from mae_core.checkpoint import atomic_save
from mae_core.data import read_fashion_mnist
from mae_core.mae import create_mae

logger = logging.getLogger(__name__)
MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def fashion_batch(images: torch.Tensor, idx: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """uint8 [N, 28, 28] rows idx -> normalized [B, 3, 28, 28], random tint in [0.5, 1] per channel, random flip."""
    x = images[idx].float().div(255).unsqueeze(1)
    tint = torch.rand(len(idx), 3, 1, 1, generator=gen, device=x.device) * 0.5 + 0.5
    x = x * tint
    flip = torch.rand(len(idx), generator=gen, device=x.device) < 0.5
    x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    return (x - MEAN.to(x.device)) / STD.to(x.device)


def pretrain_demo_mae(output: str, minutes: float = 3.0, max_steps: int = 100_000, batch: int = 256,
                      device: str = "cpu", seed: int = 0, warmup_steps: int = 200) -> dict:
    """Pretrains ``create_mae("vit_demo_patch4", 128, 2, 4, norm_pix_loss=True)`` for `minutes` of wall time or
    `max_steps` (the cosine schedule assumes max_steps); returns a summary (steps, epochs, last loss, seconds)."""
    torch.manual_seed(seed)
    gen = torch.Generator(device=device).manual_seed(seed)
    mae = create_mae("vit_demo_patch4", decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4,
                     norm_pix_loss=True).to(device)
    images = torch.from_numpy(read_fashion_mnist("train")[0]).to(device)
    lr = 1.5e-4 * batch / 256
    decay = [p for n, p in mae.named_parameters() if p.requires_grad and p.ndim > 1 and not n.endswith("token")]
    other = [p for n, p in mae.named_parameters() if p.requires_grad and (p.ndim <= 1 or n.endswith("token"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": other, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.95))
    use_bf16 = device.startswith("cuda")
    start, step, loss = time.perf_counter(), 0, torch.tensor(float("nan"))
    while step < max_steps and time.perf_counter() - start < minutes * 60:
        scale = (step + 1) / warmup_steps if step < warmup_steps else \
            0.5 * (1 + math.cos(math.pi * (step - warmup_steps) / max(1, max_steps - warmup_steps)))
        for g in opt.param_groups:
            g["lr"] = lr * scale
        idx = torch.randint(len(images), (batch,), generator=gen, device=device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=use_bf16):
            loss, _, _ = mae(fashion_batch(images, idx, gen))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        if step % 200 == 0:
            logger.info("step %d loss %.4f lr %.2e", step, loss.item(), lr * scale)
    summary = {"steps": step, "batch": batch, "epochs": round(step * batch / len(images), 2),
               "last_loss": float(loss.item()), "seconds": round(time.perf_counter() - start, 1), "device": device}
    atomic_save({"model": {k: v.cpu() for k, v in mae.state_dict().items()},
                 "manifest": {"encoder": mae.encoder_config(), "pretraining": summary}}, output)
    logger.info("saved %s: %s", output, summary)
    return summary


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output", required=True)
    p.add_argument("--minutes", type=float, default=3.0)
    p.add_argument("--max-steps", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    print(pretrain_demo_mae(a.output, a.minutes, a.max_steps, a.batch, a.device))
