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
from transfer.classification.knn import KnnMonitor, knn_metrics
from transfer.classification.lars import LARS
from transfer.classification.metrics import confusion_matrix, summarize, topk_correct
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
    m = summarize(cm, 4, 2.0)
    assert m["top1"] == 50.0 and m["top5"] == 100.0 and m["per_class"] == [50.0, 0.0, 100.0]
    assert m["mean_per_class"] == pytest.approx(50.0) and m["loss"] == 0.5


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


def test_knn_metrics_through_mae_core():
    y = torch.arange(200) % 5
    x = torch.nn.functional.one_hot(y, 5).float() + 0.1 * torch.randn(200, 5)
    m, cm = knn_metrics(x[:150], y[:150], x[150:], y[150:], 5)
    assert m["top1"] == 100.0 and cm.sum() == 50 and cm.trace() == 50


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
    assert cfg.finetune.trainable_blocks == 2 and cfg.finetune.blr == 5e-4
    lp = load_config("configs/classification/in1k_linprobe_vit_base.py").linprobe
    assert (lp.blr, lp.weight_decay, lp.epochs, lp.batch_size * 32) == (0.1, 0.0, 90, 16384)
    assert load_config("configs/classification/inat2018_finetune.py").data.num_classes == 8142
    with pytest.raises(ConfigError, match="finetune.layer_decay"):
        load_config("configs/classification/smoke_finetune.py", ["finetune.layer_decayy=0.5"])
    assert math.isclose(load_config("configs/classification/smoke_finetune.py").data.mean[0], 0.286)


def test_knn_monitor_on_an_encoder():
    from torch.utils.data import DataLoader, TensorDataset

    from mae_core.models.vit import create_vit
    torch.manual_seed(0)
    y = torch.arange(40) % 2
    x = torch.randn(40, 3, 32, 32) * 0.1 + y[:, None, None, None] * 2.0     # two very different image classes
    tr, va = DataLoader(TensorDataset(x[:30], y[:30]), batch_size=10), DataLoader(TensorDataset(x[30:], y[30:]))
    monitor = KnnMonitor(tr, va, num_classes=2, k=5)
    assert monitor(create_vit("vit_micro_patch4")) == 100.0
