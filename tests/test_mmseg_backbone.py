"""MAEViT: built from configs through mmseg's registry, multi-level NCHW maps, zero-init relative position."""
import pytest
import torch

pytest.importorskip("mmseg")
pytestmark = pytest.mark.mmseg

from _mmseg_helpers import BASE, MICRO, build_segmentor, save_mae_checkpoint  # noqa: E402
from mmengine.config import ConfigDict  # noqa: E402

import transfer.mmseg  # noqa: E402,F401
from mae_core.models.vit import VisionTransformer  # noqa: E402
from transfer.mmseg import MAEViT  # noqa: E402


def test_smoke_config_builds_and_maps_fit_the_neck():
    model, cfg = build_segmentor()
    assert type(model.backbone) is MAEViT and isinstance(model.backbone, VisionTransformer)
    model.eval()
    x = torch.randn(2, 3, 128, 128)
    with torch.no_grad():
        feats = model.backbone(x)
        assert [tuple(f.shape) for f in feats] == [(2, 192, 32, 32)] * 4
        pyramid = model.neck(feats)
        assert [tuple(f.shape[-2:]) for f in pyramid] == [(64, 64), (32, 32), (16, 16), (8, 8)]
        logits = model.decode_head(pyramid)
        assert logits.shape == (2, 10, 64, 64)


@pytest.mark.slow
def test_vit_base_config_builds():
    model, cfg = build_segmentor(BASE)
    bb = model.backbone
    assert (bb.embed_dim, len(bb.blocks), bb.out_indices) == (768, 12, (3, 5, 7, 11))
    assert bb.blocks[0].attn.rel_pos == "bias" and bb.blocks[0].ls1.gamma.eq(1.0).all()
    assert bb.patch_embed.grid_size == (32, 32) and bb.pos_embed.requires_grad
    assert cfg.optim_wrapper.type == "AmpOptimWrapper" and cfg.optim_wrapper.paramwise_cfg.layer_decay_rate == 0.65
    model.eval()
    with torch.no_grad():
        feats = bb(torch.randn(1, 3, 64, 96))  # any size: pos_embed and bias table are resampled
        assert [tuple(f.shape) for f in feats] == [(1, 768, 4, 6)] * 4
        assert [tuple(f.shape[-2:]) for f in model.neck(feats)] == [(16, 24), (8, 12), (4, 6), (2, 3)]


@pytest.mark.parametrize("rel_pos", ["bias", "decomposed"])
def test_zero_init_rel_pos_and_unit_layer_scale_keep_pretrained_output(tmp_path, rel_pos):
    ckpt = tmp_path / "mae.pth"
    mae = save_mae_checkpoint(ckpt, img_size=64)
    plain = VisionTransformer(img_size=64, patch_size=4, embed_dim=64, depth=2, num_heads=2, global_pool="")
    plain.load_state_dict({k: v for k, v in mae.state_dict().items() if k in plain.state_dict()})
    bb = MAEViT(img_size=64, patch_size=4, embed_dim=64, depth=2, num_heads=2, out_indices=(0, 1),
                drop_path_rate=0.0, init_values=1.0, rel_pos=rel_pos, pretrained=str(ckpt))
    bb.init_weights()
    bb.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ref = plain.forward_intermediates(x, [0, 1], norm=False, output_fmt="NCHW")
        out = bb(x)
        for a, b in zip(out, ref):
            torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
        table = "relative_position_bias_table" if rel_pos == "bias" else "rel_pos_h"
        getattr(bb.blocks[0].attn, table).normal_(std=1.0)  # a learned table changes the output
        assert not torch.allclose(bb(x)[0], ref[0], atol=1e-3)


def test_sliding_window_and_whole_inference_on_other_sizes():
    model, _ = build_segmentor()
    model.eval()
    model.test_cfg = ConfigDict(mode="slide", crop_size=(48, 48), stride=(32, 32))
    x = torch.randn(1, 3, 80, 112)
    def meta():  # slide_inference rewrites img_shape in place
        return [dict(img_shape=(80, 112), ori_shape=(80, 112), pad_shape=(80, 112))]
    with torch.no_grad():
        slide = model.inference(x, meta())
        model.test_cfg = ConfigDict(mode="whole")
        whole = model.inference(x, meta())
    assert slide.shape == whole.shape == (1, 10, 80, 112)
    assert torch.isfinite(slide).all()


def test_bad_options_are_errors():
    with pytest.raises(ValueError, match="out_indices"):
        MAEViT(**{**MICRO, "out_indices": (0, 9)})
    with pytest.raises(ValueError, match="pretrained"):
        MAEViT(**MICRO, init_cfg=dict(type="Pretrained", checkpoint="x.pth"))


def test_a_block_named_twice_feeds_several_levels():
    """(1, 3, 3, 3): one forward, the last block's map on three levels (ViTDet's one-map pyramid), final norm on it."""
    torch.manual_seed(0)
    bb = MAEViT(**{**MICRO, "out_indices": (1, 3, 3, 3), "final_norm": True})
    bb.eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        out = bb(x)
        ref = bb.forward_intermediates(x, [1, 3], norm=False, output_fmt="NCHW")
    assert len(out) == 4 and out[1] is out[2] is out[3]
    torch.testing.assert_close(out[0], ref[0])
    normed = bb.norm(ref[1].permute(0, 2, 3, 1)).permute(0, 3, 1, 2)
    torch.testing.assert_close(out[3], normed)
    assert not torch.allclose(out[3], ref[1], atol=1e-3)
