"""A pure-PyTorch stand-in for ``mmcv.ops``, installed only where mmcv has no compiled ops (``mmcv-lite``).

mmsegmentation 1.2.2 imports ``mmcv.ops.point_sample`` and ``mmcv.ops.sigmoid_focal_loss`` at module level. The
stand-in gives both in plain PyTorch; every other name resolves to a function or class that raises a clear
:class:`NotImplementedError` when *called* (not when imported), so ``from mmcv.ops import X`` never breaks an import.
Call :func:`ensure_mmcv_ops` before the first ``import mmseg`` (``transfer.mmseg`` does it on import).
"""
# Adapted from: the call semantics of mmcv.ops.point_sample and mmcv.ops.sigmoid_focal_loss (OpenMMLab), written
# anew on torch.nn.functional.
from __future__ import annotations

import importlib
import importlib.util
import logging
import sys
import types

import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

STANDIN_NAME = "mmcv.ops"


def point_sample(input: torch.Tensor, points: torch.Tensor, align_corners: bool = False, **kwargs) -> torch.Tensor:
    """Features at normalized points: input [N, C, H, W], points [N, P, 2] or [N, Hg, Wg, 2] in [0, 1] (x, y)
    -> [N, C, P] or [N, C, Hg, Wg]."""
    squeeze = points.dim() == 3
    grid = points.unsqueeze(2) if squeeze else points
    out = F.grid_sample(input, 2.0 * grid - 1.0, align_corners=align_corners, **kwargs)
    return out.squeeze(3) if squeeze else out


def sigmoid_focal_loss(input: torch.Tensor, target: torch.Tensor, gamma: float = 2.0, alpha: float = 0.25,
                       weight: torch.Tensor | None = None, reduction: str = "mean") -> torch.Tensor:
    """mmcv's semantics: logits [N, C], target [N] class index in [0, C] (C = no positive class), optional per-class
    weight [C] taken at each row's target; 'none' -> [N, C], 'mean' -> sum / N, 'sum' -> sum."""
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
    num_classes = input.shape[1]
    onehot = F.one_hot(target.long(), num_classes + 1)[:, :num_classes].to(input.dtype)
    p = input.sigmoid()
    pos = -alpha * (1 - p).pow(gamma) * F.logsigmoid(input)
    neg = -(1 - alpha) * p.pow(gamma) * F.logsigmoid(-input)
    loss = onehot * pos + (1 - onehot) * neg
    if weight is not None and weight.numel():
        w = torch.cat([weight.to(input.dtype), weight.new_ones(1).to(input.dtype)])  # target == C -> weight 1
        loss = loss * w[target.long()].unsqueeze(1)
    if reduction == "mean":
        return loss.sum() / input.shape[0]
    return loss.sum() if reduction == "sum" else loss


def _unavailable(name: str):
    def fail(*args, **kwargs):
        raise NotImplementedError(
            f"mmcv.ops.{name} needs mmcv's compiled ops, which this install lacks (mmcv-lite); only point_sample and "
            "sigmoid_focal_loss have pure-PyTorch stand-ins. Install a full mmcv built for your torch to use it.")
    fail.__name__ = fail.__qualname__ = name
    # A class-like name stays subclassable and instantiation fails with the same message.
    if name[:1].isupper():
        return type(name, (), {"__init__": lambda self, *a, **k: fail(), "__module__": STANDIN_NAME})
    return fail


def _module_getattr(name: str):
    if name.startswith("__") and name.endswith("__"):
        raise AttributeError(name)  # inspect / pickle / doctest probe dunders; they must see "absent"
    return _unavailable(name)


def build_standin() -> types.ModuleType:
    mod = types.ModuleType(STANDIN_NAME, __doc__)
    mod.point_sample = point_sample
    mod.sigmoid_focal_loss = sigmoid_focal_loss
    mod.__getattr__ = _module_getattr
    mod.__all__ = ["point_sample", "sigmoid_focal_loss"]
    mod.IS_STANDIN = True
    return mod


def has_real_mmcv_ops() -> bool:
    """True when mmcv's compiled extension is importable (a full mmcv, not mmcv-lite)."""
    if importlib.util.find_spec("mmcv") is None:
        return False
    try:
        return importlib.util.find_spec("mmcv._ext") is not None
    except (ImportError, ValueError):
        return False


def ensure_mmcv_ops() -> bool:
    """Installs the stand-in as ``mmcv.ops`` unless a real one is present. Returns True when the stand-in is used.

    Must run before mmseg is first imported; raises if mmseg was already imported without any ``mmcv.ops``.
    """
    current = sys.modules.get(STANDIN_NAME)
    if current is not None:
        return bool(getattr(current, "IS_STANDIN", False))
    if has_real_mmcv_ops():
        return False
    if "mmseg.models" in sys.modules:
        raise RuntimeError("mmseg.models was imported before the mmcv.ops stand-in was installed; "
                           "import transfer.mmseg first")
    import mmcv
    mod = build_standin()
    sys.modules[STANDIN_NAME] = mod
    mmcv.ops = mod
    logger.info("mmcv has no compiled ops here: using the pure-PyTorch mmcv.ops stand-in")
    return True
