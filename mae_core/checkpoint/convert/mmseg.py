"""mmsegmentation 1.x's ``MAE`` / ``BEiT`` backbones (``mmseg/models/backbones/mae.py``, ``beit.py``).

Names: ``patch_embed.projection``, ``layers.{i}.ln1/ln2``, ``attn.qkv``, ``attn.proj``, ``ffn.layers.0.0`` (fc1),
``ffn.layers.1`` (fc2), ``gamma_1/2`` (layer scale), ``attn.relative_position_bias_table`` (+ the buffer
``relative_position_index``), ``ln1`` (final norm, with ``final_norm=True``), ``cls_token``, ``pos_embed``; all
with a ``backbone.`` prefix inside a segmentor checkpoint. ``MAE`` has a full ``qkv.bias``; ``BEiT`` has
``q_bias``/``v_bias`` (no key bias) and no ``pos_embed``. Written files are un-prefixed under ``state_dict``,
which is what ``MAE(init_cfg=dict(type='Pretrained', checkpoint=...))`` reads.
"""
from __future__ import annotations

import re

import torch

from mae_core.checkpoint.convert.common import (
    ConversionError,
    ConversionReport,
    StateDict,
    require_absent,
    split_decoder,
)
from mae_core.models.attention import relative_position_index

NAME = "mmseg"
_BLOCK = {"ln1": "norm1", "ln2": "norm2", "attn.qkv": "attn.qkv", "attn.proj": "attn.proj",
          "ffn.layers.0.0": "mlp.fc1", "ffn.layers.1": "mlp.fc2"}
_TOP = {"patch_embed.projection": "patch_embed.proj", "ln1": "norm"}
PATTERNS = (r"(backbone\.)?(cls_token|pos_embed|(patch_embed\.projection|ln1)\.(weight|bias))",
            r"(backbone\.)?layers\.\d+\.((ln1|ln2|attn\.qkv|attn\.proj|ffn\.layers\.0\.0|ffn\.layers\.1)\.(weight|bias)"
            r"|gamma_[12]|attn\.(q_bias|v_bias|relative_position_bias_table|relative_position_index))",
            r"(decode_head|auxiliary_head)\..+")
SIGNATURE = r"(backbone\.)?patch_embed\.projection\.weight"


def _rename(key: str) -> str | None:
    if m := re.fullmatch(r"layers\.(\d+)\.(.+)\.(weight|bias)", key):
        return f"blocks.{m.group(1)}.{_BLOCK[m.group(2)]}.{m.group(3)}"
    if m := re.fullmatch(r"layers\.(\d+)\.gamma_([12])", key):
        return f"blocks.{m.group(1)}.ls{m.group(2)}.gamma"
    if m := re.fullmatch(r"layers\.(\d+)\.attn\.relative_position_bias_table", key):
        return f"blocks.{m.group(1)}.attn.relative_position_bias_table"
    if m := re.fullmatch(r"(.+)\.(weight|bias)", key):
        return f"{_TOP[m.group(1)]}.{m.group(2)}" if m.group(1) in _TOP else None
    return key if key in ("cls_token", "pos_embed") else None


def to_ours(sd: StateDict, report: ConversionReport) -> StateDict:
    out = {}
    for k, v in sd.items():
        key = k[len("backbone."):] if k.startswith("backbone.") else k
        if key.startswith(("decode_head.", "auxiliary_head.")):
            report.drop(k, "segmentation heads: not part of the encoder")
        elif key.endswith("relative_position_index"):
            report.drop(k, "buffer, recomputed from the grid")
        elif key.endswith(("q_bias", "v_bias")):
            continue  # merged below
        else:
            out[_rename(key)] = v
            report.renamed += 1
    for k in [k for k in sd if k.endswith(".attn.q_bias")]:  # BEiT: qkv bias = (q, 0, v), exact
        i = re.search(r"layers\.(\d+)\.", k).group(1)
        q, v = sd[k], sd[k[: -len("q_bias")] + "v_bias"]
        out[f"blocks.{i}.attn.qkv.bias"] = torch.cat([q, torch.zeros_like(q), v])
        report.create(f"blocks.{i}.attn.qkv.bias", "concatenated from BEiT's q_bias, zeros (key), v_bias")
    w = out["patch_embed.proj.weight"]
    d = w.shape[0]
    if "pos_embed" not in out:
        n = sd[next(k for k in sd if k.endswith("relative_position_index"))].shape[0]
        out["pos_embed"] = w.new_zeros(1, n, d)
        report.create("pos_embed", "zeros: BEiT adds no absolute position embedding")
    if "norm.weight" not in out:
        out["fc_norm.weight"], out["fc_norm.bias"] = w.new_ones(d), w.new_zeros(d)
        report.create("fc_norm.weight", "ones/zeros: no final norm (final_norm=False), so ours gets none on the "
                      "tokens (global_pool='avg' with an identity fc_norm)")
    return out


def from_ours(sd: StateDict, cfg: dict, report: ConversionReport) -> tuple[StateDict, dict]:
    require_absent(sd, ("rel_pos_h", "rel_pos_w"), NAME, "decomposed (ViTDet) relative position")
    enc, dec = split_decoder(sd)
    for k in dec:
        report.drop(k, "mmseg's MAE backbone has no MAE decoder")
    inv_block, inv_top = {v: k for k, v in _BLOCK.items()}, {v: k for k, v in _TOP.items()}
    out = {}
    for k, v in enc.items():
        if m := re.fullmatch(r"blocks\.(\d+)\.(.+)\.(weight|bias)", k):
            out[f"layers.{m.group(1)}.{inv_block[m.group(2)]}.{m.group(3)}"] = v
        elif m := re.fullmatch(r"blocks\.(\d+)\.ls([12])\.gamma", k):
            out[f"layers.{m.group(1)}.gamma_{m.group(2)}"] = v
        elif m := re.fullmatch(r"blocks\.(\d+)\.attn\.relative_position_bias_table", k):
            out[f"layers.{m.group(1)}.attn.relative_position_bias_table"] = v
        elif k.startswith(("fc_norm.", "head.")):
            report.drop(k, "mmseg's backbone has no pooled norm or classification head")
            continue
        elif m := re.fullmatch(r"(.+)\.(weight|bias)", k):
            out[f"{inv_top[m.group(1)]}.{m.group(2)}"] = v
        else:
            out[k] = v
        report.renamed += 1
    _complete(out, cfg, report)
    kwargs = dict(type="MAE", img_size=cfg["img_size"][0], patch_size=cfg["patch_size"],
                  in_channels=cfg.get("in_chans", 3), embed_dims=cfg["embed_dim"], num_layers=cfg["depth"],
                  num_heads=cfg["num_heads"], mlp_ratio=_int_ratio(cfg.get("mlp_ratio", 4)),
                  final_norm="ln1.weight" in out,
                  norm_cfg=dict(type="LN", eps=1e-6), init_values=1.0)
    return out, {"mmseg": {"backbone": kwargs}}


def _int_ratio(ratio: float) -> int:
    if float(ratio) != int(ratio):
        raise ConversionError(f"mmseg's MAE multiplies an int mlp_ratio by the width; got mlp_ratio={ratio}")
    return int(ratio)


def _complete(out: StateDict, cfg: dict, report: ConversionReport) -> None:
    """Adds what mmseg's MAE always has: layer scale, the bias table, its index, qkv bias (values that change
    nothing: ones, zeros)."""
    w = out["patch_embed.projection.weight"]
    d, heads = w.shape[0], cfg["num_heads"]
    h, w_ = cfg["img_size"][0] // cfg["patch_size"], cfg["img_size"][1] // cfg["patch_size"]
    index = relative_position_index((h, w_), with_cls=True)
    for i in range(cfg["depth"]):
        p = f"layers.{i}."
        for g in ("gamma_1", "gamma_2"):
            if p + g not in out:
                out[p + g] = w.new_ones(d)
                report.create(p + g, "ones: no layer scale in the source (exact)")
        if p + "attn.relative_position_bias_table" not in out:
            out[p + "attn.relative_position_bias_table"] = w.new_zeros((2 * h - 1) * (2 * w_ - 1) + 3, heads)
            report.create(p + "attn.relative_position_bias_table", "zeros: no relative position in the source (exact)")
        if p + "attn.qkv.bias" not in out:
            out[p + "attn.qkv.bias"] = w.new_zeros(3 * d)
            report.create(p + "attn.qkv.bias", "zeros: the source has qkv_bias=False (exact)")
        out[p + "attn.relative_position_index"] = index.clone()
        report.create(p + "attn.relative_position_index", "computed (buffer) for the pretraining grid")
