"""The ViT backbones for detectron2: shapes, window == global, zero-init relative position, checkpoint loading,
layer-wise lr decay. Micro models (64 px, patch 4), CPU."""
import pytest
import torch
import torch.nn as nn

pytest.importorskip("detectron2")
pytestmark = pytest.mark.detectron2

from mae_core.checkpoint.io import CheckpointMismatchError  # noqa: E402
from mae_core.models.mae import create_mae  # noqa: E402
from mae_core.models.vit import create_vit  # noqa: E402
from transfer.detectron2.backbone import SimpleFeaturePyramid, build_vit_fpn  # noqa: E402
from transfer.detectron2.vit_dense import create_dense_vit  # noqa: E402
from transfer.detectron2.weights import find_vit, load_mae_into_detector, vit_param_groups  # noqa: E402


def _micro(window: int = 4, global_blocks=(1,), img: int = 64, **kw):
    return create_dense_vit("vit_micro_patch4", img_size=img, window_size=window, global_blocks=global_blocks,
                            drop_path_rate=0.0, **kw)


@pytest.mark.parametrize("hw", [(64, 64), (64, 128), (192, 64)])  # multiples of size_divisibility (64)
@pytest.mark.parametrize("variant", ["sfp", "fpn"])
def test_feature_maps_match_output_shape(hw, variant):
    torch.manual_seed(0)
    if variant == "sfp":
        bb = SimpleFeaturePyramid(_micro(), out_channels=32, scale_factors=(1.0, 0.5, 0.25, 0.125))
        assert list(bb.output_shape()) == ["p2", "p3", "p4", "p5", "p6"]
    else:
        bb = build_vit_fpn(_micro(window=0), out_channels=32)
    assert all(s % bb.size_divisibility == 0 for s in hw)
    feats = bb(torch.randn(2, 3, *hw))
    shapes = bb.output_shape()
    assert set(feats) == set(shapes)
    for name, spec in shapes.items():
        assert feats[name].shape == (2, spec.channels, hw[0] // spec.stride, hw[1] // spec.stride), name
    assert [s.stride for s in shapes.values()] == [4, 8, 16, 32, 64]


def test_default_scales_give_vitdet_strides():
    bb = SimpleFeaturePyramid(_micro(), out_channels=16)  # scales 4, 2, 1, 0.5 of a stride-4 map
    assert {k: v.stride for k, v in bb.output_shape().items()} == {"p0": 1, "p1": 2, "p2": 4, "p3": 8, "p4": 16}
    out = bb(torch.randn(1, 3, 32, 48))
    assert out["p0"].shape == (1, 16, 32, 48) and out["p4"].shape == (1, 16, 2, 3)


def test_window_equal_to_grid_is_global_attention():
    torch.manual_seed(0)
    grid = 16  # 64 px / patch 4
    windowed = _micro(window=grid, global_blocks=())          # every block windowed, one window covers the grid
    global_ = _micro(window=0)                                # every block global
    assert all(b.window_size == grid for b in windowed.blocks) and all(b.window_size == 0 for b in global_.blocks)
    with torch.no_grad():
        for p in windowed.parameters():
            if p.ndim == 2 and p.shape[0] == 2 * grid - 1:    # make the relative-position tables matter
                p.normal_(std=0.5)
    global_.load_state_dict(windowed.state_dict())
    x = torch.randn(2, 3, 64, 64)
    a, b = windowed.forward_patch_tokens(x)[0], global_.forward_patch_tokens(x)[0]
    torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)


def test_zero_init_rel_pos_keeps_pretrained_output():
    torch.manual_seed(0)
    plain = create_vit("vit_micro_patch4", img_size=64, global_pool="", fc_norm=False)
    dense = _micro(window=0, global_blocks=None)
    missing, unexpected = dense.load_state_dict(plain.state_dict(), strict=False)
    assert unexpected == [] and missing and all("rel_pos" in k for k in missing)
    x = torch.randn(2, 3, 64, 64)
    plain_tokens = plain.patch_embed(x) + plain.pos_embed[:, 1:]
    for blk in plain.blocks:
        plain_tokens = blk(plain_tokens, (16, 16), 0)
    expect = plain_tokens.transpose(1, 2).reshape(2, -1, 16, 16)
    torch.testing.assert_close(dense.forward_patch_tokens(x)[0], expect, atol=1e-5, rtol=1e-5)


class _Detector(nn.Module):
    def __init__(self, backbone):
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(4, 4)


def _save_mae(path, extra: dict | None = None, encoder_only: bool = False):
    mae = create_mae("vit_micro_patch4", decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2,
                     norm_pix_loss=True)
    sd = mae.encoder_state_dict() if encoder_only else mae.state_dict()
    sd.update(extra or {})
    torch.save({"model": sd, "manifest": {"encoder": mae.encoder_config()}}, path)
    return mae


@pytest.mark.parametrize("encoder_only", [False, True])
def test_mae_checkpoint_loads_with_only_expected_new_keys(tmp_path, encoder_only):
    path = tmp_path / "mae.pth"
    mae = _save_mae(path, encoder_only=encoder_only)
    det = _Detector(SimpleFeaturePyramid(_micro(), out_channels=16, scale_factors=(1.0, 0.5)))
    prefix, vit = find_vit(det)
    assert prefix == "backbone.net."
    report = load_mae_into_detector(det, path)
    assert report.unexpected == []
    assert {k for k in report.missing if not k.endswith(("rel_pos_h", "rel_pos_w"))} == {
        "cls_token", "norm.weight", "norm.bias"}                      # unused by dense features: not loaded
    assert report.resized == ["pos_embed"]                       # 8x8 (32 px) -> 16x16 (64 px)
    torch.testing.assert_close(vit.blocks[1].mlp.fc2.weight, mae.blocks[1].mlp.fc2.weight)
    torch.testing.assert_close(vit.patch_embed.proj.weight, mae.patch_embed.proj.weight)


def test_unexpected_key_is_an_error(tmp_path):
    path = tmp_path / "bad.pth"
    _save_mae(path, extra={"blocks.0.attn.extra": torch.zeros(3)}, encoder_only=True)
    det = _Detector(SimpleFeaturePyramid(_micro(), out_channels=16, scale_factors=(1.0,)))
    with pytest.raises(CheckpointMismatchError, match="blocks.0.attn.extra"):
        load_mae_into_detector(det, path)


def test_layer_decay_groups_use_vitdet_numbering_and_weight_decay():
    det = _Detector(SimpleFeaturePyramid(_micro(), out_channels=16, scale_factors=(1.0,)))
    groups = vit_param_groups(det, base_lr=1.0, layer_decay=0.5, weight_decay=0.1)   # ViTDet-B/L's rule
    depth = 2
    lr_of = {}
    for g in groups:
        for p in g["params"]:
            lr_of[id(p)] = (g["lr"], g["weight_decay"])
    net = det.backbone.net
    assert lr_of[id(net.patch_embed.proj.weight)] == (0.5 ** (depth + 1), 0.1)
    assert lr_of[id(net.pos_embed)] == (0.5 ** (depth + 1), 0.0)
    assert lr_of[id(net.blocks[0].attn.qkv.weight)] == (0.5 ** depth, 0.1)
    assert lr_of[id(net.blocks[1].attn.rel_pos_h)] == (0.5, 0.1)          # upstream decays rel-pos tables
    assert lr_of[id(net.blocks[1].attn.qkv.bias)] == (0.5, 0.1)           # ... and biases
    assert lr_of[id(net.blocks[1].norm1.weight)] == (0.5, 0.0)            # weight_decay_norm=0.0
    assert lr_of[id(det.backbone.simfp_2[0].weight)] == (1.0, 0.1)       # pyramid: top layer
    assert lr_of[id(det.backbone.simfp_2[0].norm.weight)] == (1.0, 0.0)  # its LN
    assert lr_of[id(det.head.weight)] == (1.0, 0.1)
    assert id(net.cls_token) not in lr_of                                   # frozen: unused by dense features
    every = vit_param_groups(det, base_lr=1.0, layer_decay=0.5, weight_decay=0.1, no_decay=(), norm_decay=True)
    assert {g["weight_decay"] for g in every} == {0.1}                      # ViTDet-H: overrides={}, norms decayed
    assert sum(len(g["params"]) for g in every) == sum(len(g["params"]) for g in groups)


def test_vit_lr_mult_scales_the_vit_only():
    det = _Detector(SimpleFeaturePyramid(_micro(), out_channels=16, scale_factors=(1.0,)))
    base = vit_param_groups(det, base_lr=1.0, layer_decay=0.5, weight_decay=0.1)
    half = vit_param_groups(det, base_lr=1.0, layer_decay=0.5, weight_decay=0.1, vit_lr_mult=0.25)
    lr_base = {id(p): g["lr"] for g in base for p in g["params"]}
    lr_half = {id(p): g["lr"] for g in half for p in g["params"]}
    assert lr_half.keys() == lr_base.keys()
    vit_ids = {id(p) for p in det.backbone.net.parameters()}
    for pid, lr in lr_base.items():
        assert lr_half[pid] == (lr * 0.25 if pid in vit_ids else lr)
    assert lr_half[id(det.backbone.net.blocks[1].attn.qkv.weight)] == 0.5 * 0.25
    assert lr_half[id(det.head.weight)] == 1.0
    with pytest.raises(ValueError, match="vit_lr_mult"):
        vit_param_groups(det, base_lr=1.0, vit_lr_mult=0.0)


@pytest.mark.parametrize("builder", ["build_vitdet_backbone", "build_vit_fpn_backbone"])
def test_yacs_registry_builds_the_backbones(builder):
    from detectron2.config import get_cfg
    from detectron2.modeling import build_backbone

    from transfer.detectron2.registry import add_vit_config
    cfg = add_vit_config(get_cfg())
    cfg.MODEL.BACKBONE.NAME = builder
    cfg.MODEL.VIT.NAME, cfg.MODEL.VIT.IMG_SIZE, cfg.MODEL.VIT.WINDOW_SIZE = "vit_micro_patch4", 64, 4
    cfg.MODEL.VIT.SCALE_FACTORS, cfg.MODEL.VIT.OUT_CHANNELS = [1.0, 0.5, 0.25, 0.125], 16
    bb = build_backbone(cfg)
    assert isinstance(find_vit(bb)[1], type(create_vit("vit_micro_patch4")))
    assert {k: (v.channels, v.stride) for k, v in bb.output_shape().items()} == {
        f"p{i}": (16, 2 ** i) for i in range(2, 7)}


def test_importing_the_package_registers_the_backbones():
    import subprocess
    import sys
    code = ("import sys; import transfer.detectron2; from detectron2.modeling import BACKBONE_REGISTRY as R; "
            "names = {'build_vitdet_backbone', 'build_vit_fpn_backbone'}; "
            "assert names <= set(R._obj_map), sorted(R._obj_map); print('registered')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "registered" in done.stdout, done.stderr[-2000:]


def test_forward_patch_tokens_is_the_dense_path():
    torch.manual_seed(0)
    vit = _micro(window=4, global_blocks=(1,))
    x = torch.randn(1, 3, 48, 64)                                            # grid 12 x 16 (table built for 16 x 16)
    grid = (12, 16)
    tokens = vit.patch_embed(x) + vit.pos_embed_for(grid)[:, 1:]
    first = vit.blocks[0](tokens, grid, 0)
    last = vit.blocks[1](first, grid, 0)
    outs = vit.forward_patch_tokens(x, out_indices=[0, -1])
    torch.testing.assert_close(outs[0], first.transpose(1, 2).reshape(1, 64, 12, 16))
    torch.testing.assert_close(outs[1], last.transpose(1, 2).reshape(1, 64, 12, 16))
