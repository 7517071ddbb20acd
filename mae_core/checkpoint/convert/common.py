"""What every layout converter shares: the report, key matching, config inference, exact rewrites.

The hub of every conversion is this project's state dict (timm names, see ``mae_core.models.vit``): a layout module
turns its own keys into ours (``to_ours``) and ours into its own (``from_ours``); A -> B is A -> ours -> B.
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import torch

from mae_core.checkpoint.io import CheckpointMismatchError
from mae_core.checkpoint.pretrained import infer_encoder_config

logger = logging.getLogger(__name__)

StateDict = dict[str, torch.Tensor]


class ConversionError(CheckpointMismatchError):
    """A checkpoint cannot be converted as asked; the message names the keys and the reason."""


@dataclass
class ConversionReport:
    """What a conversion did beyond renaming: every dropped and created key with its reason, and notes."""
    source_layout: str = ""
    target_layout: str = ""
    renamed: int = 0
    dropped: dict[str, str] = field(default_factory=dict)   # source key -> why it is not in the output
    created: dict[str, str] = field(default_factory=dict)   # output key -> how it was made
    notes: list[str] = field(default_factory=list)

    def drop(self, key: str, why: str) -> None:
        self.dropped[key] = why

    def create(self, key: str, how: str) -> None:
        self.created[key] = how

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def as_dict(self) -> dict:
        return {"source_layout": self.source_layout, "target_layout": self.target_layout, "renamed": self.renamed,
                "dropped": self.dropped, "created": self.created, "notes": self.notes}


def fmt_keys(keys: list[str], limit: int = 12) -> str:
    keys = sorted(keys)
    more = f" (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def unmatched(keys, patterns: tuple[str, ...]) -> list[str]:
    """Keys that fully match none of the regular expressions."""
    compiled = [re.compile(p) for p in patterns]
    return [k for k in keys if not any(c.fullmatch(k) for c in compiled)]


# Our names (== timm's == the official MAE code's). Block sub-keys are shared by encoder and decoder blocks.
BLOCK_SUBKEYS = (r"(norm1|norm2)\.(weight|bias)", r"attn\.(qkv|proj)\.(weight|bias)",
                 r"attn\.(rel_pos_h|rel_pos_w|relative_position_bias_table)", r"mlp\.(fc1|fc2)\.(weight|bias)",
                 r"ls[12]\.gamma")
ENCODER_PATTERNS = (r"patch_embed\.proj\.(weight|bias)", r"cls_token", r"pos_embed",
                    r"(norm|fc_norm|head)\.(weight|bias)", *(rf"blocks\.\d+\.{s}" for s in BLOCK_SUBKEYS))
DECODER_PATTERNS = (r"mask_token", r"encoder_mask_token", r"decoder_pos_embed",
                    r"decoder_(embed|norm|pred)\.(weight|bias)", r"target\..+",
                    *(rf"decoder_blocks\.\d+\.{s}" for s in BLOCK_SUBKEYS))
OURS_PATTERNS = ENCODER_PATTERNS + DECODER_PATTERNS
DECODER_PREFIXES = ("decoder_", "mask_token", "encoder_mask_token", "target.")


def split_decoder(sd: StateDict) -> tuple[StateDict, StateDict]:
    enc = {k: v for k, v in sd.items() if not k.startswith(DECODER_PREFIXES)}
    return enc, {k: v for k, v in sd.items() if k.startswith(DECODER_PREFIXES)}


def block_ids(sd: StateDict, prefix: str = "blocks.") -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in sd if (m := pat.match(k))})


# ------------------------------------------------------------------------------------------------ exact rewrites
def fold_layer_scale(sd: StateDict, report: ConversionReport, layout: str) -> StateDict:
    """Multiplies each ``ls{1,2}.gamma`` [D] into the linear layer before it (``attn.proj``, ``mlp.fc2``): exact,
    since gamma * (W x + b) = (gamma W) x + gamma b. For layouts without layer scale."""
    out = dict(sd)
    for k in [k for k in sd if k.endswith((".ls1.gamma", ".ls2.gamma"))]:
        base = k[: -len("ls1.gamma")]
        lin = base + ("attn.proj" if ".ls1." in k else "mlp.fc2")
        g = out.pop(k)
        out[lin + ".weight"] = out[lin + ".weight"] * g[:, None]
        out[lin + ".bias"] = out[lin + ".bias"] * g
        report.drop(k, f"{layout} has no layer scale: multiplied into {lin} (exact)")
    return out


def require_absent(sd: StateDict, suffixes: tuple[str, ...], layout: str, what: str) -> None:
    bad = [k for k in sd if k.endswith(suffixes)]
    if bad:
        raise ConversionError(f"{layout} has no {what}; these keys cannot be converted: {fmt_keys(bad)}")


def identity_norm(dim: int, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.ones(dim, dtype=like.dtype), torch.zeros(dim, dtype=like.dtype)


# ------------------------------------------------------------------------------------------------ configs
def encoder_config(sd: StateDict, hint: dict | None = None) -> dict:
    """``VisionTransformer`` kwargs for a state dict in our names; ``hint`` (a manifest's) wins where given.

    Not in the weights and so guessed unless hinted: num_heads (by width), window attention settings.
    """
    enc, _ = split_decoder(sd)
    cfg = infer_encoder_config(enc)
    cfg["img_size"] = [cfg["img_size"], cfg["img_size"]]
    cfg["qkv_bias"] = "blocks.0.attn.qkv.bias" in enc
    if "blocks.0.ls1.gamma" in enc:
        cfg["init_values"] = 1.0  # any value: the loaded gamma replaces it
    if "norm.weight" not in enc:
        cfg["global_pool"], cfg["fc_norm"] = "avg", True
    if "head.weight" in enc:
        cfg["num_classes"] = enc["head.weight"].shape[0]
    if any(k.endswith("attn.relative_position_bias_table") for k in enc):
        cfg["rel_pos"] = "bias"
    if any(k.endswith("attn.rel_pos_h") for k in enc):
        cfg["rel_pos"] = "decomposed"
        cfg.update(_window_config(enc, cfg["patch_size"]))
    cfg.update(hint or {})
    if isinstance(cfg["img_size"], int):
        cfg["img_size"] = [cfg["img_size"], cfg["img_size"]]
    return cfg


def _window_config(enc: StateDict, patch: int) -> dict:
    """ViTDet: window blocks have tables for the window (2*ws - 1 rows), global blocks for the whole grid."""
    lengths = {i: enc[f"blocks.{i}.attn.rel_pos_h"].shape[0] for i in block_ids(enc)}
    sizes = sorted(set(lengths.values()))
    if len(sizes) == 1:
        side = (sizes[0] + 1) // 2
        return {"img_size": [side * patch, side * patch]}
    if len(sizes) > 2:
        raise ConversionError(f"relative position tables of {len(sizes)} sizes {sizes}: expected window + global")
    window, full = (sizes[0] + 1) // 2, (sizes[1] + 1) // 2
    return {"window_size": window, "window_block_indexes": [i for i, n in lengths.items() if n == sizes[0]],
            "img_size": [full * patch, full * patch]}


def decoder_config(sd: StateDict, hint: dict | None = None) -> dict | None:
    """Decoder settings of ``MaskedAutoencoder`` (None without a decoder); heads are 16 (the paper's) unless hinted."""
    if "decoder_embed.weight" not in sd:
        return None
    dim = sd["decoder_embed.weight"].shape[0]
    cfg = {"decoder_embed_dim": dim, "decoder_depth": len(block_ids(sd, "decoder_blocks.")),
           "decoder_num_heads": 16 if dim % 16 == 0 else 1}
    cfg.update(hint or {})
    return cfg
