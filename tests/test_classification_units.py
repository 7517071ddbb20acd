"""Unit checks of the classification transfer: LARS, metrics, schedule, heads, partial fine-tuning, class counts."""
import logging
import math

import pytest
import torch

from mae_core.checkpoint.io import atomic_save
from mae_core.config import ConfigError, load_config
from mae_core.engine.lr_decay import param_groups_lrd
from mae_core.models.mae import create_mae
from transfer.classification.config import ClassificationConfig, DataConfig, ModelConfig
from transfer.classification.engine import Schedule
from transfer.classification.fastprobe import train_heads
from transfer.classification.lars import LARS
from transfer.classification.metrics import add_to_confusion, confusion_matrix, save_confusion, summarize, topk_correct
from transfer.classification.model import (
    ClassCountError,
    LinearProbe,
    build_classifier,
    build_probe_encoder,
    set_trainable_blocks,
)


def micro_cfg(**model) -> ClassificationConfig:
    return ClassificationConfig(model=ModelConfig(name="vit_micro_patch4", **model),
                                data=DataConfig(num_classes=10, input_size=32))


def test_lars_trust_ratio():
    w = torch.nn.Parameter(torch.full((4, 5), 2.0))
    b = torch.nn.Parameter(torch.zeros(4))
    opt = LARS([w, b], lr=0.5, momentum=0.9, trust_coefficient=0.001)
    w.grad, b.grad = torch.randn(4, 5), torch.ones(4)
    w0 = w.detach().clone()
    opt.step()
    # a 2-D weight moves by lr * trust * ||w|| in the gradient's direction; a bias is plain SGD
    step = (w0 - w.detach()).norm().item()
    assert step == pytest.approx(0.5 * 0.001 * w0.norm().item(), rel=1e-4)
    assert torch.allclose(b.detach(), torch.full((4,), -0.5))


def test_metrics_by_hand():
    logits = torch.tensor([[3.0, 2, 1], [0, 1, 2], [2, 3, 1], [1, 0, 2]])
    target = torch.tensor([0, 2, 0, 1])
    assert topk_correct(logits, target, (1, 2, 5)) == [2, 3, 4]
    cm = confusion_matrix(logits.argmax(1), target, 3)
    assert cm.tolist() == [[1, 1, 0], [0, 0, 1], [0, 0, 1]]
    assert add_to_confusion(cm.clone(), torch.tensor([2, 2]), torch.tensor([1, 1])).tolist() == \
        [[1, 1, 0], [0, 0, 3], [0, 0, 1]]                     # a second batch adds in place
    m = summarize(cm, 4, 2.0)
    assert m["top1"] == 50.0 and m["top5"] == 100.0 and m["per_class"] == [50.0, 0.0, 100.0]
    assert m["mean_per_class"] == pytest.approx(50.0) and m["loss"] == 0.5


def test_confusion_files_dense_up_to_1000_classes_then_sparse(tmp_path):
    import numpy as np
    small = confusion_matrix(torch.tensor([0, 1, 1]), torch.tensor([0, 0, 1]), 2)
    assert save_confusion(tmp_path, small, ["a,b", "c"]).name == "confusion.npy"
    assert (tmp_path / "confusion.csv").read_text().splitlines() == ["true\\pred,a b,c", "a b,1,1", "c,0,1"]
    big = confusion_matrix(torch.tensor([5, 1000, 7]), torch.tensor([5, 3, 7]), 1001)
    (tmp_path / "big").mkdir()
    f = save_confusion(tmp_path / "big", big)
    z = np.load(f)
    assert f.name == "confusion_sparse.npz" and not (tmp_path / "big" / "confusion.npy").exists()
    assert int(z["num_classes"]) == 1001 and len(z["classes"]) == 1001
    assert sorted(zip(z["true"].tolist(), z["pred"].tolist(), z["count"].tolist())) == [(3, 1000, 1), (5, 5, 1), (7, 7, 1)]


def test_schedule_warmup_then_cosine():
    s = Schedule(lr=1.0, min_lr=0.1, warmup_epochs=2, epochs=10)
    assert s(0) == 0 and s(1) == 0.5 and s(2) == 1.0
    assert s(6) == pytest.approx(0.1 + 0.9 * 0.5) and s(10) == pytest.approx(0.1)


def test_new_head_and_lrd_groups():
    model = build_classifier(micro_cfg(), 10)
    assert model.head.weight.std().item() < 1e-4 and model.head.bias.abs().sum() == 0   # trunc normal 2e-5
    assert isinstance(model.fc_norm, torch.nn.LayerNorm)                                 # global_pool avg
    groups = param_groups_lrd(model, 0.05, 0.75, skip_names=model.no_weight_decay())
    scale = {n: g["lr_scale"] for g in groups for n in g["names"]}
    depth = len(model.blocks)
    assert scale["head.weight"] == 1.0 and scale["patch_embed.proj.weight"] == pytest.approx(0.75 ** (depth + 1))
    assert scale["blocks.0.attn.qkv.weight"] == pytest.approx(0.75 ** depth)


def test_partial_finetuning_last_k_blocks():
    model = build_classifier(micro_cfg(), 10)
    set_trainable_blocks(model, 1)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert all(n.startswith(("blocks.1.", "fc_norm.", "head.")) for n in trainable) and "head.weight" in trainable
    assert "blocks.1.mlp.fc1.weight" in trainable and "blocks.0.mlp.fc1.weight" not in trainable
    model = build_classifier(micro_cfg(), 10)
    set_trainable_blocks(model, 0)                     # linear probing with the paper's head
    bn = model.head[0]
    assert isinstance(bn, torch.nn.BatchNorm1d) and not bn.affine
    assert {n for n, p in model.named_parameters() if p.requires_grad} == {"head.1.weight", "head.1.bias",
                                                                            "fc_norm.weight", "fc_norm.bias"}
    with pytest.raises(ValueError, match="trainable_blocks=5"):
        set_trainable_blocks(build_classifier(micro_cfg(), 10), 5)


def _mae_ckpt(path, head_classes=0):
    mae = create_mae("vit_micro_patch4", decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2)
    sd = mae.state_dict()
    if head_classes:
        sd["head.weight"], sd["head.bias"] = torch.randn(head_classes, 64), torch.zeros(head_classes)
    atomic_save({"model": sd, "manifest": {"encoder": mae.encoder_config()}}, path)
    return mae


def test_checkpoint_class_count(tmp_path, caplog):
    mae = _mae_ckpt(tmp_path / "mae.pth")
    model = build_classifier(micro_cfg(), 10, str(tmp_path / "mae.pth"))
    assert torch.equal(model.blocks[1].attn.qkv.weight, mae.blocks[1].attn.qkv.weight)
    _mae_ckpt(tmp_path / "ft5.pth", head_classes=5)
    with pytest.raises(ClassCountError, match=r"ft5\.pth: head has 5 classes but the data set has 10"):
        build_classifier(micro_cfg(), 10, str(tmp_path / "ft5.pth"))
    with caplog.at_level(logging.WARNING):
        model = build_classifier(micro_cfg(replace_head=True), 10, str(tmp_path / "ft5.pth"))
    assert model.head.out_features == 10 and "replacing the 5-class head" in caplog.text
    with pytest.raises(ClassCountError, match="no classifier head"):
        build_classifier(micro_cfg(), 10, str(tmp_path / "mae.pth"), keep_head=True)


def test_linear_probe_model_freezes_encoder(tmp_path):
    _mae_ckpt(tmp_path / "mae.pth")
    enc = build_probe_encoder(micro_cfg(), str(tmp_path / "mae.pth"))
    probe = LinearProbe(enc, 10, "cls+avg").train()
    assert not probe.encoder.training and not probe.head[0].affine
    out = probe(torch.randn(4, 3, 32, 32))
    out.sum().backward()
    assert out.shape == (4, 10) and all(p.grad is None for p in probe.encoder.parameters())
    assert probe.head[1].weight.grad is not None and probe.head[1].in_features == 128


def test_train_heads_several_lrs_learn_separable_data():
    g = torch.Generator().manual_seed(0)
    centers = torch.randn(4, 16, generator=g) * 3
    y = torch.arange(400) % 4
    x = centers[y] + torch.randn(400, 16, generator=g)
    bn, heads = train_heads(x, y, 4, [0.01, 10.0], epochs=10, batch_size=64, warmup_epochs=1)
    accs = [(h(bn(x)).argmax(1) == y).float().mean().item() for h in heads]
    assert accs[1] > 0.95 and accs[0] < accs[1]                       # each head its own lr


def test_config_files_load_and_typos_are_named():
    import glob
    files = sorted(glob.glob("configs/classification/*.py"))
    assert len(files) >= 14
    for f in files:
        cfg = load_config(f)
        assert isinstance(cfg, ClassificationConfig)
        doc = open(f).read()
        assert "tools/" in doc and "Expected" in doc, f
    cfg = load_config("configs/classification/in1k_finetune_vit_large.py", ["finetune.trainable_blocks=2"])
    assert (cfg.finetune.epochs, cfg.finetune.layer_decay, cfg.model.drop_path) == (50, 0.75, 0.2)
    assert cfg.finetune.trainable_blocks == 2 and cfg.finetune.blr == 1e-3
    lp = load_config("configs/classification/in1k_linprobe_vit_base.py").linprobe
    assert (lp.blr, lp.weight_decay, lp.epochs, lp.batch_size * 32) == (0.1, 0.0, 90, 16384)
    assert load_config("configs/classification/inat2018_finetune.py").data.num_classes == 8142
    with pytest.raises(ConfigError, match="finetune.layer_decay"):
        load_config("configs/classification/smoke_finetune.py", ["finetune.layer_decayy=0.5"])
    assert math.isclose(load_config("configs/classification/smoke_finetune.py").data.mean[0], 0.286)


# The official FINETUNE.md commands per size: (epochs, blr, layer decay, drop path, batch per GPU x GPUs).
OFFICIAL_FINETUNE = {"base": (100, 5e-4, 0.65, 0.1, 1024), "large": (50, 1e-3, 0.75, 0.2, 1024),
                     "huge": (50, 1e-3, 0.75, 0.3, 1024)}


@pytest.mark.parametrize("size", sorted(OFFICIAL_FINETUNE))
def test_finetune_recipe_files_hold_the_official_values_per_size(size):
    cfg = load_config(f"configs/classification/in1k_finetune_vit_{size}.py")
    f, d, m = cfg.finetune, cfg.data, cfg.model
    epochs, blr, ld, dp, batch = OFFICIAL_FINETUNE[size]
    assert (f.epochs, f.blr, f.layer_decay, m.drop_path) == (epochs, blr, ld, dp)
    from transfer.classification.recipes import FINETUNE_BY_SIZE
    s = FINETUNE_BY_SIZE[m.name]
    assert f.batch_size == s.batch_per_gpu and s.batch_per_gpu * s.gpus == batch
    # main_finetune.py's defaults and FINETUNE.md's flags, identical for every size
    assert (f.weight_decay, f.warmup_epochs, f.min_lr, f.mixup, f.cutmix, f.smoothing) == (0.05, 5, 1e-6, 0.8, 1.0, 0.1)
    assert (d.reprob, d.auto_augment, d.crop_pct, m.global_pool) == (0.25, "rand-m9-mstd0.5-inc1", 0.875, "avg")
    assert cfg.train.precision == "bf16" and m.learn_pos_embed and f.clip_grad == 0.0
    doc = open(f"configs/classification/in1k_finetune_vit_{size}.py").read()
    assert f"base lr {blr:g}".replace("0.0005", "5e-4").replace("0.001", "1e-3") in doc


def test_linprobe_and_partial_recipes():
    for size in ("base", "large", "huge"):
        cfg = load_config(f"configs/classification/in1k_linprobe_vit_{size}.py")
        lp = cfg.linprobe
        assert (lp.blr, lp.weight_decay, lp.momentum, lp.epochs, lp.warmup_epochs) == (0.1, 0.0, 0.9, 90, 10)
        assert lp.batch_size * 32 == 16384 and lp.pool == "cls" and cfg.data.scale == (0.08, 1.0)
        assert cfg.train.precision == "bf16"
    part = load_config("configs/classification/in1k_partial_finetune_vit_large.py")
    assert part.finetune.trainable_blocks == 1 and part.finetune.epochs in (50, 100, 200)
    assert (part.finetune.blr, part.finetune.layer_decay, part.model.drop_path) == (1e-3, 0.75, 0.2)
    with pytest.raises(KeyError, match="vit_micro_patch4"):
        from transfer.classification.recipes import finetune_recipe
        finetune_recipe("vit_micro_patch4")


def test_position_table_is_trained_in_fine_tuning_without_weight_decay(tmp_path):
    """As models_vit.py (timm's learnable pos_embed, in no_weight_decay): it starts from the checkpoint's table,
    gets a gradient, sits in a no-decay group, and moves after an AdamW step; learn_pos_embed=false freezes it."""
    mae = create_mae("vit_micro_patch4", img_size=32, patch_size=4, decoder_embed_dim=32, decoder_depth=1,
                     decoder_num_heads=4)
    with torch.no_grad():
        mae.pos_embed.add_(0.5)   # a table unlike the sin-cos init, to see that the checkpoint's is loaded
    ckpt = tmp_path / "mae.pth"
    atomic_save({"model": mae.state_dict()}, ckpt)
    model = build_classifier(micro_cfg(), 10, str(ckpt))
    assert model.pos_embed.requires_grad and torch.equal(model.pos_embed.detach(), mae.pos_embed.detach())
    groups = param_groups_lrd(model, 0.05, 0.75, skip_names=model.no_weight_decay())
    (group,) = [g for g in groups if any(n == "pos_embed" for n in g["names"])]
    assert group["weight_decay"] == 0.0 and group["layer_id"] == 0
    opt = torch.optim.AdamW(groups, lr=1e-2)
    before = model.pos_embed.detach().clone()
    model(torch.randn(2, 3, 32, 32)).sum().backward()
    assert model.pos_embed.grad is not None and model.pos_embed.grad.abs().sum() > 0
    opt.step()
    assert not torch.equal(before, model.pos_embed.detach())
    frozen = build_classifier(micro_cfg(learn_pos_embed=False), 10, str(ckpt))
    assert not frozen.pos_embed.requires_grad
