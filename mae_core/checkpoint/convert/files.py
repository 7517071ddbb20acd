"""Reading a checkpoint in any layout and writing one, with its manifest and a JSON report beside it."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.checkpoint.convert.common import ConversionReport, StateDict
from mae_core.checkpoint.convert.layouts import convert_state_dict, detect_layout
from mae_core.checkpoint.io import atomic_save, package_versions, read_state_dict

logger = logging.getLogger(__name__)


def sidecar_path(path: str | os.PathLike) -> Path:
    """The JSON report beside a converted file: ``<file>.json``."""
    return Path(str(path) + ".json")


def read_any(path: str | os.PathLike) -> tuple[StateDict, str, dict]:
    """-> (state dict, container kind: 'manifest' | 'wrapped' | 'flat', manifest or {}).

    The manifest comes from the file itself (ours), else from a report written beside it by a conversion, else
    from a Hugging Face ``config.json`` in the same folder (for the number of heads).
    """
    sd, whole = read_state_dict(path)
    if isinstance(whole.get("manifest"), dict):
        return sd, "manifest", whole["manifest"]
    container = "flat" if sd is whole else "wrapped"
    side = sidecar_path(path)
    if side.is_file():
        return sd, container, json.loads(side.read_text()).get("manifest", {})
    cfg = Path(path).parent / "config.json"
    if cfg.is_file():
        hf_cfg = json.loads(cfg.read_text())
        if hf_cfg.get("model_type") == "vit_mae":
            return sd, container, {"encoder": {"num_heads": hf_cfg["num_attention_heads"]},
                                   "decoder": {"decoder_num_heads": hf_cfg.get("decoder_num_attention_heads", 16)}}
    return sd, container, {}


def pack(sd: StateDict, manifest: dict, layout: str) -> dict:
    """The file object each layout's own loader expects."""
    if layout == "ours":
        return {"model": sd, "manifest": manifest}
    if layout in ("official", "vitdet"):
        return {"model": sd}
    if layout == "mmseg":
        return {"state_dict": sd}
    return dict(sd)  # timm, hf: a plain state dict


def convert_file(src_path: str | os.PathLike, dst_path: str | os.PathLike, src: str = "auto", dst: str = "ours",
                 num_heads: int | None = None, patch_size: int | None = None,
                 img_size: tuple[int, int] | None = None) -> ConversionReport:
    """Converts a checkpoint file; writes `dst_path` and its report ``<dst_path>.json`` (manifest, dropped and
    created keys, notes, package versions). patch_size / img_size: resample the encoder to that patch for images
    of that size (the decoder is dropped)."""
    sd, container, manifest = read_any(src_path)
    src = detect_layout(sd, container) if src == "auto" else src
    hint = dict(manifest.get("encoder") or {})
    if num_heads:
        hint["num_heads"] = num_heads
    out, new_manifest, report = convert_state_dict(sd, src, dst, hint, manifest.get("decoder"), patch_size,
                                                  img_size)
    new_manifest.update(source=str(src_path), source_layout=src, versions=package_versions())
    new_manifest = json.loads(json.dumps(new_manifest, default=str))  # plain types: loadable with weights_only
    atomic_save(pack(out, new_manifest, dst), dst_path)
    side = sidecar_path(dst_path)
    atomic_write_json({"manifest": new_manifest, "report": report.as_dict()}, side)
    logger.info("wrote %s (%s) and %s", dst_path, dst, side)
    return report
