"""Reconstruction targets behind one interface.

A target turns images into what the decoder must predict for every patch and scores the prediction on the masked
patches only:
    target = t(imgs)            # [N, L, out_dim] (regression) or [N, L] long (token classification)
    loss = t.loss(pred, target, mask)   # pred [N, L, out_dim], mask [N, L] (1 = removed)
"""
from __future__ import annotations

import torch
import torch.nn as nn

from .patches import patchify


def masked_mean(per_patch: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """per_patch [N, L], mask [N, L] -> mean over the removed patches."""
    return (per_patch * mask).sum() / mask.sum().clamp_min(1)


class ReconstructionTarget(nn.Module):
    """Base class: ``out_dim`` is the decoder head's width; ``kind`` names the target in checkpoint manifests."""

    kind = "base"
    out_dim: int

    def describe(self) -> dict:
        return {"kind": self.kind, "out_dim": self.out_dim}

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean squared error per patch, averaged over removed patches (the paper's loss)."""
        return masked_mean(((pred.float() - target.float()) ** 2).mean(dim=-1), mask)


class PixelTarget(ReconstructionTarget):
    """Pixels of each patch; with ``norm=True`` normalised per patch: (x - mean) / sqrt(var + 1e-6), unbiased var."""

    def __init__(self, patch_size: int, in_chans: int = 3, norm: bool = True) -> None:
        super().__init__()
        self.patch_size, self.norm = patch_size, norm
        self.kind = "norm_pixel" if norm else "pixel"
        self.out_dim = patch_size * patch_size * in_chans

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        target = patchify(imgs, self.patch_size)
        if self.norm:
            mean = target.mean(dim=-1, keepdim=True)
            var = target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        return target

    def to_patches(self, pred: torch.Tensor, imgs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predictions -> patches in the (normalised) image space [N, L, p*p*C] for pictures.

        With per-patch normalisation the true statistics of a removed patch are unknown: every predicted patch is
        de-normalised with the mean and variance of the image's *visible* patches (averaged), never the hidden ones.
        """
        if not self.norm:
            return pred
        patches = patchify(imgs, self.patch_size)
        vis = (1 - mask).unsqueeze(-1)
        mean = (patches.mean(-1, keepdim=True) * vis).sum(1, keepdim=True) / vis.sum(1, keepdim=True)
        var = (patches.var(-1, keepdim=True) * vis).sum(1, keepdim=True) / vis.sum(1, keepdim=True)
        return pred * (var + 1.0e-6) ** 0.5 + mean


TARGETS: dict[str, type] = {}


def register_target(name: str):
    def deco(cls):
        TARGETS[name] = cls
        return cls
    return deco


def build_target(name: str, patch_size: int, in_chans: int, **kwargs) -> ReconstructionTarget:
    """'pixel' | 'norm_pixel' | any registered name (PCA, tokens, ...)."""
    if name == "pixel":
        return PixelTarget(patch_size, in_chans, norm=False)
    if name == "norm_pixel":
        return PixelTarget(patch_size, in_chans, norm=True)
    if name in TARGETS:
        return TARGETS[name](patch_size=patch_size, in_chans=in_chans, **kwargs)
    raise ValueError(f"unknown reconstruction target {name!r}; known: pixel, norm_pixel, {', '.join(TARGETS)}")
