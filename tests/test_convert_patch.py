"""Patch-size resampling (pseudo-inverse resize): exact on resized patches, equal to timm's, small error overall."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from convert_utils import assert_close, randomize
from timm.layers import resample_patch_embed as timm_resample

from mae_core.checkpoint.convert import convert_state_dict, resample_patch_embed
from mae_core.checkpoint.convert.patch_resample import measure_resample_error, resize_matrix
from mae_core.models.vit import VisionTransformer


def test_new_kernel_sees_a_resized_patch_as_the_old_kernel_saw_the_patch():
    g = torch.Generator().manual_seed(0)
    w, x = torch.randn(8, 3, 14, 14, generator=g), torch.randn(5, 3, 14, 14, generator=g)
    w16 = resample_patch_embed(w, 16)
    x16 = (resize_matrix(14, 16).float() @ x.reshape(15, 196).t()).t().reshape(5, 3, 16, 16)
    assert_close(torch.einsum("nchw,dchw->nd", x16, w16), torch.einsum("nchw,dchw->nd", x, w), rtol=1e-4)
    assert_close(w16, timm_resample(w, [16, 16], interpolation="bilinear", antialias=False), rtol=1e-4)


def test_patch_size_option_of_the_conversion():
    src = randomize(VisionTransformer(img_size=56, patch_size=14, embed_dim=64, depth=1, num_heads=2))
    out, manifest, report = convert_state_dict(src.state_dict(), "ours", "ours", {"num_heads": 2}, patch_size=16)
    assert out["patch_embed.proj.weight"].shape[-1] == 16 and out["pos_embed"].shape[1] == 1 + 3 * 3
    assert any("APPROXIMATE" in n for n in report.notes) and manifest["encoder"]["patch_size"] == 16


def test_img_size_option_resamples_the_grid_alone():
    src = randomize(VisionTransformer(img_size=32, patch_size=8, embed_dim=64, depth=1, num_heads=2))
    out, manifest, report = convert_state_dict(src.state_dict(), "ours", "ours", {"num_heads": 2}, img_size=(64, 64))
    assert torch.equal(out["patch_embed.proj.weight"], src.state_dict()["patch_embed.proj.weight"])
    assert out["pos_embed"].shape[1] == 1 + 8 * 8 and manifest["encoder"]["img_size"] == [64, 64]
    assert not any("APPROXIMATE" in n for n in report.notes) and "pos_embed" in report.created
    same, manifest, report = convert_state_dict(src.state_dict(), "ours", "ours", {"num_heads": 2}, img_size=(32, 32))
    assert torch.equal(same["pos_embed"], src.state_dict()["pos_embed"]) and not report.created


def test_error_on_fashion_mnist_items():
    from mae_core.data.datasets import DataError, read_fashion_mnist
    try:
        imgs, _ = read_fashion_mnist("test")
    except DataError as e:
        pytest.skip(str(e))
    x = torch.from_numpy(imgs[:8].copy()).float().div(255).unsqueeze(1).expand(-1, 3, -1, -1)
    x = (F.interpolate(x, size=(112, 112), mode="bilinear", align_corners=False) - 0.45) / 0.225
    torch.manual_seed(0)
    model = VisionTransformer(img_size=112, patch_size=14, embed_dim=64, depth=2, num_heads=2).eval()
    err = measure_resample_error(model, x, 16)
    print(err)
    assert err["same_grid_tokens"] < 0.05 and err["same_grid_tokens"] < err["same_grid_tokens_naive"]
