"""Layer-wise learning-rate decay: the one function every trainer uses (classification, detectron2, mmseg).

A parameter at layer id ``i`` of ``num_layers + 1`` gets ``lr_scale = decay ** (num_layers + 1 - i)`` with
num_layers = depth + 1: embeddings (patch_embed, cls_token, pos_embed, mask tokens) are layer 0, block ``k`` is
layer ``k + 1``, everything after the encoder (norms, heads, pyramids, necks) is the top layer (scale 1).
The reference MAE code, ViTDet and mmseg's LayerDecayOptimizerConstructor give the same numbers; what differs is
where they find the ViT in a parameter name, which is the ``prefix`` argument here (``""``, ``"backbone.net."``,
``"backbone."``) and the block container's name (``blocks``; mmseg's own BEiT calls it ``layers``).
"""
from __future__ import annotations

import re
from collections.abc import Iterable

import torch.nn as nn

EMBED_NAMES = ("patch_embed", "cls_token", "pos_embed", "mask_token", "encoder_mask_token")


def vit_layer_id(name: str, depth: int, prefix: str = "", block_name: str = "blocks") -> int:
    """Layer id of a parameter: 0 for embeddings, k + 1 for block k, depth + 1 for the rest."""
    if not name.startswith(prefix):
        return depth + 1
    rest = name[len(prefix):]
    if rest.split(".")[0] in EMBED_NAMES:
        return 0
    m = re.match(rf"{re.escape(block_name)}\.(\d+)\.", rest)
    return int(m.group(1)) + 1 if m else depth + 1


def no_weight_decay(name: str, param, skip_names: Iterable[str] = ()) -> bool:
    """Biases, 1-D parameters (norms, layer scales) and the named ones (e.g. pos_embed) take no weight decay."""
    return param.ndim <= 1 or name.endswith(".bias") or any(name.endswith(s) for s in skip_names)


def param_groups_lrd(model: nn.Module, weight_decay: float = 0.05, layer_decay: float = 0.75, depth: int | None = None,
                     prefix: str = "", block_name: str = "blocks", skip_names: Iterable[str] = (),
                     base_lr: float | None = None) -> list[dict]:
    """Parameter groups for AdamW with ``lr_scale`` per group (and ``lr = base_lr * lr_scale`` when given).

    depth: number of blocks (found from ``{prefix}{block_name}.N`` names when None).
    """
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if depth is None:
        ids = [int(m.group(1)) for n, _ in named if (m := re.match(rf"{re.escape(prefix + block_name)}\.(\d+)\.", n))]
        depth = max(ids) + 1 if ids else 0
    skip = tuple(skip_names)
    groups: dict[tuple[int, bool], dict] = {}
    for n, p in named:
        lid = vit_layer_id(n, depth, prefix, block_name)
        decay = not no_weight_decay(n, p, skip)
        g = groups.setdefault((lid, decay), {"params": [], "names": [], "layer_id": lid,
                                              "weight_decay": weight_decay if decay else 0.0,
                                              "lr_scale": layer_decay ** (depth + 1 - lid)})
        g["params"].append(p)
        g["names"].append(n)
    out = [groups[k] for k in sorted(groups)]
    if base_lr is not None:
        for g in out:
            g["lr"] = base_lr * g["lr_scale"]
    return out
