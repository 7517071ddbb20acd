"""detectron2 backbones around the one ViT: ViTDet's simple feature pyramid, and the MAE paper's multi-level ViT.

- :class:`SimpleFeaturePyramid`: the last block's map (stride p) resampled by ``scale_factors`` (default 4, 2, 1,
  0.5 -> strides p/4 .. 2p), each through conv 1x1 + LN, conv 3x3 + LN, plus p6 max-pooled from the coarsest.
  Outputs ``p{log2(stride)}`` -> [B, out_channels, H/stride, W/stride]. Parameter names are upstream
  detectron2's (``net.*``, ``simfp_2.*`` .. ``simfp_5.*``), so ViTDet model-zoo checkpoints load one to one.
- :class:`MultiLevelViT`: four evenly spaced blocks, resampled to strides 4, 8, 16, 32 (``s4`` .. ``s32``,
  [B, D, H/s, W/s]); detectron2's ``FPN`` goes on top (see :func:`build_vit_fpn`).
"""
# Adapted from: ViTDet's simple feature pyramid (Li et al. 2022) and the multi-level ViT + FPN of "Benchmarking
# Detection Transfer Learning with Vision Transformers" (Li et al. 2021) that the MAE paper uses.
from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from detectron2.layers import Conv2d
from detectron2.modeling import Backbone
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool

from mae_core.models.vit import VisionTransformer


class LayerNorm2d(nn.Module):
    """LayerNorm over the channels of [B, C, H, W] (detectron2 v0.6's ``get_norm`` has no "LN")."""

    def __init__(self, channels: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x.permute(0, 2, 3, 1), x.shape[1:2], self.weight, self.bias, self.eps).permute(0, 3, 1, 2)


def resample_stage(dim: int, scale: float) -> tuple[nn.Module, int]:
    """A module changing a map's resolution by `scale` (a power of 2) and its output channels.

    Up: transposed convs 2x2/2 (dim halves each time, LN + GELU between); down: max pool; 1: identity.
    """
    k = math.log2(scale)
    if k != int(k):
        raise ValueError(f"scale factor {scale} is not a power of 2")
    k = int(k)
    if k == 0:
        return nn.Identity(), dim
    if k < 0:
        return nn.MaxPool2d(kernel_size=2 ** -k, stride=2 ** -k), dim
    layers: list[nn.Module] = []
    ch = dim
    for i in range(k):
        if i:
            layers += [LayerNorm2d(ch), nn.GELU()]
        layers.append(nn.ConvTranspose2d(ch, ch // 2, kernel_size=2, stride=2))
        ch //= 2
    return nn.Sequential(*layers), ch


class SimpleFeaturePyramid(Backbone):
    """ViTDet backbone: the ViT's last map -> maps at ``patch / scale`` strides (+ p6). Forward: images [B, 3, H, W]
    (H, W multiples of ``size_divisibility``) -> {"p2": [B, C, H/4, W/4], ...} for patch 16 and default scales.

    Parameter names are upstream detectron2's ``SimpleFeaturePyramid``: ``net.*`` (the ViT), then one flat
    ``simfp_{log2 stride}`` per scale: [resample layers..., conv 1x1 + LN, conv 3x3 + LN], e.g. scale 4 ->
    ``simfp_2`` = [ConvT, LN, GELU, ConvT, conv1x1, conv3x3]; scale 0.5 -> ``simfp_5`` = [MaxPool, conv1x1, conv3x3].
    ``square_pad`` > 0: images are padded to that square before the backbone (ViTDet's test-time padding, done by
    :class:`~transfer.detectron2.rcnn.CheckedRCNN` on detectron2 v0.6 and by ``padding_constraints`` upstream).
    """

    def __init__(self, net: VisionTransformer, out_channels: int = 256,
                 scale_factors: Sequence[float] = (4.0, 2.0, 1.0, 0.5), top_block: bool = True,
                 square_pad: int = 0) -> None:
        super().__init__()
        self.net = net
        patch = net.patch_embed.patch_size[0]
        dim = net.embed_dim
        self.stage_names: list[str] = []
        strides = []
        for scale in scale_factors:
            resample, ch = resample_stage(dim, scale)
            stride = patch / scale
            if stride != int(stride) or int(stride) & (int(stride) - 1):
                raise ValueError(f"SimpleFeaturePyramid: patch {patch} / scale {scale} = stride {stride:g} is not a "
                                 "power of 2 (detection heads need strides 4, 8, 16, 32, 64; use patch 16)")
            strides.append(int(stride))
            name = f"simfp_{int(math.log2(stride))}"
            layers = list(resample) if isinstance(resample, nn.Sequential) else (
                [] if isinstance(resample, nn.Identity) else [resample])
            layers += [Conv2d(ch, out_channels, kernel_size=1, bias=False, norm=LayerNorm2d(out_channels)),
                       Conv2d(out_channels, out_channels, kernel_size=3, padding=1, bias=False,
                              norm=LayerNorm2d(out_channels))]
            self.add_module(name, nn.Sequential(*layers))
            self.stage_names.append(name)
        self.top_block = LastLevelMaxPool() if top_block else None
        if top_block:
            strides.append(strides[-1] * 2)
        self._out_features = [f"p{int(math.log2(s))}" for s in strides]
        self._out_feature_strides = dict(zip(self._out_features, strides))
        self._out_feature_channels = {f: out_channels for f in self._out_features}
        self._size_divisibility = max(strides)
        self._square_pad = int(square_pad)

    @property
    def size_divisibility(self) -> int:
        return self._size_divisibility

    @property
    def square_pad(self) -> int:
        return self._square_pad

    @property
    def padding_constraints(self) -> dict[str, int]:
        """What upstream detectron2's ``ImageList.from_tensors`` reads (v0.6 ignores it; CheckedRCNN applies it)."""
        return {"size_divisibility": self._size_divisibility, "square_size": self._square_pad}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feat = self.net.forward_patch_tokens(x)[0]
        outs = [getattr(self, name)(feat) for name in self.stage_names]
        if self.top_block is not None:
            outs += self.top_block(outs[-1])
        return dict(zip(self._out_features, outs))


def evenly_spaced_blocks(depth: int, n: int = 4) -> tuple[int, ...]:
    """The last block of each of n equal parts: depth 12 -> (2, 5, 8, 11), 24 -> (5, 11, 17, 23)."""
    return tuple(max(0, (k + 1) * depth // n - 1) for k in range(n))


class MultiLevelViT(Backbone):
    """The MAE paper's detection backbone before the FPN: images [B, 3, H, W] -> {"s4": [B, D', H/4, W/4],
    "s8", "s16", "s32"} from four evenly spaced blocks (up-sampled by transposed convs or max-pooled)."""

    def __init__(self, net: VisionTransformer, out_indices: Sequence[int] | None = None,
                 strides: Sequence[int] = (4, 8, 16, 32)) -> None:
        super().__init__()
        self.net = net
        depth, patch, dim = len(net.blocks), net.patch_embed.patch_size[0], net.embed_dim
        self.out_indices = tuple(out_indices) if out_indices is not None else evenly_spaced_blocks(depth, len(strides))
        if len(self.out_indices) != len(strides):
            raise ValueError(f"{len(self.out_indices)} blocks for {len(strides)} strides")
        self.stages = nn.ModuleList()
        self._out_features = [f"s{s}" for s in strides]
        self._out_feature_strides = dict(zip(self._out_features, strides))
        self._out_feature_channels = {}
        for name, s in zip(self._out_features, strides):
            stage, ch = resample_stage(dim, patch / s)
            self.stages.append(stage)
            self._out_feature_channels[name] = ch

    @property
    def size_divisibility(self) -> int:
        return max(self._out_feature_strides.values())

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.net.forward_patch_tokens(x, self.out_indices)
        return {n: stage(f) for n, stage, f in zip(self._out_features, self.stages, feats)}


def build_vit_fpn(net: VisionTransformer, out_channels: int = 256, out_indices: Sequence[int] | None = None) -> FPN:
    """MultiLevelViT + detectron2's FPN (LN in the lateral/output convs, p6 by max pool): outputs p2 .. p6."""
    bottom_up = MultiLevelViT(net, out_indices)
    return FPN(bottom_up=bottom_up, in_features=list(bottom_up._out_features), out_channels=out_channels,
               norm=LayerNorm2d, top_block=LastLevelMaxPool())
