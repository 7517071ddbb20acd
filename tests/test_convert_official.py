"""Official MAE files (pretrain / visualize / fine-tuned) and ours: identity names; layout detection and errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import run_main
from convert_utils import assert_close, images, micro_mae, micro_vit

from mae_core.checkpoint.convert import (
    UnknownLayoutError,
    check_layout,
    convert_file,
    convert_state_dict,
    detect_layout,
)
from mae_core.checkpoint.pretrained import load_encoder
from mae_core.models.mae import MaskedAutoencoder
from mae_core.models.vit import VisionTransformer

ROOT = Path(__file__).resolve().parents[1]


def _load(manifest: dict, sd: dict) -> VisionTransformer:
    model = VisionTransformer(**manifest["encoder"]).eval()
    model.load_state_dict(sd, strict=True)
    return model


def test_pretrain_file_to_ours_and_back(tmp_path):
    src = micro_vit()
    torch.save({"model": src.state_dict()}, tmp_path / "mae_pretrain_vit_micro.pth")
    report = convert_file(tmp_path / "mae_pretrain_vit_micro.pth", tmp_path / "ours.pth", "auto", "ours", num_heads=2)
    assert report.source_layout == "official" and not report.dropped and not report.created
    ours = torch.load(tmp_path / "ours.pth")
    x = images()
    assert_close(_load(ours["manifest"], ours["model"])(x), src(x), atol=0)
    side = json.loads((tmp_path / "ours.pth.json").read_text())
    assert side["manifest"]["encoder"]["embed_dim"] == 64 and "versions" in side["manifest"]
    convert_file(tmp_path / "ours.pth", tmp_path / "back.pth", "auto", "official")
    back = torch.load(tmp_path / "back.pth")
    assert set(back) == {"model"}
    assert all(torch.equal(back["model"][k], v) for k, v in src.state_dict().items())


def test_finetuned_file_loads_with_fc_norm_and_head(tmp_path):
    src = micro_vit(global_pool="avg", num_classes=5)
    sd = src.state_dict()
    torch.save({"model": sd}, tmp_path / "mae_finetuned_vit_micro.pth")
    loaded, report = load_encoder(tmp_path / "mae_finetuned_vit_micro.pth", global_pool="avg", num_classes=5,
                                  num_heads=2)
    assert not report.missing and not report.unexpected
    assert "fc_norm.weight" in sd and "norm.weight" not in sd
    out, manifest, _ = convert_state_dict(sd, "official", "ours", {"num_heads": 2})
    assert manifest["encoder"]["global_pool"] == "avg" and manifest["encoder"]["num_classes"] == 5
    x = images()
    assert_close(_load(manifest, out)(x), src(x), atol=0)
    assert_close(loaded.eval()(x), src(x), atol=0)


def test_visualize_file_keeps_the_decoder():
    src = micro_mae()
    out, manifest, report = convert_state_dict(src.state_dict(), "official", "ours", {"num_heads": 2},
                                               {"decoder_num_heads": 2})
    assert manifest["decoder"] == {"decoder_embed_dim": 32, "decoder_depth": 1, "decoder_num_heads": 2}
    enc = {k: v for k, v in manifest["encoder"].items() if k in ("img_size", "patch_size", "embed_dim", "depth",
                                                                 "num_heads")}
    mae = MaskedAutoencoder(**enc, **manifest["decoder"]).eval()
    mae.load_state_dict(out, strict=True)
    x, noise = images(), torch.rand(2, 64, generator=torch.Generator().manual_seed(3))
    assert_close(mae(x, 0.75, noise)[1], src(x, 0.75, noise)[1], atol=0)


def test_layer_scale_is_folded_exactly_for_official():
    src = micro_vit(init_values=0.5)
    out, manifest, report = convert_state_dict(src.state_dict(), "ours", "official", {"num_heads": 2})
    assert "blocks.0.ls1.gamma" in report.dropped and "init_values" not in _strip(manifest)
    plain = VisionTransformer(**_strip(manifest)).eval()
    plain.load_state_dict(out, strict=True)
    assert_close(plain(images()), src(images()))


def _strip(manifest: dict) -> dict:
    return {k: v for k, v in manifest["encoder"].items() if k != "init_values"}


def test_unknown_layout_names_the_unmatched_keys():
    sd = micro_vit().state_dict()
    sd["my_adapter.weight"] = torch.zeros(3)
    with pytest.raises(UnknownLayoutError, match="my_adapter.weight"):
        detect_layout(sd)
    mixed = {**micro_vit().state_dict(), "backbone.net.pos_embed": torch.zeros(1)}
    with pytest.raises(UnknownLayoutError, match="backbone.net.pos_embed"):
        detect_layout(mixed)
    with pytest.raises(UnknownLayoutError, match=r"not in the mmseg layout: blocks\.0\.attn"):
        check_layout(micro_vit().state_dict(), "mmseg")


def test_cli_converts_and_reports(tmp_path, capsys):
    from mae_core.cli import convert_main
    torch.save({"model": micro_vit().state_dict()}, tmp_path / "in.pth")
    run = run_main(capsys, convert_main, "--to", "timm", "--num-heads", "2", tmp_path / "in.pth", tmp_path / "out.pth")
    assert run.returncode == 0, run.stderr
    assert "official -> timm" in run.stdout and (tmp_path / "out.pth.json").is_file()
    torch.save({"model": {"foo.bar": torch.zeros(1)}}, tmp_path / "bad.pth")
    run = run_main(capsys, convert_main, "--to", "ours", tmp_path / "bad.pth", tmp_path / "x.pth")
    assert run.returncode == 2 and "foo.bar" in run.stderr
