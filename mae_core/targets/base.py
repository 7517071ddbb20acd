"""Reconstruction targets behind one interface.

A target turns images into what the decoder must predict for every patch and scores the prediction on the masked
patches only:
    target = t(imgs)            # [N, L, out_dim] (regression) or [N, L] long (token classification)
    loss = t.loss(pred, target, mask)   # pred [N, L, out_dim], mask [N, L] (1 = removed)
Optional hooks the engine calls: ``set_input_stats(mean, std)`` (the data's normalisation, for targets that need
pixels in [0, 1]) and, when ``needs_fit`` is true, ``fit(patches)`` on a sample of training patches before training.
Built-in targets beyond pixels live in their own modules (pca, token, hog), imported lazily.
"""
from __future__ import annotations

import importlib
import inspect

import torch
import torch.nn as nn

from mae_core.config import ConfigError
from mae_core.models.patches import patchify

BUILTIN_MODULES = ("pca", "token", "hog")


def masked_mean(per_patch: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """per_patch [N, L], mask [N, L] -> mean over the removed patches."""
    return (per_patch * mask).sum() / mask.sum().clamp_min(1)


class ReconstructionTarget(nn.Module):
    """Base class: ``out_dim`` is the decoder head's width; ``kind`` names the target in checkpoint manifests."""

    kind = "base"
    out_dim: int

    @property
    def needs_fit(self) -> bool:
        """True while the target still has to see training data (``fit``) before it can be used."""
        return False

    def set_input_stats(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        """The mean/std the images were normalised with; targets working on [0, 1] pixels keep them."""

    @classmethod
    def check_args(cls, patch_size: int, in_chans: int, **kwargs) -> None:
        """Raises ValueError when the target's arguments cannot work (before any model is built)."""
        params = inspect.signature(cls.__init__).parameters
        unknown = sorted(set(kwargs) - set(params) - {"patch_size", "in_chans"})
        if unknown and not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            raise ValueError(f"unknown argument(s) {', '.join(unknown)} for target {cls.kind!r}; "
                             f"known: {', '.join(k for k in params if k not in ('self', 'patch_size', 'in_chans'))}")

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


def target_class(name: str) -> type:
    """The class behind a target name (built-in modules are imported on first use)."""
    if name in ("pixel", "norm_pixel"):
        return PixelTarget
    if name not in TARGETS:
        for mod in BUILTIN_MODULES:
            importlib.import_module(f"{__package__}.{mod}")
    if name not in TARGETS:
        raise ValueError(f"unknown reconstruction target {name!r}; known: pixel, norm_pixel, {', '.join(TARGETS)}")
    return TARGETS[name]


def build_target(name: str, patch_size: int, in_chans: int, **kwargs) -> ReconstructionTarget:
    """'pixel' | 'norm_pixel' | any registered name ('pca', 'dvae_token', 'hog', ...)."""
    if name in ("pixel", "norm_pixel"):
        if kwargs:
            raise ValueError(f"target {name!r} takes no arguments, got {', '.join(kwargs)}")
        return PixelTarget(patch_size, in_chans, norm=name == "norm_pixel")
    return target_class(name)(patch_size=patch_size, in_chans=in_chans, **kwargs)


def parse_target_args(text: str) -> dict:
    """'a=1,b=x' -> {'a': 1, 'b': 'x'} (numbers parsed)."""
    out = {}
    for item in filter(None, (s.strip() for s in text.split(","))):
        if "=" not in item:
            raise ConfigError(f"model.target_args item {item!r} is not key=value")
        k, v = item.split("=", 1)
        try:
            out[k] = int(v) if v.lstrip("-").isdigit() else float(v) if v.replace(".", "", 1).isdigit() else v
        except ValueError:
            out[k] = v
    return out


def validate_target(name: str, args_text: str, patch_size: int, in_chans: int) -> None:
    """Raises ConfigError naming ``model.target`` / ``model.target_args`` when the target cannot be built."""
    try:
        cls = target_class(name)
    except ValueError as e:
        raise ConfigError(f"model.target={name!r}: {e}") from None
    args = parse_target_args(args_text)
    if cls is PixelTarget:
        if args:
            raise ConfigError(f"model.target_args={args_text!r}: target {name!r} takes no arguments")
        return
    try:
        cls.check_args(patch_size=patch_size, in_chans=in_chans, **args)
    except (ValueError, FileNotFoundError) as e:
        raise ConfigError(f"model.target={name!r} with model.target_args={args_text!r}: {e}") from None
