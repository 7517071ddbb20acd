"""The ViT backbones in detectron2's ``BACKBONE_REGISTRY`` for YACS configs (``MODEL.BACKBONE.NAME``).

``add_vit_config(cfg)`` adds ``MODEL.VIT``; then ``MODEL.BACKBONE.NAME = "build_vitdet_backbone"`` (simple feature
pyramid) or ``"build_vit_fpn_backbone"`` (the MAE paper's multi-level ViT + FPN). ``import transfer.detectron2``
registers both (this module is imported by the package).
"""
from __future__ import annotations

from detectron2.config import CfgNode as CN
from detectron2.layers import ShapeSpec
from detectron2.modeling import BACKBONE_REGISTRY, Backbone

from .backbone import SimpleFeaturePyramid, build_vit_fpn
from .vit_dense import create_dense_vit


def add_vit_config(cfg: CN) -> CN:
    """Adds ``MODEL.VIT`` (defaults: ViTDet-B at 1024) to a detectron2 YACS config."""
    cfg.MODEL.VIT = CN()
    cfg.MODEL.VIT.NAME = "vit_base_patch16"
    cfg.MODEL.VIT.IMG_SIZE = 1024
    cfg.MODEL.VIT.PATCH_SIZE = 0              # 0: the size's own; ViTDet runs ViT-H (vit_huge_patch14) at 16
    cfg.MODEL.VIT.WINDOW_SIZE = 14
    cfg.MODEL.VIT.GLOBAL_BLOCKS = []          # empty: ViTDet's for the size
    cfg.MODEL.VIT.DROP_PATH_RATE = 0.1
    cfg.MODEL.VIT.GRAD_CHECKPOINTING = False
    cfg.MODEL.VIT.SCALE_FACTORS = [4.0, 2.0, 1.0, 0.5]
    cfg.MODEL.VIT.OUT_CHANNELS = 256
    return cfg


def _net(cfg: CN, window_size: int):
    v = cfg.MODEL.VIT
    extra = {"patch_size": v.PATCH_SIZE} if v.PATCH_SIZE else {}
    return create_dense_vit(v.NAME, img_size=v.IMG_SIZE, window_size=window_size, **extra,
                            global_blocks=list(v.GLOBAL_BLOCKS) or None, drop_path_rate=v.DROP_PATH_RATE,
                            grad_checkpointing=v.GRAD_CHECKPOINTING, in_chans=len(cfg.MODEL.PIXEL_MEAN))


@BACKBONE_REGISTRY.register()
def build_vitdet_backbone(cfg: CN, input_shape: ShapeSpec) -> Backbone:
    """ViTDet: window attention + relative position, simple feature pyramid (p2 .. p6)."""
    return SimpleFeaturePyramid(_net(cfg, cfg.MODEL.VIT.WINDOW_SIZE), cfg.MODEL.VIT.OUT_CHANNELS,
                                cfg.MODEL.VIT.SCALE_FACTORS)


@BACKBONE_REGISTRY.register()
def build_vit_fpn_backbone(cfg: CN, input_shape: ShapeSpec) -> Backbone:
    """MAE paper: four evenly spaced blocks -> strides 4-32 -> FPN (p2 .. p6), global attention."""
    return build_vit_fpn(_net(cfg, 0), cfg.MODEL.VIT.OUT_CHANNELS)
