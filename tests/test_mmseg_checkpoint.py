"""MAE checkpoints (this project's full file, an official encoder-only file) load with only the expected keys new."""
import pytest
import torch

pytest.importorskip("mmseg")
pytestmark = pytest.mark.mmseg

from _mmseg_helpers import build_segmentor, save_mae_checkpoint  # noqa: E402

import transfer.mmseg  # noqa: E402,F401
from mae_core.checkpoint.io import CheckpointMismatchError  # noqa: E402
from transfer.mmseg import MAEViT  # noqa: E402

MICRO2 = dict(img_size=64, patch_size=4, embed_dim=64, depth=2, num_heads=2, out_indices=(0, 1))


def expected_new(depth):
    return sorted(f"blocks.{i}.{k}" for i in range(depth)
                  for k in ("attn.relative_position_bias_table", "ls1.gamma", "ls2.gamma"))


def test_project_checkpoint_with_decoder(tmp_path):
    ckpt = tmp_path / "mae.pth"
    mae = save_mae_checkpoint(ckpt)  # trained at 32 px: pos_embed 8x8 -> resampled to 16x16
    bb = MAEViT(**MICRO2, pretrained=str(ckpt))
    bb.init_weights()
    rep = bb.load_report
    assert sorted(rep.missing) == expected_new(2)
    assert set(rep.unexpected) == {k for k in mae.state_dict() if k.startswith(("decoder_", "mask_token", "norm."))}
    assert rep.resized == ["pos_embed"]
    torch.testing.assert_close(bb.blocks[1].mlp.fc2.weight, mae.blocks[1].mlp.fc2.weight)
    torch.testing.assert_close(bb.cls_token, mae.cls_token)


def test_official_encoder_only_checkpoint(tmp_path):
    ckpt = tmp_path / "mae_pretrain_vit_micro.pth"
    mae = save_mae_checkpoint(ckpt, full=False, img_size=64)  # {"model": encoder weights}, no manifest
    bb = MAEViT(**MICRO2, pretrained=str(ckpt))
    bb.init_weights()
    assert sorted(bb.load_report.missing) == expected_new(2)
    assert sorted(bb.load_report.unexpected) == ["norm.bias", "norm.weight"]
    torch.testing.assert_close(bb.patch_embed.proj.weight, mae.patch_embed.proj.weight)


def test_anything_else_is_an_error(tmp_path):
    mae = save_mae_checkpoint(tmp_path / "ok.pth", full=False)
    sd = mae.encoder_state_dict()
    torch.save({"model": {**sd, "foo.weight": torch.zeros(1)}}, tmp_path / "extra.pth")
    with pytest.raises(CheckpointMismatchError, match="foo.weight"):
        MAEViT(**MICRO2).load_pretrained(str(tmp_path / "extra.pth"))
    torch.save({"model": {k: v for k, v in sd.items() if k != "blocks.1.mlp.fc1.weight"}}, tmp_path / "miss.pth")
    with pytest.raises(CheckpointMismatchError, match="blocks.1.mlp.fc1.weight"):
        MAEViT(**MICRO2).load_pretrained(str(tmp_path / "miss.pth"))
    save_mae_checkpoint(tmp_path / "deep.pth", depth=3)
    with pytest.raises(ValueError, match="depth=3"):
        MAEViT(**MICRO2).load_pretrained(str(tmp_path / "deep.pth"))


def test_segmentor_init_weights_loads_backbone_only(tmp_path):
    """The Runner calls model.init_weights(): the backbone takes the checkpoint, neck and heads stay new."""
    ckpt = tmp_path / "mae.pth"
    mae = save_mae_checkpoint(ckpt, encoder="vit_demo_patch4")
    model, _ = build_segmentor(pretrained=str(ckpt))
    model.init_weights()
    torch.testing.assert_close(model.backbone.blocks[5].attn.qkv.weight, mae.blocks[5].attn.qkv.weight)
    assert sorted(model.backbone.load_report.missing) == expected_new(6)
