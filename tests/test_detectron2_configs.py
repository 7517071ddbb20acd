"""The COCO LazyConfig files: they load, carry the recipe's numbers, and typos in overrides are errors."""
from pathlib import Path

import pytest

pytest.importorskip("detectron2")
pytestmark = pytest.mark.detectron2

from detectron2.config import LazyConfig, instantiate  # noqa: E402

import transfer.detectron2  # noqa: E402,F401 - compat before detectron2's submodules
from mae_core.config import ConfigError  # noqa: E402
from transfer.detectron2.train import apply_overrides  # noqa: E402

CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "coco"


@pytest.mark.parametrize("name, vit, drop_path, decay, global_blocks", [
    ("mask_rcnn_vitdet_b_100ep", "vit_base_patch16", 0.1, 0.7, [2, 5, 8, 11]),
    ("mask_rcnn_vitdet_l_100ep", "vit_large_patch16", 0.4, 0.8, [5, 11, 17, 23]),
    ("mask_rcnn_vitdet_h_75ep", "vit_huge_patch14", 0.5, 0.9, [7, 15, 23, 31]),
    ("mask_rcnn_mae_fpn_b", "vit_base_patch16", 0.1, 0.7, None),
    ("mask_rcnn_mae_fpn_l", "vit_large_patch16", 0.3, 0.8, None),
])
def test_recipe_configs(name, vit, drop_path, decay, global_blocks):
    cfg = LazyConfig.load(str(CONFIGS / f"{name}.py"))
    net = cfg.model.backbone.net if "vitdet" in name else cfg.model.backbone.net
    assert net.name == vit and net.drop_path_rate == drop_path and net.img_size == 1024
    if global_blocks:
        assert list(net.global_blocks) == global_blocks and net.window_size == 14
    assert cfg.optimizer.params.layer_decay == decay
    epochs = 75 if "_75ep" in name else 100
    assert cfg.train.amp.enabled and cfg.train.max_iter == 184375 * epochs // 100
    assert cfg.dataloader.train.total_batch_size == 64 and cfg.model.config_name.endswith(f"{name}.py")
    if "vitdet" in name:
        assert cfg.model.backbone.square_pad == 1024                       # ViTDet pads to a 1024 square
        assert net.get("patch_size", 16) == 16                              # ViT-H runs at patch 16 as upstream
    sched = instantiate(cfg.lr_multiplier)
    assert sched(0.0) == pytest.approx(0.001, rel=0.1) and sched(0.5) > 0.1
    assert "Should reach" in Path(CONFIGS / f"{name}.py").read_text()


def test_smoke_config_builds_and_overrides_are_checked():
    cfg = LazyConfig.load(str(CONFIGS / "smoke.py"))
    cfg = apply_overrides(cfg, ["train.max_iter=100", "optimizer.lr=0.001"])
    assert cfg.train.max_iter == 100 and cfg.optimizer.params.base_lr == 0.001
    model = instantiate(cfg.model)
    assert model.backbone.net.patch_embed.patch_size == (4, 4)
    assert [b.window_size for b in model.backbone.net.blocks] == [8, 8, 0, 8, 8, 0]
    assert {k: v.stride for k, v in model.backbone.output_shape().items()} == {
        "p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}
    sched = instantiate(cfg.lr_multiplier)                          # follows the overridden max_iter
    assert sched(0.5) == pytest.approx(1.0) and sched(0.95) == pytest.approx(0.1)   # x0.1 at 80 of 100
    with pytest.raises(ConfigError, match=r"train.max_itr.*did you mean 'train.max_iter'"):
        apply_overrides(cfg, ["train.max_itr=5"])


SHRINK = ["+model.backbone.net.embed_dim=64", "+model.backbone.net.depth=4", "+model.backbone.net.num_heads=2",
          "model.backbone.net.img_size=128", "model.backbone.net.drop_path_rate=0.0"]


@pytest.mark.parametrize("name", sorted(p.stem for p in CONFIGS.glob("mask_rcnn_*.py")))
def test_recipe_builds_with_overrides_only_and_gives_p2_to_p6(name):
    cfg = LazyConfig.load(str(CONFIGS / f"{name}.py"))
    extra = ["model.backbone.net.window_size=4", "model.backbone.net.global_blocks=[1,3]",
             "model.backbone.square_pad=128"] if "vitdet" in name else []
    model = instantiate(apply_overrides(cfg, SHRINK + extra).model)
    strides = {k: v.stride for k, v in model.backbone.output_shape().items()}
    assert strides == {"p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}


def test_pyramid_mismatch_fails_at_build_naming_the_config():
    from transfer.detectron2.rcnn import PyramidMismatchError
    cfg = LazyConfig.load(str(CONFIGS / "smoke.py"))
    cfg = apply_overrides(cfg, ["model.backbone.out_channels=64"])         # heads stay at 128 channels
    with pytest.raises(PyramidMismatchError, match=r"smoke\.py.*\n.*RPN head takes 128 channels.*64"):
        instantiate(cfg.model)
    cfg = LazyConfig.load(str(CONFIGS / "smoke.py"))
    cfg = apply_overrides(cfg, ["model.backbone.scale_factors=[1.0,0.5,0.25]"])   # no p5: p6 becomes p5's stride
    with pytest.raises(PyramidMismatchError, match=r"(?s)smoke\.py.*RPN reads \['p6'\]"):
        instantiate(cfg.model)
    cfg = LazyConfig.load(str(CONFIGS / "mask_rcnn_vitdet_h_75ep.py"))
    cfg = apply_overrides(cfg, SHRINK + ["model.backbone.net.patch_size=14", "model.backbone.net.global_blocks=[1]"])
    with pytest.raises(ValueError, match="patch 14 / scale 4.0 = stride 3.5 is not a power of 2"):
        instantiate(cfg.model)
