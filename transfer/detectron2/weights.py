"""Checkpoints into the detector, and layer-wise lr decay, through mae_core's one loader / one function.

Two kinds of file, both through ``mae_core.checkpoint.io.load_weights`` (strict: an unlisted missing or unexpected
key is an error naming it):
- an encoder (this project's MAE, the official ``mae_pretrain_vit_*.pth``, or ``convert_checkpoint --to ours``
  output): into the detector's ViT. Decoder keys, and the cls token / final norms that dense features do not use,
  are dropped (logged); relative-position tables are new; a different patch size (ViT-H/14 into ViTDet's /16) is
  resampled with ``mae_core.checkpoint.convert.patch_resample`` (approximate, logged);
- a detectron2 ViTDet detector (model zoo ``model_final_*.pkl`` or ``.pth``: ``backbone.net.*``,
  ``backbone.simfp_*``, ``proposal_generator.*``, ``roi_heads.*``): into the whole detector, one to one.
  ViTDet's ViT has no cls token and no final norm (ours keep them, frozen and unused); its ``pos_embed`` is the
  pretraining table with a cls row, resampled (bicubic, as ViTDet does at run time) to the detector's grid.
In both, a position table or relative-position table of another length is resampled as the model would at run time.
"""
from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from mae_core.checkpoint.convert.patch_resample import resample_patch_embed
from mae_core.checkpoint.io import LoadReport, load_weights, read_state_dict
from mae_core.checkpoint.pretrained import DECODER_PREFIXES
from mae_core.engine.lr_decay import param_groups_lrd
from mae_core.models.attention import _resize_table_1d
from mae_core.models.vit import VisionTransformer

from .backbone import LayerNorm2d

logger = logging.getLogger(__name__)

# New in the detector's ViT: decomposed relative-position tables (zero-init). The pyramid/FPN/heads are outside it.
NEW_IN_DENSE_VIT = ("blocks.*.attn.rel_pos_h", "blocks.*.attn.rel_pos_w")
# In an encoder file, not used by dense features (ViTDet's ViT has none of them): dropped with a log line.
UNUSED_BY_DENSE = ("cls_token", "norm.weight", "norm.bias", "fc_norm.weight", "fc_norm.bias")
# Ours, absent from a ViTDet detector file (frozen, unused); GeneralizedRCNN's non-persistent buffers.
VITDET_ABSENT = ("cls_token", "norm.weight", "norm.bias")
VITDET_EXTRA = ("pixel_mean", "pixel_std")
NORM_TYPES = (nn.LayerNorm, LayerNorm2d, nn.GroupNorm, nn.modules.batchnorm._BatchNorm)


def find_vit(model: nn.Module) -> tuple[str, VisionTransformer]:
    """-> (prefix such as "backbone.net.", the ViT) of the one VisionTransformer inside a detector."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, VisionTransformer)]
    if len(found) != 1:
        raise ValueError(f"expected one VisionTransformer in {type(model).__name__}, found {len(found)}: "
                         f"{[n for n, _ in found]}")
    name, vit = found[0]
    return (name + "." if name else ""), vit


def read_detector_file(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict from ``.pth`` (torch) or detectron2's ``.pkl`` (pickled numpy arrays under ``model``)."""
    if Path(path).suffix != ".pkl":
        return read_state_dict(path)[0]
    with open(path, "rb") as f:
        data = pickle.load(f, encoding="latin1")
    sd = data.get("model", data) if isinstance(data, dict) else None
    if not isinstance(sd, dict):
        raise ValueError(f"{path}: a detectron2 .pkl holds a dict (with 'model'); found {type(data).__name__}")
    return {k: torch.as_tensor(np.asarray(v)) for k, v in sd.items()}


def fit_tables(sd: dict[str, torch.Tensor], model: nn.Module, source: str) -> tuple[dict, list[str]]:
    """Resamples what the model resamples at run time to the model's sizes: relative-position tables (linear,
    as ``get_rel_pos`` / our Attention do) and patch kernels of another size (pseudo-inverse, approximate)."""
    own, out, changed = model.state_dict(), dict(sd), []
    for k, v in sd.items():
        if k not in own or own[k].shape == v.shape:
            continue
        if k.endswith(("rel_pos_h", "rel_pos_w")) and v.ndim == 2 and v.shape[1] == own[k].shape[1]:
            out[k] = _resize_table_1d(v.float(), own[k].shape[0]).to(v.dtype)
            changed.append(f"{k}: {v.shape[0]} -> {own[k].shape[0]} rows")
        elif k.endswith("patch_embed.proj.weight") and v.shape[:2] == own[k].shape[:2]:
            out[k] = resample_patch_embed(v, own[k].shape[-1])
            changed.append(f"{k}: patch {v.shape[-1]} -> {own[k].shape[-1]} (approximate, see the config docstring)")
    if changed:
        logger.warning("%s: resampled to the model: %s", source, "; ".join(changed))
    return out, changed


def load_mae_into_detector(model: nn.Module, path: str | os.PathLike, sd: dict | None = None) -> LoadReport:
    """Loads an encoder checkpoint (see the module docstring; ``sd``: its state dict if already read) into the
    detector's ViT; the report's ``resized`` lists the position table and any resampled tables."""
    prefix, vit = find_vit(model)
    sd = read_state_dict(path)[0] if sd is None else sd
    enc = {k: v for k, v in sd.items() if not k.startswith(DECODER_PREFIXES) and k not in UNUSED_BY_DENSE}
    dropped = sorted(set(sd) - set(enc))
    enc, changed = fit_tables(enc, vit, str(path))
    report = load_weights(vit, enc, allow_missing=NEW_IN_DENSE_VIT + VITDET_ABSENT, source=str(path))
    report.resized += changed
    if dropped:
        logger.info("%s: dropped %d tensors unused by the detector (%s ...)", path, len(dropped),
                    ", ".join(dropped[:4]))
    logger.info("loaded %s into %s: %d tensors; new: %d", path, prefix.rstrip(".") or "the ViT",
                len(enc) - len(report.unexpected), len(report.missing))
    return report


def load_vitdet_into_detector(model: nn.Module, path: str | os.PathLike, sd: dict | None = None) -> LoadReport:
    """Loads a detectron2 ViTDet detector checkpoint into our whole detector, one key to one key."""
    prefix, _ = find_vit(model)
    sd, changed = fit_tables(read_detector_file(path) if sd is None else sd, model, str(path))
    report = load_weights(model, sd, allow_missing=tuple(prefix + k for k in VITDET_ABSENT),
                          allow_unexpected=VITDET_EXTRA, source=str(path))
    report.resized += changed
    return report


def load_pretrained(model: nn.Module, path: str | os.PathLike) -> LoadReport:
    """A ViTDet detector file (keys ``backbone.net.*``) or an encoder file, each by its loader above."""
    sd = read_detector_file(path)
    if any(k.startswith("backbone.net.") for k in sd):
        return load_vitdet_into_detector(model, path, sd)
    return load_mae_into_detector(model, path, sd)


def vit_param_groups(model: nn.Module, base_lr: float, layer_decay: float = 0.7, weight_decay: float = 0.1,
                     prefix: str | None = None, no_decay: tuple[str, ...] | list[str] = ("pos_embed",),
                     norm_decay: bool = False, vit_lr_mult: float = 1.0) -> list[dict]:
    """AdamW groups with ``lr = base_lr * layer_decay ** (depth + 1 - layer_id)`` (ViTDet's numbering) from
    ``mae_core.engine.lr_decay.param_groups_lrd``, and ViTDet's weight-decay rule (detectron2's
    ``get_default_optimizer_params(weight_decay_norm=0.0, overrides={"pos_embed": {"weight_decay": 0.0}})``):
    no decay on parameters named in ``no_decay`` and, unless ``norm_decay``, on norm layers; biases and
    relative-position tables are decayed. The ViT's prefix ("backbone.net.") is found when not given.
    ``vit_lr_mult`` scales the lr of every ViT parameter (names under the prefix) on top of the decay, leaving the
    pyramid and heads at ``base_lr``: a pretrained backbone tuned gentler than the new layers, as detection codebases
    set a backbone lr multiplier."""
    if vit_lr_mult <= 0:
        raise ValueError(f"vit_param_groups: vit_lr_mult must be > 0, got {vit_lr_mult}")
    if prefix is None:
        prefix, _ = find_vit(model)
    norm_params = set() if norm_decay else {id(p) for m in model.modules() if isinstance(m, NORM_TYPES)
                                            for p in m.parameters(recurse=False)}
    skip = tuple(no_decay)
    out: dict[tuple[int, bool, bool], dict] = {}
    for g in param_groups_lrd(model, weight_decay=weight_decay, layer_decay=layer_decay, prefix=prefix):
        for n, p in zip(g["names"], g["params"]):
            decay = not (id(p) in norm_params or any(n.endswith(s) for s in skip))
            in_vit = n.startswith(prefix)
            scale = g["lr_scale"] * (vit_lr_mult if in_vit else 1.0)
            out.setdefault((g["layer_id"], in_vit, decay), {
                "params": [], "lr": base_lr * scale, "lr_scale": scale, "layer_id": g["layer_id"],
                "weight_decay": weight_decay if decay else 0.0})["params"].append(p)
    return [out[k] for k in sorted(out)]
