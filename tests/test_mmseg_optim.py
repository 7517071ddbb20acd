"""The layer-decay optimizer-wrapper constructor: the lr of each group is mmseg's number for it."""
import pytest
import torch.nn as nn

pytest.importorskip("mmseg")
pytestmark = pytest.mark.mmseg

from mmseg.engine.optimizers.layer_decay_optimizer_constructor import get_layer_id_for_vit  # noqa: E402
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS  # noqa: E402

import transfer.mmseg  # noqa: E402,F401
from transfer.mmseg import MAEViT  # noqa: E402


class TinySegmentor(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.backbone = MAEViT(img_size=32, patch_size=4, embed_dim=32, depth=depth, num_heads=2,
                               out_indices=(depth - 1,))
        self.decode_head = nn.Sequential(nn.Conv2d(32, 8, 1), nn.BatchNorm2d(8))


def build(model, depth, rate, lr=1e-4, **extra):
    ctor = OPTIM_WRAPPER_CONSTRUCTORS.build(dict(
        type="MAELayerDecayConstructor",
        optim_wrapper_cfg=dict(type="OptimWrapper", optimizer=dict(type="AdamW", lr=lr, weight_decay=0.05)),
        paramwise_cfg=dict(num_layers=depth, layer_decay_rate=rate, **extra)))
    return ctor(model)


@pytest.mark.parametrize("depth,rate", [(12, 0.65), (4, 0.9)])
def test_lr_per_parameter_matches_mmseg_numbering(depth, rate):
    model = TinySegmentor(depth)
    wrapper = build(model, depth, rate)
    lr_of = {id(p): g["lr"] for g in wrapper.optimizer.param_groups for p in g["params"]}
    wd_of = {id(p): g["weight_decay"] for g in wrapper.optimizer.param_groups for p in g["params"]}
    num_layers = depth + 2  # mmseg's own count
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        layer_id = get_layer_id_for_vit(name.replace("backbone.blocks.", "backbone.layers."), num_layers)
        assert lr_of[id(p)] == pytest.approx(1e-4 * rate ** (num_layers - layer_id - 1), rel=1e-9), name
        no_wd = p.ndim == 1 or name.endswith(".bias") or name.endswith(("pos_embed", "cls_token"))
        assert wd_of[id(p)] == (0.0 if no_wd else 0.05), name


def test_vit_b_numbers():
    model = TinySegmentor(12)
    groups = build(model, 12, 0.65).optimizer.param_groups
    lr = {n: g["lr"] for g in groups for n in g["names"]}
    assert lr["backbone.patch_embed.proj.weight"] == pytest.approx(1e-4 * 0.65 ** 13)
    assert lr["backbone.blocks.0.attn.qkv.weight"] == pytest.approx(1e-4 * 0.65 ** 12)
    assert lr["backbone.blocks.11.mlp.fc2.weight"] == pytest.approx(1e-4 * 0.65)
    assert lr["decode_head.0.weight"] == pytest.approx(1e-4)


def test_bad_paramwise_cfg():
    with pytest.raises(KeyError, match="did you mean 'layer_decay_rate'"):
        build(TinySegmentor(2), 2, 0.65, layer_decay=0.5)
    with pytest.raises(ValueError, match="num_layers=12"):
        build(TinySegmentor(2), 12, 0.65)
