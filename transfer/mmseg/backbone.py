"""The project's one ViT (``mae_core.models.vit.VisionTransformer``) as an mmseg backbone: ``MAEViT`` in mmseg's MODELS.

forward: images [B, 3, H, W] -> tuple of len(out_indices) maps [B, D, H/p, W/p] (NCHW), the block outputs without
the final norm, as mmseg's MAE backbone gives them to ``Feature2Pyramid`` (which rescales them to strides 4..32); a
block may be named more than once (``(5, 5, 5, 5)``: every level from the last block, as ViTDet's simple pyramid).
Options of mmseg's MAE recipe: BEiT relative position bias (``rel_pos="bias"``, zero-init), layer scale
(``init_values``), drop path, ``out_indices``; the position table is resampled for any input (512 crops, whole
images, sliding windows) by ``pos_embed_for``. Pretrained weights load in ``init_weights`` (as mmseg's
``init_cfg=Pretrained``), through ``mae_core.checkpoint.io.load_weights`` with a strict key report.
"""
# Adapted from: the options of mmseg's MAE backbone and ADE20K recipe (configs/mae), on mae_core's ViT.
from __future__ import annotations

import logging

import torch
import torch.nn as nn
from mmseg.registry import MODELS

from mae_core.checkpoint.io import LoadReport, load_weights, read_state_dict
from mae_core.checkpoint.pretrained import DECODER_PREFIXES
from mae_core.models.vit import VisionTransformer

logger = logging.getLogger(__name__)

# Keys a pretrained MAE encoder does not have and the backbone adds (start from their init): relative position
# tables (zero), layer scales (init_values).
NEW_BACKBONE_KEYS = ("blocks.*.attn.relative_position_bias_table", "blocks.*.attn.rel_pos_h",
                     "blocks.*.attn.rel_pos_w", "blocks.*.ls1.gamma", "blocks.*.ls2.gamma")
# Keys of a checkpoint the backbone does not use: the MAE decoder and target, the final norm (not applied, as in
# mmseg's MAE), classification heads of fine-tuned files.
UNUSED_CHECKPOINT_KEYS = tuple(p + "*" for p in DECODER_PREFIXES) + ("norm.*", "fc_norm.*", "head.*")


@MODELS.register_module()
class MAEViT(VisionTransformer):
    """mae_core's ViT with mmseg's backbone contract. Parameter names are the ViT's (``backbone.blocks.{i}...``)."""

    def __init__(self, img_size: int | tuple[int, int] = 512, patch_size: int = 16, in_chans: int = 3,
                 embed_dim: int = 768, depth: int = 12, num_heads: int = 12, mlp_ratio: float = 4.0,
                 out_indices: tuple[int, ...] = (3, 5, 7, 11), drop_path_rate: float = 0.1,
                 init_values: float | None = 1.0, rel_pos: str | None = "bias", final_norm: bool = False,
                 pretrained: str | None = None, grad_checkpointing: bool = False, init_cfg: dict | None = None) -> None:
        super().__init__(img_size=img_size, patch_size=patch_size, in_chans=in_chans, num_classes=0,
                         embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
                         drop_path_rate=drop_path_rate, global_pool="", fc_norm=False, init_values=init_values,
                         rel_pos=rel_pos, learn_pos_embed=True, grad_checkpointing=grad_checkpointing)
        bad = [i for i in out_indices if not -depth <= i < depth]
        if bad:
            raise ValueError(f"out_indices {bad} outside the {depth} blocks")
        if init_cfg is not None:
            raise ValueError("MAEViT loads weights through `pretrained=CKPT`, not init_cfg")
        self.out_indices = tuple(i % depth for i in out_indices)
        self.final_norm = final_norm
        if not final_norm:
            self.norm = nn.Identity()
        self.pretrained = pretrained
        self.load_report: LoadReport | None = None

    def init_weights(self) -> None:
        """MAE init of the ViT, zero relative-position tables, then the pretrained weights when given."""
        super().init_weights()
        if getattr(self, "pretrained", None):
            self.load_report = self.load_pretrained(self.pretrained)

    def load_pretrained(self, path: str) -> LoadReport:
        """Loads an MAE checkpoint (this project's, full with decoder, or an official encoder-only one).

        Only ``NEW_BACKBONE_KEYS`` may be missing and only ``UNUSED_CHECKPOINT_KEYS`` may be unexpected; anything
        else raises ``CheckpointMismatchError`` listing the keys. ``pos_embed`` is resampled to this grid.
        """
        sd, whole = read_state_dict(path)
        enc_cfg = (whole.get("manifest") or {}).get("encoder") or {}
        for key, own in (("embed_dim", self.embed_dim), ("depth", len(self.blocks)),
                         ("patch_size", self.patch_embed.patch_size[0])):
            if key in enc_cfg and enc_cfg[key] != own:
                raise ValueError(f"{path}: checkpoint encoder has {key}={enc_cfg[key]}, the backbone {own}")
        report = load_weights(self, sd, allow_missing=NEW_BACKBONE_KEYS, allow_unexpected=UNUSED_CHECKPOINT_KEYS,
                              source=str(path))
        logger.info("MAEViT: loaded %s; new (initialized here): %d keys; unused from checkpoint: %d keys",
                    path, len(report.missing), len(report.unexpected))
        return report

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """x [B, C, H, W] -> len(out_indices) maps [B, D, H/p, W/p]."""
        take = sorted(set(self.out_indices))   # a block named twice (ViTDet's one-map pyramid) runs once
        maps = dict(zip(take, self.forward_intermediates(x, take, norm=False, output_fmt="NCHW")))
        last = len(self.blocks) - 1
        if self.final_norm and last in maps:   # mmseg: norm after the last block only
            maps[last] = self.norm(maps[last].permute(0, 2, 3, 1)).permute(0, 3, 1, 2).contiguous()
        return tuple(maps[i] for i in self.out_indices)
