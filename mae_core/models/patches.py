"""Patchify / unpatchify in the reference code's layout: each patch flattened as (p, q, c)."""
from __future__ import annotations

import torch


def patchify(imgs: torch.Tensor, p: int) -> torch.Tensor:
    """[N, C, H, W] -> [N, h*w, p*p*C] (row-major patches; inside a patch: row, column, channel)."""
    n, c, hh, ww = imgs.shape
    if hh % p or ww % p:
        raise ValueError(f"image size {(hh, ww)} is not a multiple of the patch size {p}")
    h, w = hh // p, ww // p
    x = imgs.reshape(n, c, h, p, w, p)
    return torch.einsum("nchpwq->nhwpqc", x).reshape(n, h * w, p * p * c)


def unpatchify(x: torch.Tensor, p: int, grid: tuple[int, int] | None = None, channels: int = 3) -> torch.Tensor:
    """[N, h*w, p*p*C] -> [N, C, H, W]; grid defaults to square."""
    n, length, _ = x.shape
    if grid is None:
        side = int(round(length ** 0.5))
        if side * side != length:
            raise ValueError(f"{length} patches are not a square grid; pass grid=(h, w)")
        grid = (side, side)
    h, w = grid
    x = x.reshape(n, h, w, p, p, channels)
    return torch.einsum("nhwpqc->nchpwq", x).reshape(n, channels, h * p, w * p)
