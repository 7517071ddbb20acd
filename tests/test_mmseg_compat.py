"""The mmcv.ops stand-in: pure-PyTorch point_sample / sigmoid_focal_loss, clear errors for everything else."""
import inspect
import math
import sys

import pytest
import torch

pytest.importorskip("mmseg")
pytestmark = pytest.mark.mmseg

import transfer.mmseg  # noqa: E402,F401  (installs the stand-in before mmseg)
from transfer.mmseg import compat  # noqa: E402


def test_standin_installed_only_without_real_ops():
    ops = sys.modules["mmcv.ops"]
    assert bool(getattr(ops, "IS_STANDIN", False)) == (not compat.has_real_mmcv_ops())
    assert compat.ensure_mmcv_ops() == bool(getattr(ops, "IS_STANDIN", False))  # idempotent
    import mmseg.models  # noqa: F401  (imports mmcv.ops at module level)


def test_point_sample_at_pixel_centres_returns_pixels():
    x = torch.arange(12, dtype=torch.float32).reshape(1, 1, 3, 4)
    ij = [(0, 0), (1, 2), (2, 3)]
    pts = torch.tensor([[[(j + 0.5) / 4, (i + 0.5) / 3] for i, j in ij]])  # [1, P, 2] as (x, y)
    out = compat.point_sample(x, pts)
    assert out.shape == (1, 1, 3)
    assert torch.allclose(out.flatten(), torch.tensor([x[0, 0, i, j].item() for i, j in ij]), atol=1e-5)
    grid = compat.point_sample(x, pts.unsqueeze(1))  # [N, Hg, Wg, 2] form
    assert grid.shape == (1, 1, 1, 3)


def test_sigmoid_focal_loss_values():
    logits = torch.zeros(2, 3, requires_grad=True)
    target = torch.tensor([1, 3])  # second row: no positive class
    loss = compat.sigmoid_focal_loss(logits, target, gamma=2.0, alpha=0.25, reduction="none")
    pos = 0.25 * 0.25 * math.log(2)
    neg = 0.75 * 0.25 * math.log(2)
    expected = torch.tensor([[neg, pos, neg], [neg, neg, neg]])
    assert torch.allclose(loss, expected, atol=1e-6)
    mean = compat.sigmoid_focal_loss(logits, target, reduction="mean")
    assert mean.item() == pytest.approx(expected.sum().item() / 2, abs=1e-6)
    mean.backward()
    assert logits.grad is not None and torch.isfinite(logits.grad).all()


def test_other_ops_import_but_fail_when_called():
    from mmcv.ops import DeformConv2d, nms  # noqa: F401  (import must work)
    with pytest.raises(NotImplementedError, match="compiled ops"):
        nms(torch.zeros(1, 4), torch.zeros(1), 0.5)
    with pytest.raises(NotImplementedError, match="DeformConv2d"):
        DeformConv2d(3, 3, 3)


def test_dunder_lookups_raise_attribute_error():
    ops = sys.modules["mmcv.ops"]
    if not getattr(ops, "IS_STANDIN", False):
        pytest.skip("real mmcv ops installed")
    for name in ("__wrapped__", "__file__", "__path__"):
        assert not hasattr(ops, name)
    inspect.getmembers(ops)
    assert inspect.unwrap(ops.point_sample) is ops.point_sample
