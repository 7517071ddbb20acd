"""Hugging Face transformers' ``ViTMAEModel`` (keys ``embeddings.*``, ``encoder.layer.{i}.*``, ``layernorm``) and
``ViTMAEForPreTraining`` (the same under ``vit.``, plus ``decoder.*``). q, k, v are separate linears in HF and one
``qkv`` linear here (rows in q, k, v order). transformers is imported only by :func:`build_hf_model`.
"""
from __future__ import annotations

import re

import torch

from mae_core.checkpoint.convert.common import (
    ConversionReport,
    StateDict,
    fold_layer_scale,
    identity_norm,
    require_absent,
    split_decoder,
)

NAME = "hf"
_LAYER = r"\d+\.(attention\.attention\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense" \
         r"|layernorm_before|layernorm_after)\.(weight|bias)"
PATTERNS = (r"(vit\.)?embeddings\.(cls_token|position_embeddings|patch_embeddings\.projection\.(weight|bias))",
            r"(vit\.)?encoder\.layer\." + _LAYER, r"(vit\.)?layernorm\.(weight|bias)",
            r"decoder\.(mask_token|decoder_pos_embed|decoder_(embed|norm|pred)\.(weight|bias))",
            r"decoder\.decoder_layers\." + _LAYER)
SIGNATURE = r"(vit\.)?embeddings\.patch_embeddings\.projection\.weight"
_TOP = {"embeddings.cls_token": "cls_token", "embeddings.position_embeddings": "pos_embed",
        "embeddings.patch_embeddings.projection": "patch_embed.proj", "layernorm": "norm",
        "decoder.mask_token": "mask_token", "decoder.decoder_pos_embed": "decoder_pos_embed",
        "decoder.decoder_embed": "decoder_embed", "decoder.decoder_norm": "decoder_norm",
        "decoder.decoder_pred": "decoder_pred"}
_SUB = {"attention.output.dense": "attn.proj", "intermediate.dense": "mlp.fc1", "output.dense": "mlp.fc2",
        "layernorm_before": "norm1", "layernorm_after": "norm2"}
_STACKS = (("encoder.layer.", "blocks."), ("decoder.decoder_layers.", "decoder_blocks."))


def _split_suffix(key: str) -> tuple[str, str]:
    base, _, suffix = key.rpartition(".")
    return (base, "." + suffix) if suffix in ("weight", "bias") else (key, "")


def to_ours(sd: StateDict, report: ConversionReport) -> StateDict:
    out, qkv = {}, {}
    for k, v in sd.items():
        key = k[len("vit."):] if k.startswith("vit.") else k
        base, suffix = _split_suffix(key)
        for theirs, ours in _STACKS:
            if m := re.fullmatch(re.escape(theirs) + r"(\d+)\.(.+)", base):
                i, sub = m.group(1), m.group(2)
                if sub.startswith("attention.attention."):
                    qkv.setdefault((ours + i, suffix), {})[sub.rsplit(".", 1)[1]] = v
                else:
                    out[f"{ours}{i}.{_SUB[sub]}{suffix}"] = v
                break
        else:
            out[_TOP[base] + suffix] = v
        report.renamed += 1
    for (block, suffix), parts in qkv.items():
        out[f"{block}.attn.qkv{suffix}"] = torch.cat([parts["query"], parts["key"], parts["value"]])
    return out


def from_ours(sd: StateDict, cfg: dict, report: ConversionReport,
              dec_cfg: dict | None = None) -> tuple[StateDict, dict]:
    require_absent(sd, ("rel_pos_h", "rel_pos_w", "relative_position_bias_table"), NAME, "relative position")
    sd = fold_layer_scale(sd, report, NAME)
    enc, dec = split_decoder(sd)
    pretraining = "decoder_embed.weight" in dec
    prefix = "vit." if pretraining else ""
    inv_top, inv_sub = {v: k for k, v in _TOP.items()}, {v: k for k, v in _SUB.items()}
    out = {}
    for k, v in {**enc, **dec}.items():
        base, suffix = _split_suffix(k)
        m = re.fullmatch(r"(blocks|decoder_blocks)\.(\d+)\.(.+)", base)
        if m:
            stack = "encoder.layer." if m.group(1) == "blocks" else "decoder.decoder_layers."
            head = (prefix if m.group(1) == "blocks" else "") + stack + m.group(2) + "."
            if m.group(3) == "attn.qkv":
                for name, part in zip(("query", "key", "value"), v.chunk(3)):
                    out[f"{head}attention.attention.{name}{suffix}"] = part
            else:
                out[f"{head}{inv_sub[m.group(3)]}{suffix}"] = v
        elif base in inv_top:
            theirs = inv_top[base]
            out[(prefix if not theirs.startswith("decoder.") else "") + theirs + suffix] = v
        else:
            report.drop(k, "ViTMAE has no " + ("pooled norm / classification head" if base in ("fc_norm", "head")
                                                else "such tensor"))
            continue
        report.renamed += 1
    if "norm.weight" not in enc:  # fine-tuned files: no final norm; HF always applies `layernorm`
        w, b = identity_norm(cfg["embed_dim"], enc["patch_embed.proj.weight"])
        out[prefix + "layernorm.weight"], out[prefix + "layernorm.bias"] = w, b
        report.create(prefix + "layernorm.weight", "ones/zeros: the source has no final norm (exact)")
    return out, {"hf": hf_config(cfg, dec_cfg, enc, dec)}


def hf_config(cfg: dict, dec_cfg: dict | None, enc: StateDict, dec: StateDict) -> dict:
    """``ViTMAEConfig`` kwargs (layer_norm_eps 1e-6 as ours, not HF's default 1e-12)."""
    d = cfg["embed_dim"]
    out = dict(hidden_size=d, num_hidden_layers=cfg["depth"], num_attention_heads=cfg["num_heads"],
               intermediate_size=enc["blocks.0.mlp.fc1.weight"].shape[0], image_size=cfg["img_size"][0],
               patch_size=cfg["patch_size"], num_channels=cfg.get("in_chans", 3), qkv_bias=cfg.get("qkv_bias", True),
               layer_norm_eps=1e-6, hidden_act="gelu")
    if dec_cfg:
        out.update(decoder_hidden_size=dec_cfg["decoder_embed_dim"], decoder_num_hidden_layers=dec_cfg["decoder_depth"],
                   decoder_num_attention_heads=dec_cfg["decoder_num_heads"],
                   decoder_intermediate_size=dec["decoder_blocks.0.mlp.fc1.weight"].shape[0],
                   norm_pix_loss=bool(dec_cfg.get("norm_pix_loss", False)))
    return out


def build_hf_model(hf_cfg: dict, pretraining: bool | None = None, **overrides):
    """``ViTMAEForPreTraining`` (with a decoder config) or ``ViTMAEModel`` from the manifest's ``hf`` entry."""
    from transformers import ViTMAEConfig, ViTMAEForPreTraining, ViTMAEModel

    config = ViTMAEConfig(**{**hf_cfg, **overrides})
    use_pre = ("decoder_hidden_size" in hf_cfg) if pretraining is None else pretraining
    return (ViTMAEForPreTraining if use_pre else ViTMAEModel)(config)
