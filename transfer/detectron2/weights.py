"""MAE checkpoints into the detector's ViT, and layer-wise lr decay, through mae_core's one loader / one function."""
from __future__ import annotations

import logging
import os

import torch.nn as nn

from mae_core.checkpoint.io import LoadReport, load_weights, read_state_dict
from mae_core.checkpoint.pretrained import DECODER_PREFIXES
from mae_core.engine.lr_decay import param_groups_lrd
from mae_core.models.vit import VisionTransformer

logger = logging.getLogger(__name__)

# New in the detector's ViT: decomposed relative-position tables (zero-init). The pyramid/FPN/heads are outside it.
NEW_IN_DENSE_VIT = ("blocks.*.attn.rel_pos_h", "blocks.*.attn.rel_pos_w")
NO_DECAY_NAMES = ("pos_embed", "cls_token", "rel_pos_h", "rel_pos_w")


def find_vit(model: nn.Module) -> tuple[str, VisionTransformer]:
    """-> (prefix such as "backbone.net.", the ViT) of the one VisionTransformer inside a detector."""
    found = [(name, m) for name, m in model.named_modules() if isinstance(m, VisionTransformer)]
    if len(found) != 1:
        raise ValueError(f"expected one VisionTransformer in {type(model).__name__}, found {len(found)}: "
                         f"{[n for n, _ in found]}")
    name, vit = found[0]
    return (name + "." if name else ""), vit


def load_mae_into_detector(model: nn.Module, path: str | os.PathLike) -> LoadReport:
    """Loads an MAE checkpoint (this project's, official encoder-only ``mae_pretrain_vit_*.pth``, or a full one with
    decoder keys) into the detector's ViT. Decoder keys are dropped (listed in the log); relative-position tables
    are expected to be new; the position table is resampled to the detector's grid; anything else is an error."""
    prefix, vit = find_vit(model)
    sd, _ = read_state_dict(path)
    enc = {k: v for k, v in sd.items() if not k.startswith(DECODER_PREFIXES)}
    dropped = sorted(set(sd) - set(enc))
    report = load_weights(vit, enc, allow_missing=NEW_IN_DENSE_VIT, source=str(path))
    if dropped:
        logger.info("%s: dropped %d decoder tensors (%s ...)", path, len(dropped), ", ".join(dropped[:3]))
    logger.info("loaded %s into %s: %d tensors; new: %d (relative-position tables)", path, prefix.rstrip(".") or
                "the ViT", len(enc) - len(report.unexpected), len(report.missing))
    return report


def vit_param_groups(model: nn.Module, base_lr: float, layer_decay: float = 0.7, weight_decay: float = 0.1,
                     prefix: str | None = None) -> list[dict]:
    """AdamW groups with ``lr = base_lr * layer_decay ** (depth + 1 - layer_id)`` (ViTDet's numbering) from
    ``mae_core.engine.lr_decay.param_groups_lrd``; no weight decay on position embeddings, relative-position tables,
    norms and biases. The ViT's prefix ("backbone.net.", "backbone.bottom_up.net.") is found when not given."""
    if prefix is None:
        prefix, _ = find_vit(model)
    groups = param_groups_lrd(model, weight_decay=weight_decay, layer_decay=layer_decay, prefix=prefix,
                              skip_names=NO_DECAY_NAMES, base_lr=base_lr)
    for g in groups:
        g.pop("names", None)  # keeps optimizer checkpoints small
    return groups
