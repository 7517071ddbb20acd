"""HOG target (MaskFeat, Wei et al. 2022): histograms of oriented gradients of each patch, regressed with MSE.

# Adapted from: MaskFeat's HOG target (per-channel [-1, 0, 1] gradients, unsigned orientation in `bins` bins,
# magnitude-weighted, pooled over cells, each patch's histogram L2-normalised).
Shapes: imgs [N, C, H, W] -> [N, L, C * cells^2 * bins] with cells = patch_size / cell_size per side.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from mae_core.targets.base import ReconstructionTarget, register_target


@register_target("hog")
class HOGTarget(ReconstructionTarget):
    kind = "hog"

    def __init__(self, patch_size: int, in_chans: int = 3, bins: int = 9, cell_size: int = 8) -> None:
        super().__init__()
        self.check_args(patch_size, in_chans, bins=bins, cell_size=cell_size)
        cell = min(cell_size, patch_size)
        self.patch_size, self.bins, self.cell = patch_size, bins, cell
        self.cells = patch_size // cell
        self.out_dim = in_chans * self.cells ** 2 * bins
        kx = torch.tensor([[0.0, 0.0, 0.0], [-1.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
        self.register_buffer("kernels", torch.stack([kx, kx.T]).unsqueeze(1), persistent=False)  # [2, 1, 3, 3]

    @classmethod
    def check_args(cls, patch_size: int, in_chans: int, **kwargs) -> None:
        super().check_args(patch_size, in_chans, **kwargs)
        cell = min(kwargs.get("cell_size", 8), patch_size)
        if patch_size % cell:
            raise ValueError(f"cell_size={cell} does not divide the patch size {patch_size}")

    @torch.no_grad()
    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        n, c, hh, ww = imgs.shape
        x = F.pad(imgs.float().reshape(n * c, 1, hh, ww), (1, 1, 1, 1), mode="reflect")
        g = F.conv2d(x, self.kernels.to(x)).float()          # [N*C, 2, H, W], fp32 under autocast too
        mag = g.norm(dim=1)
        ang = torch.atan2(g[:, 1], g[:, 0]) % math.pi                            # unsigned, [0, pi)
        idx = (ang / math.pi * self.bins).long().clamp_max(self.bins - 1)
        hist = torch.zeros(n * c, self.bins, hh, ww, device=imgs.device).scatter_(1, idx.unsqueeze(1),
                                                                                mag.unsqueeze(1))
        hist = F.avg_pool2d(hist, self.cell) * self.cell ** 2                    # [N*C, bins, H/cell, W/cell]
        h, w = hh // self.patch_size, ww // self.patch_size
        k = self.cells
        hist = hist.reshape(n, c, self.bins, h, k, w, k).permute(0, 3, 5, 1, 4, 6, 2).reshape(n, h * w, -1)
        return F.normalize(hist, dim=-1)

    def describe(self) -> dict:
        return {**super().describe(), "bins": self.bins, "cell_size": self.cell}
