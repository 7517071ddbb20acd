"""Hugging Face ViTMAEModel / ViTMAEForPreTraining, built from a ViTMAEConfig (no download), on the same weights.

HF masks at random inside the model: the tests pass ``noise`` (ascending = no shuffle) so both sides see the same
patches in the same order; images have the config's size, so ``interpolate_pos_encoding`` is not involved.
"""
from __future__ import annotations

import pytest
import torch
from convert_utils import assert_close, images, micro_mae, micro_vit, randomize

from mae_core.checkpoint.convert import convert_file, convert_state_dict, detect_layout
from mae_core.checkpoint.convert.hf import build_hf_model
from mae_core.models.vit import VisionTransformer

pytest.importorskip("transformers")
ORDERED = torch.arange(64, dtype=torch.float32).repeat(2, 1)  # noise that keeps patch order


def test_ours_mae_to_hf_pretraining_same_encoder_and_decoder():
    src = micro_mae()
    out, manifest, _ = convert_state_dict(src.state_dict(), "ours", "hf", {"num_heads": 2},
                                          {"decoder_num_heads": 2})
    hf = build_hf_model(manifest["hf"], mask_ratio=0.0).eval()
    hf.load_state_dict(out, strict=True)
    x = images()
    with torch.no_grad():
        assert_close(hf.vit(x, noise=ORDERED).last_hidden_state, src.forward_features(x))
        hf.config.mask_ratio = 0.75
        noise = torch.rand(2, 64, generator=torch.Generator().manual_seed(5))
        theirs = hf(x, noise=noise)
        loss, pred, mask = src(x, 0.75, noise)
        assert_close(theirs.logits, pred)
        assert torch.equal(theirs.mask, mask)


def test_ours_vit_with_layer_scale_to_hf_model():
    src = micro_vit(init_values=0.4, qkv_bias=False)
    out, manifest, report = convert_state_dict(src.state_dict(), "ours", "hf", {"num_heads": 2})
    assert "blocks.1.ls2.gamma" in report.dropped  # folded into mlp.fc2
    hf = build_hf_model(manifest["hf"], mask_ratio=0.0).eval()
    hf.load_state_dict(out, strict=True)
    x = images()
    with torch.no_grad():
        assert_close(hf(x, noise=ORDERED).last_hidden_state, src.forward_features(x))


def test_hf_model_file_to_ours_round_trip(tmp_path):
    from transformers import ViTMAEConfig, ViTMAEModel

    config = ViTMAEConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                          image_size=32, patch_size=4, layer_norm_eps=1e-6, mask_ratio=0.0)
    theirs = randomize(ViTMAEModel(config))
    sd = theirs.state_dict()
    assert detect_layout(sd) == "hf"
    torch.save(sd, tmp_path / "pytorch_model.bin")
    config.to_json_file(tmp_path / "config.json")  # read for num_heads=4 (the width alone would say 2)
    convert_file(tmp_path / "pytorch_model.bin", tmp_path / "ours.pth", "auto", "ours")
    ours = torch.load(tmp_path / "ours.pth")
    assert ours["manifest"]["encoder"]["num_heads"] == 4 and ours["manifest"]["encoder"]["mlp_ratio"] == 2
    model = VisionTransformer(**ours["manifest"]["encoder"]).eval()
    model.load_state_dict(ours["model"], strict=True)
    x = images()
    with torch.no_grad():
        assert_close(model.forward_features(x), theirs(x, noise=ORDERED).last_hidden_state)
    back, _, _ = convert_state_dict(ours["model"], "ours", "hf", ours["manifest"]["encoder"])
    assert set(back) == set(sd) and all(torch.equal(back[k], v) for k, v in sd.items())
