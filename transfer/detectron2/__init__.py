"""COCO detection / instance segmentation with detectron2: a Backbone around mae_core's one ViT.

Importing this package applies :mod:`.compat` (what detectron2 v0.6 needs on this stack) once, before any module
of detectron2 loads, then registers the backbones in detectron2's ``BACKBONE_REGISTRY`` (``build_vitdet_backbone``,
``build_vit_fpn_backbone``, for YACS configs' ``MODEL.BACKBONE.NAME``).
Modules: ``vit_dense`` (the ViT with ViTDet options), ``backbone`` (simple feature pyramid; multi-level + FPN),
``rcnn`` (Mask R-CNN that checks its pyramid against its heads when built), ``registry`` (YACS builders),
``weights`` (MAE and ViTDet checkpoints, lr decay), ``lazy`` (config pieces), ``data`` (checks), ``train`` /
``cli`` (trainer, evaluator, command line).
"""
from . import compat

compat.apply()

from .backbone import MultiLevelViT, SimpleFeaturePyramid, build_vit_fpn  # noqa: E402
from .rcnn import CheckedRCNN, PyramidMismatchError  # noqa: E402
from .registry import add_vit_config, build_vit_fpn_backbone, build_vitdet_backbone  # noqa: E402

__all__ = ["CheckedRCNN", "MultiLevelViT", "PyramidMismatchError", "SimpleFeaturePyramid", "add_vit_config",
           "build_vit_fpn", "build_vit_fpn_backbone", "build_vitdet_backbone"]
