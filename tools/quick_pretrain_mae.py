"""A short MAE pretraining loop on Fashion-MNIST, for transfer experiments before the full pretraining engine.

Writes {"model": mae.state_dict(), "manifest": {"encoder": mae.encoder_config()}} (the checkpoint format of the
project's pretraining) every `--save-every` seconds and at the end.

    python tools/quick_pretrain_mae.py --output runs/mae_fmnist.pth --minutes 8
"""
from __future__ import annotations

import argparse
import logging
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch  # noqa: E402

from mae_core.checkpoint import atomic_save  # noqa: E402
from mae_core.data import read_fashion_mnist  # noqa: E402
from mae_core.mae import create_mae  # noqa: E402

logger = logging.getLogger("quick_pretrain_mae")


def augment(x: torch.Tensor, pad: int = 2) -> torch.Tensor:
    """[B, C, H, W] -> random horizontal flip and random shift by up to `pad` pixels (batch-wise, on tensors)."""
    b, _, h, w = x.shape
    flip = torch.rand(b, device=x.device) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    xp = torch.nn.functional.pad(x, (pad, pad, pad, pad))
    i, j = torch.randint(0, 2 * pad + 1, (2,)).tolist()
    return xp[:, :, i:i + h, j:j + w]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", required=True)
    ap.add_argument("--minutes", type=float, default=8.0, help="wall-clock budget")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--blr", type=float, default=1.5e-4 * 10, help="base lr; lr = blr * batch / 256")
    ap.add_argument("--mask-ratio", type=float, default=0.75)
    ap.add_argument("--mean", type=float, default=0.286)
    ap.add_argument("--std", type=float, default=0.353)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=50, help="warmup steps")
    ap.add_argument("--save-every", type=float, default=60.0, help="seconds")
    ap.add_argument("--init", default=None, help="continue from the weights of an earlier checkpoint of this tool")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    torch.manual_seed(args.seed)
    images, _ = read_fashion_mnist("train")
    device = torch.device(args.device)
    x_all = torch.from_numpy(images.copy()).to(device).float().div(255).unsqueeze(1)  # [N, 1, 28, 28]
    x_all = (x_all - args.mean) / args.std
    mae = create_mae("vit_demo_patch4", decoder_embed_dim=128, decoder_depth=2, decoder_num_heads=4,
                     norm_pix_loss=True, mask_ratio=args.mask_ratio).to(device)
    prior_steps = 0
    if args.init:
        ckpt = torch.load(args.init, map_location="cpu", weights_only=False)
        mae.load_state_dict(ckpt["model"])
        prior_steps = ckpt["manifest"].get("steps", 0) + ckpt["manifest"].get("prior_steps", 0)
        logger.info("continuing from %s (%d steps before)", args.init, prior_steps)
    lr = args.blr * args.batch / 256
    opt = torch.optim.AdamW(mae.parameters(), lr=lr, betas=(0.9, 0.95), weight_decay=0.05)
    budget, warmup = args.minutes * 60, args.warmup
    start = last_save = time.time()
    step = 0
    history = []

    def save() -> None:
        info = {"encoder": mae.encoder_config(), "steps": step, "prior_steps": prior_steps,
                "seconds": time.time() - start, "loss": history[-20:], "device": str(device)}
        atomic_save({"model": {k: v.cpu() for k, v in mae.state_dict().items()}, "manifest": info}, args.output)

    while time.time() - start < budget:
        perm = torch.randperm(len(x_all), device=device)
        for idx in perm.split(args.batch):
            frac = (time.time() - start) / budget
            if frac >= 1:
                break
            # warmup by step, then half-cycle cosine over the wall-clock budget
            scale = min(1.0, (step + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * frac))
            for g in opt.param_groups:
                g["lr"] = lr * scale
            x = augment(x_all[idx]).expand(-1, 3, -1, -1)
            loss, _, _ = mae(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            history.append(round(loss.item(), 4))
            if step % 50 == 0:
                logger.info("step %d  loss %.4f  lr %.2e  %.0fs", step, loss.item(), lr * scale, time.time() - start)
            if time.time() - last_save > args.save_every:
                save()
                last_save = time.time()
    save()
    logger.info("done: %d steps (%d images) in %.0fs, final loss %.4f -> %s", step, step * args.batch,
                time.time() - start, sum(history[-20:]) / max(1, len(history[-20:])), args.output)


if __name__ == "__main__":
    main()
