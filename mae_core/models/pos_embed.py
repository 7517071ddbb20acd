"""Position embeddings: fixed 2-D sin-cos tables and resampling of learned/fixed tables to a new grid."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def sincos_1d(dim: int, pos: torch.Tensor) -> torch.Tensor:
    """pos [M] -> [M, dim]: half sines, half cosines (the transformer's frequencies, base 10000)."""
    if dim % 2:
        raise ValueError(f"sin-cos embedding dim must be even, got {dim}")
    omega = 1.0 / 10000 ** (torch.arange(dim // 2, dtype=torch.float64) / (dim / 2.0))
    out = pos.double().reshape(-1, 1) * omega.reshape(1, -1)
    return torch.cat([out.sin(), out.cos()], dim=1)


def sincos_2d(dim: int, grid_hw: tuple[int, int], cls_token: bool = True) -> torch.Tensor:
    """The MAE table: [1, (1 +) H*W, dim], row-major grid; the cls token's row is zero.

    Half the channels encode the column (w), half the row (h), as in the reference code.
    """
    if dim % 4:
        raise ValueError(f"2-D sin-cos embedding dim must be divisible by 4, got {dim}")
    h, w = grid_hw
    gy, gx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    emb = torch.cat([sincos_1d(dim // 2, gx.reshape(-1)), sincos_1d(dim // 2, gy.reshape(-1))], dim=1)
    if cls_token:
        emb = torch.cat([torch.zeros(1, dim, dtype=emb.dtype), emb], dim=0)
    return emb.float().unsqueeze(0)


def resample_pos_embed(pos_embed: torch.Tensor, new_hw: tuple[int, int], old_hw: tuple[int, int] | None = None,
                       num_prefix_tokens: int = 1, mode: str = "bicubic") -> torch.Tensor:
    """Resamples [1, P + h*w, D] to [1, P + H*W, D] (P prefix tokens kept as they are).

    old_hw defaults to a square grid. Bicubic, align_corners=False, as timm and the MAE reference code do.
    """
    prefix, grid = pos_embed[:, :num_prefix_tokens], pos_embed[:, num_prefix_tokens:]
    if old_hw is None:
        side = int(math.isqrt(grid.shape[1]))
        if side * side != grid.shape[1]:
            raise ValueError(f"position table of {grid.shape[1]} tokens is not square; give old_hw")
        old_hw = (side, side)
    if tuple(old_hw) == tuple(new_hw):
        return pos_embed
    d = grid.shape[-1]
    grid = grid.reshape(1, old_hw[0], old_hw[1], d).permute(0, 3, 1, 2).float()
    grid = F.interpolate(grid, size=new_hw, mode=mode, align_corners=False)
    grid = grid.permute(0, 2, 3, 1).reshape(1, new_hw[0] * new_hw[1], d).to(pos_embed.dtype)
    return torch.cat([prefix, grid], dim=1)
