"""mmseg 1.2.2's MAE / BEiT backbones, built from its registry (with an ``mmcv.ops`` stand-in, since mmcv-lite
has no compiled ops), against our ViT on the same weights."""
from __future__ import annotations

import sys
import types

import pytest
import torch
from convert_utils import assert_close, images, micro_vit, randomize

from mae_core.checkpoint.convert import convert_state_dict, detect_layout
from mae_core.models.vit import VisionTransformer

pytestmark = pytest.mark.mmseg


def _ops_standin() -> None:
    """mmseg imports a few ``mmcv.ops`` kernels at import time; none is used by the ViT backbones."""
    try:
        import mmcv.ops  # noqa: F401
        return
    except (ImportError, ModuleNotFoundError):
        sys.modules.pop("mmcv.ops", None)
    mod = types.ModuleType("mmcv.ops")

    def missing(name: str):
        if name.startswith("__"):
            raise AttributeError(name)

        def op(*args, **kwargs):
            raise NotImplementedError(f"mmcv.ops.{name} is not available (mmcv-lite)")
        return op
    mod.__getattr__ = missing
    sys.modules["mmcv.ops"] = mod


@pytest.fixture(scope="module")
def registry():
    pytest.importorskip("mmseg")
    _ops_standin()
    import mmseg.models  # noqa: F401  (registers the backbones)
    from mmseg.registry import MODELS
    return MODELS


def _tokens(model: VisionTransformer, x: torch.Tensor) -> torch.Tensor:
    """Our patch tokens as mmseg returns them: [B, D, h, w]."""
    t = model.forward_features(x)[:, 1:]
    return t.transpose(1, 2).reshape(x.shape[0], -1, 8, 8)


@pytest.mark.parametrize("kwargs", [dict(init_values=0.3, rel_pos="bias"), {}])
def test_ours_to_mmseg_mae_same_output(registry, kwargs):
    src = micro_vit(**kwargs)
    out, manifest, report = convert_state_dict(src.state_dict(), "ours", "mmseg", {"num_heads": 2})
    if not kwargs:
        assert report.created["layers.0.gamma_1"].startswith("ones")
    theirs = registry.build(dict(manifest["mmseg"]["backbone"], out_indices=-1))
    theirs.load_state_dict(out, strict=True)
    theirs.eval()  # (mmseg's BEiT.train returns None: no chaining)
    x = images()
    with torch.no_grad():
        assert_close(theirs(x)[-1], _tokens(src, x))


def test_mmseg_mae_to_ours_and_back(registry):
    theirs = registry.build(dict(type="MAE", img_size=32, patch_size=4, embed_dims=64, num_layers=2, num_heads=2,
                                 norm_cfg=dict(type="LN", eps=1e-6), init_values=0.5, out_indices=-1))
    randomize(theirs)
    sd = {"backbone." + k: v for k, v in theirs.state_dict().items()}  # as inside a segmentor checkpoint
    sd["decode_head.conv_seg.weight"] = torch.zeros(150, 8, 1, 1)
    assert detect_layout(sd) == "mmseg"
    ours, manifest, report = convert_state_dict(sd, "mmseg", "ours", {"num_heads": 2})
    assert "decode_head.conv_seg.weight" in report.dropped and "fc_norm.weight" in report.created  # no final norm
    model = VisionTransformer(**manifest["encoder"]).eval()
    model.load_state_dict(ours, strict=True)
    x = images()
    with torch.no_grad():
        assert_close(_tokens(model, x), theirs(x)[-1])
    back, _, _ = convert_state_dict(ours, "ours", "mmseg", manifest["encoder"])
    assert all(torch.equal(back[k], v) for k, v in theirs.state_dict().items())


def test_beit_q_v_bias_to_ours(registry):
    theirs = registry.build(dict(type="BEiT", img_size=32, patch_size=4, embed_dims=64, num_layers=2, num_heads=2,
                                 norm_cfg=dict(type="LN", eps=1e-6), final_norm=True, out_indices=-1))
    randomize(theirs)
    sd = theirs.state_dict()
    assert "layers.0.attn.q_bias" in sd and "pos_embed" not in sd
    ours, manifest, report = convert_state_dict(sd, "auto", "ours", {"num_heads": 2})
    assert "pos_embed" in report.created and "blocks.0.attn.qkv.bias" in report.created
    model = VisionTransformer(**manifest["encoder"]).eval()
    model.load_state_dict(ours, strict=True)
    x = images()
    with torch.no_grad():
        assert_close(_tokens(model, x), theirs(x)[-1])
