"""LazyConfig pieces that configs/coco/*.py assemble: the ViT backbones, Mask R-CNN heads, LSJ data, optimizer.

Each function returns a LazyCall tree (nothing is built until ``instantiate``), so a config stays editable by
``key=value`` overrides and saves as YAML.
"""
from __future__ import annotations

from collections.abc import Sequence

import torch
from detectron2.config import LazyCall as L
from detectron2.data import (
    DatasetMapper,
    build_detection_test_loader,
    build_detection_train_loader,
    get_detection_dataset_dicts,
)
from detectron2.data import transforms as T
from detectron2.layers import ShapeSpec
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator
from detectron2.modeling.box_regression import Box2BoxTransform
from detectron2.modeling.matcher import Matcher
from detectron2.modeling.poolers import ROIPooler
from detectron2.modeling.proposal_generator import RPN, StandardRPNHead
from detectron2.modeling.roi_heads import (
    FastRCNNConvFCHead,
    FastRCNNOutputLayers,
    MaskRCNNConvUpsampleHead,
    StandardROIHeads,
)
from detectron2.solver import WarmupParamScheduler
from fvcore.common.param_scheduler import CosineParamScheduler, MultiStepParamScheduler

from .backbone import LayerNorm2d, SimpleFeaturePyramid, build_vit_fpn
from .rcnn import CheckedRCNN
from .vit_dense import create_dense_vit
from .weights import vit_param_groups

# ImageNet mean/std in RGB, 0-255 (MAE pretraining normalizes with them).
PIXEL_MEAN, PIXEL_STD = [123.675, 116.28, 103.53], [58.395, 57.12, 57.375]


def vitdet_backbone(name: str, img_size: int = 1024, window_size: int = 14, global_blocks: Sequence[int] | None = None,
                    drop_path_rate: float = 0.1, scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5),
                    out_channels: int = 256, grad_checkpointing: bool = False, square_pad: int | None = None,
                    patch_size: int | None = None):
    """ViTDet: the ViT with window + relative position, then the simple feature pyramid (outputs p2 .. p6).

    square_pad: pad every batch to this square (default: img_size, as ViTDet's ``square_pad=1024``; 0: off).
    patch_size: overrides the size's patch (ViTDet runs ViT-H at 16; the /14 weights are resampled at load).
    """
    extra = {} if patch_size is None else {"patch_size": patch_size}
    net = L(create_dense_vit)(name=name, img_size=img_size, window_size=window_size,
                              global_blocks=list(global_blocks) if global_blocks is not None else None,
                              drop_path_rate=drop_path_rate, grad_checkpointing=grad_checkpointing, **extra)
    return L(SimpleFeaturePyramid)(net=net, out_channels=out_channels, scale_factors=list(scale_factors),
                                   square_pad=img_size if square_pad is None else square_pad)


def mae_fpn_backbone(name: str, img_size: int = 1024, drop_path_rate: float = 0.1, window_size: int = 0,
                     out_channels: int = 256, grad_checkpointing: bool = False, rel_pos: str | None = "decomposed"):
    """The MAE paper's ViT + FPN: four evenly spaced blocks -> strides 4-32 -> detectron2's FPN (p2 .. p6).
    window_size > 0: windowed attention except in the four tapped blocks (which stay global)."""
    net = L(create_dense_vit)(name=name, img_size=img_size, window_size=window_size, drop_path_rate=drop_path_rate,
                              grad_checkpointing=grad_checkpointing, rel_pos=rel_pos)
    return L(build_vit_fpn)(net=net, out_channels=out_channels)


def mask_rcnn(backbone, num_classes: int = 80, anchor_sizes: Sequence[int] = (32, 64, 128, 256, 512),
              channels: int = 256, rpn_pre_nms_train: int = 2000, rpn_post_nms_train: int = 1000,
              rpn_pre_nms_test: int = 1000, rpn_post_nms_test: int = 1000, roi_batch: int = 512,
              box_conv_dims: Sequence[int] = (256, 256, 256, 256), box_fc_dims: Sequence[int] = (1024,),
              mask_conv_dims: Sequence[int] = (256,) * 4, config_name: str = "<no config name>"):
    """Mask R-CNN on p2 .. p6 as ViTDet builds it: 2-conv RPN head, 4conv1fc box head and mask head with LN.
    Built as :class:`CheckedRCNN`: a pyramid that does not fit these heads fails at ``instantiate`` naming
    ``config_name`` (configs set ``model.config_name = __file__``)."""
    levels = ["p2", "p3", "p4", "p5", "p6"]
    return L(CheckedRCNN)(
        config_name=config_name,
        backbone=backbone,
        proposal_generator=L(RPN)(
            in_features=levels,
            head=L(StandardRPNHead)(in_channels=channels, num_anchors=3, conv_dims=[-1, -1]),
            anchor_generator=L(DefaultAnchorGenerator)(sizes=[[s] for s in anchor_sizes],
                                                       aspect_ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64],
                                                       offset=0.0),
            anchor_matcher=L(Matcher)(thresholds=[0.3, 0.7], labels=[0, -1, 1], allow_low_quality_matches=True),
            box2box_transform=L(Box2BoxTransform)(weights=[1.0, 1.0, 1.0, 1.0]),
            batch_size_per_image=256, positive_fraction=0.5,
            pre_nms_topk=(rpn_pre_nms_train, rpn_pre_nms_test), post_nms_topk=(rpn_post_nms_train, rpn_post_nms_test),
            nms_thresh=0.7),
        roi_heads=L(StandardROIHeads)(
            num_classes=num_classes, batch_size_per_image=roi_batch, positive_fraction=0.25,
            proposal_matcher=L(Matcher)(thresholds=[0.5], labels=[0, 1], allow_low_quality_matches=False),
            box_in_features=levels[:4],
            box_pooler=L(ROIPooler)(output_size=7, scales=[1 / 4, 1 / 8, 1 / 16, 1 / 32], sampling_ratio=0,
                                    pooler_type="ROIAlignV2"),
            box_head=L(FastRCNNConvFCHead)(input_shape=L(ShapeSpec)(channels=channels, height=7, width=7),
                                           conv_dims=list(box_conv_dims), fc_dims=list(box_fc_dims),
                                           conv_norm=LayerNorm2d),
            box_predictor=L(FastRCNNOutputLayers)(
                input_shape=L(ShapeSpec)(channels=box_fc_dims[-1]), test_score_thresh=0.05,
                box2box_transform=L(Box2BoxTransform)(weights=(10, 10, 5, 5)), num_classes="${..num_classes}"),
            mask_in_features=levels[:4],
            mask_pooler=L(ROIPooler)(output_size=14, scales=[1 / 4, 1 / 8, 1 / 16, 1 / 32], sampling_ratio=0,
                                     pooler_type="ROIAlignV2"),
            mask_head=L(MaskRCNNConvUpsampleHead)(input_shape=L(ShapeSpec)(channels=channels, width=14, height=14),
                                                  num_classes="${..num_classes}", conv_dims=list(mask_conv_dims),
                                                  conv_norm=LayerNorm2d)),
        pixel_mean=PIXEL_MEAN, pixel_std=PIXEL_STD, input_format="RGB")


def lsj_dataloader(image_size: int = 1024, batch: int = 64, train_names: str = "coco_2017_train",
                   test_names: str = "coco_2017_val", min_scale: float = 0.1, max_scale: float = 2.0,
                   num_workers: int = 4, mask_format: str = "polygon"):
    """Large-scale jitter: resize by [min, max] x size, crop/pad to size x size, flip. Test: shortest edge = size."""
    train = L(build_detection_train_loader)(
        dataset=L(get_detection_dataset_dicts)(names=train_names),
        mapper=L(DatasetMapper)(
            is_train=True, image_format="RGB", use_instance_mask=True, recompute_boxes=True,
            instance_mask_format=mask_format,
            augmentations=[L(T.RandomFlip)(horizontal=True),
                           L(T.ResizeScale)(min_scale=min_scale, max_scale=max_scale, target_height=image_size,
                                            target_width=image_size),
                           L(T.FixedSizeCrop)(crop_size=(image_size, image_size))]),
        total_batch_size=batch, num_workers=num_workers)
    test = L(build_detection_test_loader)(
        dataset=L(get_detection_dataset_dicts)(names=test_names, filter_empty=False),
        mapper=L(DatasetMapper)(is_train=False, image_format="RGB",
                                augmentations=[L(T.ResizeShortestEdge)(short_edge_length=image_size,
                                                                       max_size=image_size)]),
        num_workers=num_workers)
    return {"train": train, "test": test}


def vit_adamw(lr: float = 1e-4, layer_decay: float = 0.7, weight_decay: float = 0.1,
              no_decay: Sequence[str] = ("pos_embed",), norm_decay: bool = False, vit_lr_mult: float = 1.0):
    """AdamW over layer-decayed groups; ``params.model`` is filled in with the built model by the trainer.
    ``vit_lr_mult`` scales the ViT's lr (after the layer decay) against the pyramid and heads'.
    Weight decay as ViTDet's configs: none on ``no_decay`` names and (unless ``norm_decay``) on norm layers;
    biases and relative-position tables are decayed (see :func:`~transfer.detectron2.weights.vit_param_groups`)."""
    return L(torch.optim.AdamW)(
        params=L(vit_param_groups)(model=None, base_lr="${..lr}", layer_decay=layer_decay, weight_decay=weight_decay,
                                   no_decay=list(no_decay), norm_decay=norm_decay, vit_lr_mult=vit_lr_mult),
        lr=lr, betas=(0.9, 0.999), weight_decay=weight_decay)


def step_schedule(max_iter: int, milestones: Sequence[float], warmup_iters: int = 250) -> WarmupParamScheduler:
    """ViTDet's schedule: x0.1 at each milestone (iterations, or fractions of max_iter when < 1), linear warmup
    from 0.001; milestones at or beyond max_iter are dropped (toy runs). Use as
    ``L(step_schedule)(max_iter="${train.max_iter}", ...)`` so overrides of max_iter follow."""
    steps = [round(m * max_iter) if m < 1 else int(m) for m in milestones]
    steps = sorted({s for s in steps if 0 < s < max_iter})   # a toy run shorter than a milestone keeps lr 1x
    return WarmupParamScheduler(
        MultiStepParamScheduler(values=[0.1 ** i for i in range(len(steps) + 1)], milestones=steps,
                                num_updates=max_iter),
        warmup_factor=0.001, warmup_length=min(1.0, warmup_iters / max_iter))


def cosine_schedule(max_iter: int, warmup_iters: int = 250) -> WarmupParamScheduler:
    """Half-cycle cosine to 0 with linear warmup from 0.001 (the MAE paper's detection recipe)."""
    return WarmupParamScheduler(CosineParamScheduler(start_value=1.0, end_value=0.0), warmup_factor=0.001,
                                warmup_length=min(1.0, warmup_iters / max_iter))
