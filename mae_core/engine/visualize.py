"""Reconstruction pictures (original | masked | reconstruction | reconstruction with visible patches pasted in) and
their quality (PSNR of the masked patches against a mean-fill baseline).

With the normalised-pixel target the model predicts each hidden patch up to its mean and scale. For reading, the
picture de-normalises every predicted patch with the mean and variance of the *target* patch itself, as the
official MAE visualisation does (its pictures come from the target's own statistics); the picture says so. That
hands the picture each hidden patch's brightness and contrast, so the mean-fill baseline gets the same: each hidden
patch filled with its own mean. Grey data (one channel, or three equal ones) is drawn in grey.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from mae_core.models.patches import patchify, unpatchify


def _norm_target(model) -> bool:
    return bool(getattr(model.target, "norm", False))


@torch.no_grad()
def predicted_patches(model, imgs: torch.Tensor, noise: torch.Tensor | None = None,
                      stats: str = "target") -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """imgs [N, C, H, W] (normalised) -> (reconstructed patches [N, L, p*p*C], true patches [N, L, p*p*C], mask
    [N, L], 1 = hidden). ``stats``: 'target' de-normalises a norm-pixel prediction with each target patch's own
    mean / variance (for reading), 'visible' with the visible patches' average (what the model could know)."""
    if stats not in ("target", "visible"):
        raise ValueError(f"stats must be 'target' or 'visible', got {stats!r}")
    if not hasattr(model.target, "to_patches"):
        raise ValueError(f"target {model.target.kind!r} has no pixel reconstruction to draw")
    was_training = model.training
    model.eval()
    _, pred, mask = model(imgs, noise=noise)
    model.train(was_training)
    true = patchify(imgs.float(), model.patch_size)
    if _norm_target(model) and stats == "target":
        mean, var = true.mean(-1, keepdim=True), true.var(-1, keepdim=True)
        rec = pred.float() * (var + 1.0e-6) ** 0.5 + mean
    else:
        rec = model.target.to_patches(pred.float(), imgs.float(), mask)
    return rec, true, mask.float()


def reconstruction_columns(model, imgs: torch.Tensor, noise: torch.Tensor | None = None,
                           stats: str = "target") -> list[torch.Tensor]:
    """imgs [N, C, H, W] (normalised) -> 4 tensors [N, C, H, W]: original, masked, reconstruction, pasted."""
    rec, true, mask = predicted_patches(model, imgs, noise, stats)
    p, c = model.patch_size, imgs.shape[1]
    grid = model.grid_for(imgs.shape[-2:])
    m = mask.unsqueeze(-1)
    return [imgs.float(), unpatchify(true * (1 - m), p, grid, c), unpatchify(rec, p, grid, c),
            unpatchify(true * (1 - m) + rec * m, p, grid, c)]


def _to_pixels(x: torch.Tensor, mean, std) -> torch.Tensor:
    """Normalised [..., C] (channels last) -> [0, 1] pixels."""
    return (x.cpu() * torch.tensor(std) + torch.tensor(mean)).clamp(0, 1)


def _psnr(a: torch.Tensor, b: torch.Tensor, m: torch.Tensor) -> float:
    mse = (((a - b) ** 2).mean(-1) * m).sum() / m.sum().clamp(min=1)
    return round(10 * math.log10(1.0 / max(float(mse), 1e-12)), 2)


@torch.no_grad()
def reconstruction_psnr(model, imgs: torch.Tensor, mean, std, noise: torch.Tensor | None = None,
                        stats: str = "target") -> dict:
    """PSNR (dB, pixels in [0, 1]) over the hidden patches of the picture's reconstruction, and of the mean-fill
    baseline that knows what the picture knows: each hidden patch's own mean with the target statistics of a
    norm-pixel target, the visible pixels' mean otherwise -> {"psnr_db", "mean_fill_psnr_db", ...}."""
    rec, true, mask = predicted_patches(model, imgs, noise, stats)
    c = imgs.shape[1]
    n, length, d = true.shape

    def px(patches: torch.Tensor) -> torch.Tensor:   # [N, L, p*p*C] -> pixels [N, L, p*p, C] in [0, 1]
        return _to_pixels(patches.reshape(n, length, d // c, c), mean, std)
    own_mean = true.mean(-1, keepdim=True).expand_as(true)
    vis = (1 - mask).unsqueeze(-1)
    vis_mean = ((true * vis).sum((1, 2), keepdim=True) / (vis.sum((1, 2), keepdim=True) * d)).expand_as(true)
    per_patch = _norm_target(model) and stats == "target"
    fill = own_mean if per_patch else vis_mean
    t, m = px(true).flatten(2), mask.cpu()
    return {"psnr_db": _psnr(px(rec).flatten(2), t, m), "mean_fill_psnr_db": _psnr(px(fill).flatten(2), t, m),
            "mean_fill": "each hidden patch's own mean" if per_patch else "the visible pixels' mean",
            "visible_mean_fill_psnr_db": _psnr(px(vis_mean).flatten(2), t, m),
            "statistics": "target patches" if per_patch else ("visible patches" if _norm_target(model) else "none"),
            "images": n, "hidden_patches": int(mask.sum())}


def is_grey(imgs: torch.Tensor, mean, std) -> bool:
    """One channel, or three whose de-normalised values are equal (grey data replicated to RGB)."""
    if imgs.shape[1] == 1:
        return True
    x = _to_pixels(imgs.permute(0, 2, 3, 1), mean, std)
    return bool((x - x.mean(-1, keepdim=True)).abs().max() < 2 / 255)


def save_reconstruction_grid(model, imgs: torch.Tensor, mean, std, path: str | Path, noise: torch.Tensor | None = None,
                             scale: int = 4, stats: str = "target") -> Path:
    """Writes a PNG with one row per image and the four columns, de-normalised with the data's mean/std; grey data
    as a grey ('L') picture, colour data as RGB."""
    cols = reconstruction_columns(model, imgs, noise, stats)
    grey = is_grey(imgs, mean, std)
    cols = [_to_pixels(col.permute(0, 2, 3, 1), mean, std) for col in cols]   # [N, H, W, C]
    if grey:
        cols = [col.mean(-1, keepdim=True) for col in cols]
    n, h, w, _ = cols[0].shape
    header = 14
    mode, white = ("L", 255) if grey else ("RGB", "white")
    canvas = Image.new(mode, (4 * w * scale, n * h * scale + header * 2), white)
    draw = ImageDraw.Draw(canvas)
    for j, title in enumerate(["original", "masked", "reconstruction", "rec. + visible"]):
        draw.text((j * w * scale + 2, 1), title, fill=0 if grey else "black")
    if _norm_target(model):
        note = ("norm-pix target: de-normalised with each target patch's own mean/variance (as the official "
                "visualisation)" if stats == "target" else "norm-pix target: de-normalised with the visible "
                                                           "patches' statistics")
        draw.text((2, header), note, fill=96 if grey else "gray")
    for i in range(n):
        for j, col in enumerate(cols):
            arr = (col[i].numpy() * 255).round().astype("uint8")
            tile = Image.fromarray(arr[..., 0] if grey else arr).resize((w * scale, h * scale), Image.NEAREST)
            canvas.paste(tile, (j * w * scale, header * 2 + i * h * scale))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
