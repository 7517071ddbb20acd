"""Reconstruction pictures: original | masked | reconstruction | reconstruction with visible patches pasted in."""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw

from mae_core.models.patches import patchify, unpatchify


@torch.no_grad()
def reconstruction_columns(model, imgs: torch.Tensor, noise: torch.Tensor | None = None) -> list[torch.Tensor]:
    """imgs [N, C, H, W] (normalised) -> 4 tensors [N, C, H, W]: original, masked, reconstruction, pasted."""
    was_training = model.training
    model.eval()
    _, pred, mask = model(imgs, noise=noise)
    model.train(was_training)
    p = model.patch_size
    grid = model.grid_for(imgs.shape[-2:])
    c = imgs.shape[1]
    if not hasattr(model.target, "to_patches"):
        raise ValueError(f"target {model.target.kind!r} has no pixel reconstruction to draw")
    rec = model.target.to_patches(pred.float(), imgs.float(), mask)
    m = mask.unsqueeze(-1)
    orig_p = patchify(imgs.float(), p)
    masked = unpatchify(orig_p * (1 - m), p, grid, c)
    pasted = unpatchify(orig_p * (1 - m) + rec * m, p, grid, c)
    return [imgs.float(), masked, unpatchify(rec, p, grid, c), pasted]


def save_reconstruction_grid(model, imgs: torch.Tensor, mean, std, path: str | Path, noise: torch.Tensor | None = None,
                             scale: int = 4) -> Path:
    """Writes a PNG with one row per image and the four columns, de-normalised with the data's mean/std."""
    cols = reconstruction_columns(model, imgs, noise)
    mean_t = torch.tensor(mean).reshape(1, -1, 1, 1)
    std_t = torch.tensor(std).reshape(1, -1, 1, 1)
    cols = [(col.cpu() * std_t + mean_t).clamp(0, 1) for col in cols]
    n, c, h, w = cols[0].shape
    header = 14
    canvas = Image.new("RGB", (4 * w * scale, n * h * scale + header * 2), "white")
    draw = ImageDraw.Draw(canvas)
    titles = ["original", "masked", "reconstruction", "rec. + visible"]
    for j, title in enumerate(titles):
        draw.text((j * w * scale + 2, 1), title, fill="black")
    if getattr(model.target, "norm", False):
        draw.text((2, header), "norm-pix target: de-normalised with the visible patches' statistics", fill="gray")
    for i in range(n):
        for j, col in enumerate(cols):
            arr = (col[i].permute(1, 2, 0).numpy() * 255).round().astype("uint8")
            tile = Image.fromarray(arr[..., 0] if c == 1 else arr).convert("RGB")
            tile = tile.resize((w * scale, h * scale), Image.NEAREST)
            canvas.paste(tile, (j * w * scale, header * 2 + i * h * scale))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(path)
    return path
