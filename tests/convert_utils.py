"""Shared helpers of the converter tests: micro models with every parameter random, a fixed image batch."""
from __future__ import annotations

import torch
import torch.nn as nn

from mae_core.models.mae import create_mae
from mae_core.models.vit import VisionTransformer, create_vit

MICRO = dict(embed_dim=64, depth=2, num_heads=2, patch_size=4, img_size=32)


def randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Every parameter random (tables and layer scales too), so a wrongly mapped tensor cannot go unnoticed."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=g) * 0.2
            p.copy_(1 + noise if name.endswith(("norm1.weight", "norm2.weight", "norm.weight")) else noise)
    return model.eval()


def micro_vit(seed: int = 0, **kwargs) -> VisionTransformer:
    return randomize(create_vit("vit_micro_patch4", **kwargs), seed)


def micro_mae(seed: int = 0, **kwargs):
    return randomize(create_mae("vit_micro_patch4", decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2,
                                **kwargs), seed)


def images(n: int = 2, size: int = 32, seed: int = 1) -> torch.Tensor:
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def assert_close(a: torch.Tensor, b: torch.Tensor, atol: float = 1e-6, rtol: float = 1e-5) -> None:
    """max |a - b| <= atol + rtol * max |b| (float32 rounding of a different summation order)."""
    assert a.shape == b.shape, (a.shape, b.shape)
    err, scale = (a - b).abs().max().item(), b.abs().max().item()
    assert err <= atol + rtol * scale, f"max abs difference {err:.3g} (max |b| {scale:.3g})"
