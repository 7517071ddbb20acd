"""The known layouts, how a checkpoint's layout is recognised, and A -> ours -> B conversion of state dicts."""
from __future__ import annotations

import logging
import re
from types import SimpleNamespace

from mae_core.checkpoint.convert import hf, mmseg, official, timm_vit, vitdet
from mae_core.checkpoint.convert.common import (
    OURS_PATTERNS,
    ConversionError,
    ConversionReport,
    StateDict,
    decoder_config,
    encoder_config,
    fmt_keys,
    split_decoder,
    unmatched,
)
from mae_core.checkpoint.convert.patch_resample import resample_patch_size

logger = logging.getLogger(__name__)

ours = SimpleNamespace(NAME="ours", PATTERNS=OURS_PATTERNS, SIGNATURE=official.SIGNATURE, to_ours=official.to_ours,
                       from_ours=lambda sd, cfg, report: (dict(sd), {}))
LAYOUTS = {m.NAME: m for m in (ours, official, timm_vit, vitdet, mmseg, hf)}
SAME_NAMES = ("ours", "official", "timm")  # told apart by the file, not by the keys
HINT_KEYS = ("num_heads", "window_size", "window_block_indexes")  # what weights do not say


class UnknownLayoutError(ConversionError):
    """No known layout accounts for every key; the message names the keys that matched none."""


def check_layout(sd: StateDict, layout: str) -> None:
    """Raises when `sd` has keys that `layout` does not know (or lacks its patch embedding)."""
    if layout not in LAYOUTS:
        raise ConversionError(f"unknown layout {layout!r}; known: {', '.join(LAYOUTS)}")
    mod = LAYOUTS[layout]
    bad = unmatched(sd, mod.PATTERNS)
    if bad:
        raise UnknownLayoutError(f"{len(bad)} keys are not in the {layout} layout: {fmt_keys(bad)}")
    if not any(re.fullmatch(mod.SIGNATURE, k) for k in sd):
        raise UnknownLayoutError(f"no patch embedding ({mod.SIGNATURE}) for the {layout} layout; "
                                 f"keys: {fmt_keys(list(sd))}")


def detect_layout(sd: StateDict, container: str = "flat") -> str:
    """The layout whose key patterns account for every key. container ('manifest', 'wrapped' or 'flat')
    tells apart the layouts that share names: ours (with a manifest), official (under ``model``), timm (flat)."""
    fits = []
    for name, mod in LAYOUTS.items():
        if not unmatched(sd, mod.PATTERNS) and any(re.fullmatch(mod.SIGNATURE, k) for k in sd):
            fits.append(name)
    if set(fits) & set(SAME_NAMES):
        if container == "manifest":
            return "ours"
        if container == "wrapped" or "timm" not in fits:
            return "official"
        return "timm"
    if fits:
        return fits[0]
    nowhere = [k for k in sd if all(unmatched([k], m.PATTERNS) for m in LAYOUTS.values())]
    if nowhere:
        raise UnknownLayoutError(f"unknown checkpoint layout: {len(nowhere)} keys match no known layout "
                                 f"({', '.join(LAYOUTS)}): {fmt_keys(nowhere)}")
    best = min(LAYOUTS, key=lambda n: len(unmatched(sd, LAYOUTS[n].PATTERNS)))
    raise UnknownLayoutError(f"keys of several layouts in one checkpoint; closest is {best}, which does not know: "
                             f"{fmt_keys(unmatched(sd, LAYOUTS[best].PATTERNS))}")


def convert_state_dict(sd: StateDict, src: str, dst: str, hint: dict | None = None,
                       decoder_hint: dict | None = None, patch_size: int | None = None,
                       img_size: tuple[int, int] | None = None) -> tuple[StateDict, dict, ConversionReport]:
    """-> (state dict in layout `dst`, manifest, report). `src` may be 'auto' (key patterns only: timm for
    our names). hint: encoder settings the weights do not carry (num_heads, window attention); a full encoder
    config when the source is one of ours. patch_size / img_size: resample the patch embedding (approximate) and the
    position table to that patch and grid, dropping the decoder."""
    src = detect_layout(sd) if src == "auto" else src
    check_layout(sd, src)
    if dst not in LAYOUTS:
        raise ConversionError(f"unknown layout {dst!r}; known: {', '.join(LAYOUTS)}")
    report = ConversionReport(source_layout=src, target_layout=dst)
    mine = LAYOUTS[src].to_ours(sd, report)
    hint = dict(hint or {}) if src == "ours" else {k: v for k, v in (hint or {}).items() if k in HINT_KEYS}
    cfg = encoder_config(mine, hint)
    dec_cfg = decoder_config(mine, decoder_hint)
    if "num_heads" not in hint:
        report.note(f"num_heads={cfg['num_heads']} inferred from the width {cfg['embed_dim']} (weights do not "
                    "store it); pass the real value if it differs")
    new_patch = patch_size and patch_size != cfg["patch_size"]
    if new_patch or (img_size and list(img_size) != list(cfg["img_size"])):
        mine, decoder = split_decoder(mine)
        for k in decoder:   # the decoder predicts p*p*C values per patch of the old size, on the old grid
            report.drop(k, "MAE decoder of the old patch size or grid (resampling keeps the encoder)")
        dec_cfg = None
        if new_patch:
            report.note(f"patch size {cfg['patch_size']} -> {patch_size} by pseudo-inverse resize: APPROXIMATE, "
                        "outputs change (see docs/interop.md for the measured error)")
            report.create("patch_embed.proj.weight", f"resampled to {patch_size}x{patch_size} (approximate)")
        mine, cfg = resample_patch_size(mine, cfg, patch_size or cfg["patch_size"], img_size)
        report.create("pos_embed", f"resampled to the grid of {cfg['img_size']} px at patch {cfg['patch_size']}")
    if dst == "hf":
        out, extra = hf.from_ours(mine, cfg, report, dec_cfg)
    else:
        out, extra = LAYOUTS[dst].from_ours(mine, cfg, report)
    manifest = {"format": dst, "encoder": cfg, "decoder": dec_cfg, **extra}
    logger.info("converted %s -> %s: %d tensors, %d dropped, %d created", src, dst, len(out), len(report.dropped),
                len(report.created))
    return out, manifest, report
