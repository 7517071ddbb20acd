"""timm's ``VisionTransformer`` (``vit_base_patch16_224`` and the other sizes): the same parameter names as ours.

``from_ours`` also says how to build the timm model from its config (no download): ``build_timm_model``.
"""
from __future__ import annotations

from mae_core.checkpoint.convert.common import (
    ENCODER_PATTERNS,
    ConversionReport,
    StateDict,
    require_absent,
    split_decoder,
)

NAME = "timm"
PATTERNS = ENCODER_PATTERNS
SIGNATURE = r"patch_embed\.proj\.weight"
# (embed_dim, depth, heads, patch) -> timm's model name (at 224 px)
TIMM_NAMES = {(192, 12, 3, 16): "vit_tiny_patch16_224", (384, 12, 6, 16): "vit_small_patch16_224",
              (768, 12, 12, 16): "vit_base_patch16_224", (1024, 24, 16, 16): "vit_large_patch16_224",
              (1280, 32, 16, 14): "vit_huge_patch14_224"}


def to_ours(sd: StateDict, report: ConversionReport) -> StateDict:
    return dict(sd)


def timm_kwargs(cfg: dict) -> dict:
    """timm ``VisionTransformer`` kwargs for one of our encoder configs."""
    keys = ("img_size", "patch_size", "in_chans", "embed_dim", "depth", "num_heads", "mlp_ratio", "qkv_bias",
            "num_classes", "global_pool", "fc_norm", "init_values")
    out = {k: cfg[k] for k in keys if cfg.get(k) is not None}
    out.setdefault("num_classes", 0)
    out["img_size"] = tuple(out.get("img_size", (224, 224)))
    return out


def from_ours(sd: StateDict, cfg: dict, report: ConversionReport) -> tuple[StateDict, dict]:
    require_absent(sd, ("rel_pos_h", "rel_pos_w", "relative_position_bias_table"), NAME, "relative position")
    enc, dec = split_decoder(sd)
    for k in dec:
        report.drop(k, "timm's VisionTransformer has no MAE decoder")
    kwargs = timm_kwargs(cfg)
    size = (cfg["embed_dim"], cfg["depth"], cfg["num_heads"], cfg["patch_size"])
    name = TIMM_NAMES.get(size) if list(kwargs["img_size"]) == [224, 224] else None
    return enc, {"timm": {"model_name": name, "kwargs": kwargs}}


def build_timm_model(timm_manifest: dict):
    """The timm model a converted file loads into with ``strict=True``, built from config (no download)."""
    import timm
    from timm.models.vision_transformer import VisionTransformer

    kwargs = dict(timm_manifest["kwargs"])
    if timm_manifest.get("model_name"):
        return timm.create_model(timm_manifest["model_name"], pretrained=False, **kwargs)
    return VisionTransformer(**kwargs)
