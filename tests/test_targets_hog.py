"""HOG target (MaskFeat): per-patch, per-channel orientation histograms, L2-normalised."""
import math

import torch

from mae_core.targets.base import build_target


def test_hog_shape_norm_and_orientation():
    t = build_target("hog", 8, 3, bins=9, cell_size=4)
    assert t.out_dim == 3 * 2 * 2 * 9
    x = torch.zeros(2, 3, 16, 16)
    x[..., :, 8:] = 1.0                     # a vertical edge: horizontal gradient, orientation 0
    h = t(x)
    assert h.shape == (2, 4, 108)
    norms = h.norm(dim=-1)
    assert torch.allclose(norms[:, [0, 2]], torch.ones(2, 2), atol=1e-5)   # the patches holding the edge
    bins = h[0, 0].reshape(3, 2, 2, 9).sum((0, 1, 2))
    assert int(bins.argmax()) == 0
    y = x.transpose(-1, -2)                 # a horizontal edge: orientation pi/2 -> the middle bin
    bins = t(y)[0, 0].reshape(3, 2, 2, 9).sum((0, 1, 2))
    assert int(bins.argmax()) == int(math.pi / 2 / math.pi * 9)
