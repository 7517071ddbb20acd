"""The official MAE layout (``mae_pretrain_vit_*.pth``, ``mae_visualize_vit_*.pth``, ``mae_finetuned_vit_*.pth``)
and this project's own: the same names, so the conversion is the identity plus checks.

- pretrain: encoder only (``norm``, no head); visualize: encoder + decoder (``decoder_*``, ``mask_token``);
- fine-tuned: ``fc_norm`` + ``head`` and no ``norm`` (global average pooling), i.e. ``global_pool="avg"``.
Files keep the weights under ``model``; ours add a ``manifest``.
"""
from __future__ import annotations

from mae_core.checkpoint.convert.common import (
    OURS_PATTERNS,
    ConversionReport,
    StateDict,
    fold_layer_scale,
    require_absent,
)

NAME = "official"
PATTERNS = OURS_PATTERNS
SIGNATURE = r"patch_embed\.proj\.weight"


def to_ours(sd: StateDict, report: ConversionReport) -> StateDict:
    report.renamed = 0
    return dict(sd)


def from_ours(sd: StateDict, cfg: dict, report: ConversionReport) -> tuple[StateDict, dict]:
    """Official files come from the reference ViT (timm 0.3 blocks): no relative position, no layer scale."""
    require_absent(sd, ("rel_pos_h", "rel_pos_w", "relative_position_bias_table"), NAME, "relative position")
    out = fold_layer_scale(sd, report, NAME)
    for k in [k for k in out if k.startswith("target.")]:
        report.drop(k, "reconstruction-target buffers are not part of official files")
        out.pop(k)
    return out, {}
