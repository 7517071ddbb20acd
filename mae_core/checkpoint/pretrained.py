"""Building an encoder from a checkpoint: this project's (with a manifest) or an official MAE / timm file."""
from __future__ import annotations

import logging
import os
import re

from mae_core.checkpoint.io import (
    CheckpointMismatchError,
    LoadReport,
    load_weights,
    read_state_dict,
    strip_module_prefix,
)
from mae_core.models.vit import VisionTransformer

logger = logging.getLogger(__name__)

HEADS_BY_WIDTH = {64: 2, 192: 3, 384: 6, 768: 12, 1024: 16, 1280: 16}
DECODER_PREFIXES = ("decoder_", "mask_token", "encoder_mask_token", "target.")
DECODER_MISSING = tuple(p + "*" for p in DECODER_PREFIXES)


def infer_encoder_config(state_dict: dict) -> dict:
    """Architecture of a ViT encoder from its weights: width, depth, patch size, channels, grid (heads by width)."""
    if "patch_embed.proj.weight" not in state_dict:
        raise KeyError("no 'patch_embed.proj.weight': not a ViT state dict in timm/MAE naming "
                       f"(first keys: {list(state_dict)[:8]})")
    w = state_dict["patch_embed.proj.weight"]
    dim, in_chans, patch = w.shape[0], w.shape[1], w.shape[2]
    depth = 1 + max(int(m.group(1)) for k in state_dict if (m := re.match(r"blocks\.(\d+)\.", k)))
    n = state_dict["pos_embed"].shape[1] - 1
    side = int(round(n ** 0.5))
    mlp = state_dict["blocks.0.mlp.fc1.weight"].shape[0] / dim
    return dict(embed_dim=dim, depth=depth, num_heads=HEADS_BY_WIDTH.get(dim, max(1, dim // 64)), patch_size=patch,
                in_chans=in_chans, img_size=side * patch, mlp_ratio=mlp)


def load_encoder(path: str | os.PathLike, allow_missing: tuple[str, ...] = ("head.*", "fc_norm.*"),
                 allow_unexpected: tuple[str, ...] = (), **vit_kwargs) -> tuple[VisionTransformer, LoadReport]:
    """A :class:`VisionTransformer` with the encoder weights of `path` (decoder weights are dropped and reported).

    The architecture comes from the checkpoint's manifest or, for official files, from the weights' shapes;
    `vit_kwargs` add or override settings (num_classes, global_pool, drop_path_rate, img_size, rel_pos, ...).
    The image size of the checkpoint is kept unless given; position tables are resampled when it differs.
    """
    sd, whole = read_state_dict(path)
    manifest = whole.get("manifest", {}) if isinstance(whole, dict) else {}
    enc = {k: v for k, v in sd.items() if not k.startswith(DECODER_PREFIXES)}
    dropped = sorted(set(sd) - set(enc))
    cfg = dict(manifest.get("encoder") or infer_encoder_config(enc))
    cfg.update(vit_kwargs)
    model = VisionTransformer(**cfg)
    unexpected = tuple(allow_unexpected)
    if cfg.get("global_pool") == "avg":  # the pretrained `norm` is replaced by fc_norm (reference fine-tuning)
        unexpected += ("norm.weight", "norm.bias")
    report = load_weights(model, enc, allow_missing=allow_missing, allow_unexpected=unexpected, source=str(path))
    if dropped:
        logger.info("%s: %d decoder/target tensors not used by the encoder", path, len(dropped))
    return model, report


def init_mae_from(model, path: str | os.PathLike) -> LoadReport:
    """Starts an MAE (``MaskedAutoencoder``) from the weights of `path`, not its optimizer or step: continued
    pretraining, e.g. on a new domain. The encoder must fit (its position table is resampled to this grid); the
    decoder and mask token are taken when the file holds them all in this model's shapes, else they keep their
    initialisation; a fitted target (``target.*``) is fitted again on this run's data.
    A file of another patch size raises :class:`CheckpointMismatchError` naming the conversion that resamples it."""
    sd = strip_module_prefix(read_state_dict(path)[0])
    own = model.state_dict()
    key = "patch_embed.proj.weight"
    if key in sd and sd[key].shape[-2:] != own[key].shape[-2:]:
        raise CheckpointMismatchError(
            f"{path}: patch {tuple(sd[key].shape[-2:])} but the model's is {tuple(own[key].shape[-2:])}; resample "
            f"it first: tools/convert_checkpoint.py --to ours --patch-size {own[key].shape[-1]} --img-size SIZE "
            f"{path} OUT.pth")
    decoder = [k for k in own if k.startswith(DECODER_PREFIXES) and not k.startswith("target.")]
    fits = all(k in sd and (sd[k].shape == own[k].shape or k.endswith("pos_embed")) for k in decoder)
    weights = {k: v for k, v in sd.items()
               if not k.startswith("target.") and (fits or not k.startswith(DECODER_PREFIXES))}
    report = load_weights(model, weights, allow_missing=DECODER_MISSING, allow_unexpected=("head.*", "fc_norm.*"),
                          source=f"{path} (initial weights)")
    logger.info("initialised from %s: encoder%s", path,
                " and decoder" if fits else "; decoder, mask token: fresh (not in the file, or of other shapes)")
    return report
