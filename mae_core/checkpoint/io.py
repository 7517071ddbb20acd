"""Checkpoints: the one loader (with a strict report of missing / unexpected keys), atomic saves, manifests."""
from __future__ import annotations

import fnmatch
import logging
import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn as nn

from mae_core.errors import CheckpointMismatchError  # (raised here; importable from here as before)

from .atomic import atomic_write

logger = logging.getLogger(__name__)

STATE_KEYS = ("model", "state_dict", "module", "model_ema")


@dataclass
class LoadReport:
    missing: list[str] = field(default_factory=list)       # in the model, not in the checkpoint
    unexpected: list[str] = field(default_factory=list)    # in the checkpoint, not in the model
    resized: list[str] = field(default_factory=list)       # loaded after resampling (position tables)

    def as_dict(self) -> dict:
        return {"missing": self.missing, "unexpected": self.unexpected, "resized": self.resized}

    def __str__(self) -> str:
        def fmt(keys):
            return ", ".join(keys[:20]) + (f" (+{len(keys) - 20} more)" if len(keys) > 20 else "") if keys else "none"
        return f"missing: {fmt(self.missing)}; unexpected: {fmt(self.unexpected)}; resized: {fmt(self.resized)}"


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Reads a whole checkpoint file (a dict) on the CPU; a damaged or truncated file raises
    :class:`CheckpointMismatchError` naming it (never a raw unpickling traceback)."""
    path = Path(path)
    if (path / ".metadata").is_file():   # a torch.distributed.checkpoint folder (FSDP): consolidated in memory
        from mae_core.engine.strategy import consolidate
        return consolidate(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as e:  # noqa: BLE001 - any unpickling error becomes one clear message
        raise CheckpointMismatchError(f"{path}: not a readable PyTorch checkpoint ({type(e).__name__}: {e})") from e
    if not isinstance(ckpt, dict):
        raise CheckpointMismatchError(f"{path}: expected a dict, found {type(ckpt).__name__}")
    return ckpt


def read_state_dict(path: str | os.PathLike, key: str | None = None) -> tuple[dict, dict]:
    """Reads a checkpoint file -> (state_dict, whole file as a dict). Finds the weights under ``model`` & co."""
    ckpt = read_checkpoint(path)
    if key is not None:
        if key not in ckpt:
            raise CheckpointMismatchError(f"{path}: no key {key!r}; top-level keys: {sorted(ckpt)[:20]}")
        return ckpt[key], ckpt
    for k in STATE_KEYS:
        if k in ckpt and isinstance(ckpt[k], dict):
            return ckpt[k], ckpt
    if all(isinstance(v, torch.Tensor) for v in ckpt.values()):
        return ckpt, ckpt
    raise CheckpointMismatchError(f"{path}: no weights under any of {STATE_KEYS}; top-level keys: {sorted(ckpt)[:20]}")


def _matches(key: str, patterns: tuple[str, ...] | list[str]) -> bool:
    return any(fnmatch.fnmatchcase(key, p) for p in patterns)


def strip_module_prefix(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keys without DDP's ``module.`` prefix."""
    return {k[len("module."):] if k.startswith("module.") else k: v for k, v in state_dict.items()}


def load_weights(model: nn.Module, state_dict: dict[str, torch.Tensor], allow_missing: tuple[str, ...] = (),
                 allow_unexpected: tuple[str, ...] = (), strict: bool = True, source: str = "checkpoint") -> LoadReport:
    """Loads ``state_dict`` into ``model``, the one loader every consumer uses.

    - ``module.`` prefixes (DDP) are stripped;
    - position tables (``pos_embed``, ``decoder_pos_embed``) of another grid are resampled;
    - missing keys matching ``allow_missing`` (glob patterns, e.g. ``head.*``) and unexpected keys matching
      ``allow_unexpected`` are reported; any other mismatch raises :class:`CheckpointMismatchError` listing the
      keys when ``strict`` (the default), else is logged.
    """
    from mae_core.models.pos_embed import resample_pos_embed

    sd = strip_module_prefix(state_dict)
    own = model.state_dict()
    report = LoadReport()
    to_load = {}
    shape_errors = []
    for k, v in sd.items():
        if k not in own:
            report.unexpected.append(k)
            continue
        if v.shape != own[k].shape:
            if k.endswith("pos_embed") and v.ndim == 3 and v.shape[-1] == own[k].shape[-1]:
                new_grid = _grid_of(model, k)
                v = resample_pos_embed(v, new_grid, num_prefix_tokens=1)
                report.resized.append(k)
            else:
                shape_errors.append(f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}")
                continue
        to_load[k] = v
    report.missing = [k for k in own if k not in sd]
    bad_missing = [k for k in report.missing if not _matches(k, allow_missing)]
    bad_unexpected = [k for k in report.unexpected if not _matches(k, allow_unexpected)]
    if shape_errors or bad_missing or bad_unexpected:
        msg = (f"{source} does not fit {type(model).__name__}:\n  shape mismatch: {shape_errors or 'none'}\n"
               f"  missing (not allowed): {bad_missing or 'none'}\n  unexpected (not allowed): {bad_unexpected or 'none'}")
        if strict:
            raise CheckpointMismatchError(msg)
        logger.warning(msg)
    model.load_state_dict(to_load, strict=False)
    logger.info("loaded %s: %s", source, report)
    return report


def _grid_of(model: nn.Module, key: str) -> tuple[int, int]:
    mod = model
    for part in key.split(".")[:-1]:
        mod = getattr(mod, part)
    return tuple(mod.patch_embed.grid_size)


def atomic_save(obj: dict, path: str | os.PathLike, keep_previous: str | os.PathLike | None = None) -> None:
    """torch.save through :func:`~mae_core.checkpoint.atomic.atomic_write`: a kill never leaves a broken file.
    ``keep_previous``: a path the existing file is first renamed to (atomically; e.g. checkpoint-prev.pth), so a
    good previous checkpoint always sits beside the new one."""
    atomic_write(path, lambda f: torch.save(obj, f), keep_previous=keep_previous)


def package_versions() -> dict[str, str]:
    import timm
    import torchvision

    from mae_core import __version__
    return {"mae_core": __version__, "torch": torch.__version__, "torchvision": torchvision.__version__,
            "timm": timm.__version__, "python": platform.python_version()}
