"""PCA target (paper, Table 1(d)): the decoder regresses the leading PCA coefficients of each patch.

The basis is fitted once on a sample of training patches (the engine calls ``fit`` before the first step) and kept
as buffers (``target.mean``, ``target.components``, ``target.fitted``), so it travels in the state dict and a
resumed or reloaded model uses the same basis.
    coeffs = (patch - mean) @ components.T        # [N, L, k]
    patch ~= coeffs @ components + mean           # [N, L, p*p*C]
"""
from __future__ import annotations

import logging

import torch

from mae_core.models.patches import patchify
from mae_core.targets.base import ReconstructionTarget, register_target

logger = logging.getLogger(__name__)


@register_target("pca")
class PCATarget(ReconstructionTarget):
    """The ``components`` largest principal components of the patch space (the paper keeps 96 of 768).

    norm=1 applies the per-patch normalisation of the norm_pixel target before the projection.
    """

    kind = "pca"

    def __init__(self, patch_size: int, in_chans: int = 3, components: int = 96, norm: int = 0) -> None:
        super().__init__()
        self.check_args(patch_size, in_chans, components=components, norm=norm)
        dim = patch_size * patch_size * in_chans
        self.patch_size, self.in_chans, self.norm, self.out_dim = patch_size, in_chans, bool(norm), components
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("components", torch.zeros(components, dim))       # rows: orthonormal directions
        self.register_buffer("explained", torch.zeros(components))             # variance along each direction
        self.register_buffer("fitted", torch.zeros((), dtype=torch.bool))

    @classmethod
    def check_args(cls, patch_size: int, in_chans: int, **kwargs) -> None:
        super().check_args(patch_size, in_chans, **kwargs)
        k, dim = kwargs.get("components", 96), patch_size * patch_size * in_chans
        if not isinstance(k, int) or not 1 <= k <= dim:
            raise ValueError(f"components={k} must be an integer in [1, {dim}] (the patch has {dim} values)")

    @property
    def needs_fit(self) -> bool:
        return not bool(self.fitted)

    def patches(self, imgs: torch.Tensor) -> torch.Tensor:
        """imgs [N, C, H, W] -> patches [N, L, p*p*C] (per-patch normalised when norm=1)."""
        x = patchify(imgs.float(), self.patch_size)
        if self.norm:
            x = (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True) + 1.0e-6) ** 0.5
        return x

    @torch.no_grad()
    def fit(self, imgs: torch.Tensor) -> None:
        """Fits the basis on images [N, C, H, W] (all their patches); eigen-decomposition of the covariance."""
        x = self.patches(imgs).reshape(-1, self.mean.numel()).double()
        mean = x.mean(0)
        cov = (x - mean).T @ (x - mean) / max(len(x) - 1, 1)
        evals, evecs = torch.linalg.eigh(cov)                                  # ascending
        order = evals.argsort(descending=True)[: self.out_dim]
        self.mean.copy_(mean.float())
        self.components.copy_(evecs[:, order].T.float())
        self.explained.copy_(evals[order].clamp_min(0).float())
        self.fitted.fill_(True)
        share = float(evals[order].clamp_min(0).sum() / evals.clamp_min(0).sum().clamp_min(1e-12))
        logger.info("PCA target fitted on %d patches: %d components keep %.1f%% of the variance",
                    len(x), self.out_dim, 100 * share)

    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        """imgs [N, C, H, W] -> coefficients [N, L, components]."""
        if not bool(self.fitted):
            raise RuntimeError("PCA target is not fitted: call fit(images) first (the engine does before training)")
        return (self.patches(imgs) - self.mean) @ self.components.T

    def reconstruct(self, coeffs: torch.Tensor) -> torch.Tensor:
        """coefficients [N, L, k] -> patches [N, L, p*p*C] in the (normalised) patch space."""
        return coeffs.float() @ self.components + self.mean

    def to_patches(self, pred: torch.Tensor, imgs: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Predictions -> patches [N, L, p*p*C] for pictures (norm=1: visible patches' statistics, as norm_pixel)."""
        rec = self.reconstruct(pred)
        if not self.norm:
            return rec
        patches = patchify(imgs.float(), self.patch_size)
        vis = (1 - mask).unsqueeze(-1)
        mean = (patches.mean(-1, keepdim=True) * vis).sum(1, keepdim=True) / vis.sum(1, keepdim=True)
        var = (patches.var(-1, keepdim=True) * vis).sum(1, keepdim=True) / vis.sum(1, keepdim=True)
        return rec * (var + 1.0e-6) ** 0.5 + mean

    def describe(self) -> dict:
        return {**super().describe(), "components": self.out_dim, "norm": self.norm, "fitted": bool(self.fitted),
                "variance_kept": float(self.explained.sum())}
