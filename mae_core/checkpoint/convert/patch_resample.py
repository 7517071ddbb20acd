"""Changing a ViT's patch size (e.g. ViT-H/14 -> /16 for ViTDet): approximate, see docs/interop.md for the error.

The new kernel w' is the least-squares solution of R^T w' = w, where R [q*q, p*p] resizes a p x p patch to q x q:
then <R x, w'> = <x, w> for every patch x, i.e. the new embedding of a resized patch equals the old embedding of
the original patch (exactly when upsampling, q > p, where R has full column rank). The position table is resampled
(bicubic) to the new grid.
"""
# Adapted from: the pseudo-inverse resize of FlexiViT (Beyer et al., 2023, "FlexiViT: One Model for All Patch
# Sizes"), written anew on torch.linalg.pinv.
from __future__ import annotations

import logging

import torch
import torch.nn.functional as F

from mae_core.checkpoint.convert.common import DECODER_PREFIXES, ConversionError, StateDict, encoder_config
from mae_core.models.pos_embed import resample_pos_embed

logger = logging.getLogger(__name__)


def resize_matrix(old: int, new: int, mode: str = "bilinear") -> torch.Tensor:
    """R [new*new, old*old]: column i is the resized i-th basis patch (antialiased when shrinking)."""
    basis = torch.eye(old * old, dtype=torch.float64).reshape(old * old, 1, old, old)
    out = F.interpolate(basis, size=(new, new), mode=mode, align_corners=False, antialias=new < old)
    return out.reshape(old * old, new * new).t()


def resample_patch_embed(weight: torch.Tensor, new: int, mode: str = "bilinear") -> torch.Tensor:
    """Conv kernel [D, C, p, p] -> [D, C, q, q] by the pseudo-inverse of the patch resize."""
    d, c, p, _ = weight.shape
    if p == new:
        return weight
    resize = resize_matrix(p, new, mode)                        # [q*q, p*p]
    pinv = torch.linalg.pinv(resize.t())                        # [q*q, p*p]: solves R^T w' = w
    w = weight.double().reshape(d * c, p * p)
    return (w @ pinv.t()).reshape(d, c, new, new).to(weight.dtype)


def resample_patch_size(sd: StateDict, cfg: dict, new_patch: int,
                        img_size: tuple[int, int] | None = None) -> tuple[StateDict, dict]:
    """Our state dict + encoder config -> the same with patch size `new_patch` for images of `img_size`
    (default: the config's), the position table resampled to the new grid. Approximate."""
    if any(k.startswith(DECODER_PREFIXES) for k in sd):
        raise ConversionError("patch-size resampling is for encoders: the MAE decoder predicts p*p*C values per patch")
    old_patch = cfg["patch_size"]
    img = tuple(img_size or cfg["img_size"])
    old_grid = (cfg["img_size"][0] // old_patch, cfg["img_size"][1] // old_patch)
    new_grid = (img[0] // new_patch, img[1] // new_patch)
    out = dict(sd)
    out["patch_embed.proj.weight"] = resample_patch_embed(sd["patch_embed.proj.weight"], new_patch)
    out["pos_embed"] = resample_pos_embed(sd["pos_embed"], new_grid, old_grid)
    new_cfg = dict(cfg, patch_size=new_patch, img_size=list(img))
    logger.info("patch size %d -> %d, grid %s -> %s (approximate)", old_patch, new_patch, old_grid, new_grid)
    return out, new_cfg


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a - b).norm() / b.norm()).item()


@torch.no_grad()
def measure_resample_error(model, images: torch.Tensor, new_patch: int) -> dict[str, float]:
    """Relative error ||a - b|| / ||b|| of the encoder's output after a patch-size change, on `images`
    [B, C, H, W] of the model's image size (``model`` is a :class:`~mae_core.models.vit.VisionTransformer`).

    - ``same_grid_tokens``: new model on the images resized by new/old (same token grid), all output tokens;
    - ``same_grid_tokens_naive``: the same with the kernel merely interpolated (for comparison);
    - ``same_size_cls`` / ``same_size_mean``: new model on the same images (a coarser grid, position table
      resampled, as ViTDet uses ViT-H/14 weights at patch 16): the cls token and the mean patch token.
    """
    from mae_core.models.vit import VisionTransformer

    sd, p = model.state_dict(), model.patch_embed.patch_size[0]
    cfg = encoder_config(sd, {"num_heads": model.num_heads, "img_size": list(model.patch_embed.img_size)})
    ref = model.forward_features(images)
    out = {}
    big = [s * new_patch // p for s in images.shape[-2:]]
    resized = F.interpolate(images, size=big, mode="bilinear", align_corners=False, antialias=new_patch < p)
    for name, weight in (("same_grid_tokens", None), ("same_grid_tokens_naive", "naive")):
        new_sd, new_cfg = resample_patch_size(sd, cfg, new_patch, big)
        if weight == "naive":
            w = F.interpolate(sd["patch_embed.proj.weight"], size=(new_patch, new_patch), mode="bilinear",
                              align_corners=False)
            new_sd["patch_embed.proj.weight"] = w * (p / new_patch) ** 2  # keeps the response to a flat patch
        new = VisionTransformer(**new_cfg).eval()
        new.load_state_dict(new_sd, strict=True)
        out[name] = _rel(new.forward_features(resized), ref)
    new_sd, new_cfg = resample_patch_size(sd, cfg, new_patch)
    new = VisionTransformer(**new_cfg).eval()
    new.load_state_dict(new_sd, strict=True)
    feats = new.forward_features(images)
    out["same_size_cls"] = _rel(feats[:, 0], ref[:, 0])
    out["same_size_mean"] = _rel(feats[:, 1:].mean(1), ref[:, 1:].mean(1))
    return out
