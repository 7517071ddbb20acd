"""COCO detection / instance segmentation with detectron2: a Backbone around mae_core's one ViT.

Importing this package applies :mod:`.compat` (what detectron2 v0.6 needs on this stack) before detectron2 loads.
Modules: ``vit_dense`` (the ViT with ViTDet options), ``backbone`` (simple feature pyramid; multi-level + FPN),
``registry`` (YACS builders), ``weights`` (MAE checkpoints, lr decay), ``lazy`` (config pieces), ``data`` (checks),
``synthetic`` (the Fashion-MNIST COCO set), ``train`` / ``cli`` (trainer, evaluator, command line).
"""
from . import compat

compat.apply()
