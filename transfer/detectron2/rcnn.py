"""Mask R-CNN that checks, when built, that its backbone's pyramid and its heads agree; ViTDet's square padding.

detectron2 builds a LazyConfig's RPN and ROI heads from explicit numbers (feature names, anchor strides, pooler
scales, channels) that nothing compares with the backbone until the first forward of a job. :class:`CheckedRCNN`
compares them in ``__init__`` (i.e. at ``instantiate``) and raises :class:`PyramidMismatchError` naming the config
and every mismatch. ``square_pad`` (taken from the backbone) pads every batch to a fixed square after
normalization, as upstream ViTDet's ``SimpleFeaturePyramid(square_pad=1024)`` does through
``ImageList.from_tensors(padding_constraints=...)`` (a detectron2 newer than v0.6).
"""
from __future__ import annotations

import logging

import torch.nn as nn
import torch.nn.functional as F
from detectron2.modeling import GeneralizedRCNN
from detectron2.structures import ImageList

logger = logging.getLogger(__name__)


class PyramidMismatchError(ValueError):
    """The backbone's outputs (names, strides, channels) do not fit what the RPN / ROI heads were built for."""


def _first_layer(module: nn.Module) -> nn.Module | None:
    return next((m for m in module.modules() if isinstance(m, (nn.Conv2d, nn.Linear))), None)


def _head_input_problem(head: nn.Module, channels: int, pool: int, what: str) -> list[str]:
    layer = _first_layer(head)
    if isinstance(layer, nn.Conv2d) and layer.in_channels != channels:
        return [f"{what} takes {layer.in_channels} channels, the backbone gives {channels}"]
    if isinstance(layer, nn.Linear) and layer.in_features != channels * pool * pool:
        return [f"{what} takes {layer.in_features} inputs, the pooler gives {channels} x {pool} x {pool}"]
    return []


def _pooler_problems(pooler, names: list[str], shapes: dict, what: str) -> list[str]:
    scales = [float(p.spatial_scale) for p in pooler.level_poolers]
    want = [1.0 / shapes[n].stride for n in names if n in shapes]
    if len(want) == len(names) and [round(s, 8) for s in scales] != [round(s, 8) for s in want]:
        return [f"{what} scales {scales} != 1/stride of {names} = {want}"]
    return []


def pyramid_problems(backbone: nn.Module, proposal_generator: nn.Module, roi_heads: nn.Module) -> list[str]:
    """Every disagreement between ``backbone.output_shape()`` and the RPN / ROI heads, as sentences ([] if none)."""
    shapes = backbone.output_shape()
    have = {n: (s.stride, s.channels) for n, s in shapes.items()}
    out: list[str] = []
    rpn_in = list(getattr(proposal_generator, "in_features", []))
    missing = [f for f in rpn_in if f not in shapes]
    if missing:
        out.append(f"RPN reads {missing}, the backbone outputs {have} (name: (stride, channels))")
    anchors = getattr(proposal_generator, "anchor_generator", None)
    if anchors is not None and not missing:
        want = [shapes[f].stride for f in rpn_in]
        if list(anchors.strides) != want:
            out.append(f"anchor strides {list(anchors.strides)} != backbone strides of {rpn_in} = {want}")
    head = getattr(proposal_generator, "rpn_head", None)
    if head is not None and not missing:
        chans = {shapes[f].channels for f in rpn_in}
        out += _head_input_problem(head, next(iter(chans)), 1, "RPN head") if len(chans) == 1 else [
            f"RPN features have different channels {sorted(chans)}"]
    for kind in ("box", "mask"):
        names = list(getattr(roi_heads, f"{kind}_in_features", None) or [])
        pooler, head = getattr(roi_heads, f"{kind}_pooler", None), getattr(roi_heads, f"{kind}_head", None)
        if not names or pooler is None:
            continue
        absent = [f for f in names if f not in shapes]
        if absent:
            out.append(f"ROI {kind} head reads {absent}, the backbone outputs {have}")
            continue
        out += _pooler_problems(pooler, names, shapes, f"ROI {kind} pooler")
        chans = {shapes[f].channels for f in names}
        if len(chans) == 1 and head is not None:
            out += _head_input_problem(head, chans.pop(), int(pooler.output_size[0]), f"ROI {kind} head")
    return out


class CheckedRCNN(GeneralizedRCNN):
    """detectron2's ``GeneralizedRCNN`` (same parameters, same forward) that checks its pyramid when built.

    config_name: named in the error (configs set it to their file). Images are padded to the backbone's
    ``square_pad`` (when > 0) after normalization: [B, 3, S, S] for every batch, as ViTDet evaluates.
    """

    def __init__(self, *, config_name: str = "<no config name>", **kwargs) -> None:
        super().__init__(**kwargs)
        problems = pyramid_problems(self.backbone, self.proposal_generator, self.roi_heads)
        if problems:
            raise PyramidMismatchError(f"{config_name}: the backbone's pyramid does not fit the heads:\n  - "
                                       + "\n  - ".join(problems))
        self.config_name = config_name
        self.square_pad = int(getattr(self.backbone, "square_pad", 0) or 0)

    def preprocess_image(self, batched_inputs: list[dict]) -> ImageList:
        images = [(x["image"].to(self.device) - self.pixel_mean) / self.pixel_std for x in batched_inputs]
        images = ImageList.from_tensors(images, self.backbone.size_divisibility)
        s = self.square_pad
        if s:
            h, w = images.tensor.shape[-2:]
            if h > s or w > s:
                raise ValueError(f"{self.config_name}: batch of {h}x{w} images is larger than square_pad {s}")
            images.tensor = F.pad(images.tensor, (0, s - w, 0, s - h))
        return images
