"""End-to-end runs of fine-tuning, partial fine-tuning and probing on a few Fashion-MNIST images (micro ViT)."""
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import run_main

from mae_core.checkpoint.io import atomic_save
from mae_core.config import ConfigError, load_config
from mae_core.data.datasets import FASHION_MNIST_CLASSES, DataError, read_fashion_mnist
from mae_core.models.mae import create_mae
from transfer.classification.benchmark import benchmark_linprobe
from transfer.classification.finetune import run_finetune
from transfer.classification.linprobe import run_linprobe
from transfer.studies.scenes import Items, write_items

ROOT = Path(__file__).resolve().parents[1]
MICRO = ["model.name=vit_micro_patch4", "data.input_size=28", "data.num_workers=0"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("fm")
    tr_x, tr_y = read_fashion_mnist("train")
    te_x, te_y = read_fashion_mnist("test")
    write_items(Items(list(tr_x), tr_y, list(FASHION_MNIST_CLASSES)), root / "train", per_class=8)
    write_items(Items(list(te_x), te_y, list(FASHION_MNIST_CLASSES)), root / "val", per_class=4)
    return root


@pytest.fixture(scope="module")
def mae_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    mae = create_mae("vit_micro_patch4", img_size=28, decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2,
                     norm_pix_loss=True)
    path = tmp_path_factory.mktemp("ck") / "mae.pth"
    atomic_save({"model": mae.state_dict(), "manifest": {"encoder": mae.encoder_config()}}, path)
    return str(path)


def ft_cfg(*extra):
    return load_config(ROOT / "configs/classification/smoke_finetune.py",
                       MICRO + ["finetune.batch_size=16", "finetune.epochs=2", "finetune.warmup_epochs=1", *extra])


def step_losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "epoch" not in r}


def test_finetune_resume_matches_uninterrupted_and_eval_only(tmp_path, data, mae_ckpt):
    # 80 images, batch 16: 5 steps per epoch, 2 epochs; the interrupted run leaves after epoch 0
    full = run_finetune(ft_cfg("train.log_every=1"), str(data), str(tmp_path / "a"), mae_ckpt)
    run_finetune(ft_cfg("finetune.stop_after=1", "train.log_every=1"), str(data), str(tmp_path / "b"), mae_ckpt)
    assert torch.load(tmp_path / "b" / "checkpoint-last.pth", weights_only=False)["step"] == 5
    resumed = run_finetune(ft_cfg("train.log_every=1"), str(data), str(tmp_path / "b"), mae_ckpt)  # resumes by default
    ck_a = torch.load(tmp_path / "a" / "checkpoint-last.pth", weights_only=False)
    ck_b = torch.load(tmp_path / "b" / "checkpoint-last.pth", weights_only=False)
    assert ck_b["step"] == 10 and (tmp_path / "b" / "checkpoint-prev.pth").exists()
    for k, v in ck_a["model"].items():   # same data order, augmentation, mixup and drop path: same weights
        assert torch.allclose(v, ck_b["model"][k], atol=1e-6), k
    a, b = step_losses(tmp_path / "a"), step_losses(tmp_path / "b")
    assert sorted(b) == list(range(1, 11)) and all(a[s] == pytest.approx(b[s], abs=1e-6) for s in range(6, 11))
    assert resumed["top1"] == full["top1"]
    m = json.loads((tmp_path / "a" / "metrics.json").read_text())
    assert {"top1", "top5", "per_class"} <= set(m) and m["num_samples"] == 40
    assert (tmp_path / "a" / "confusion.npy").exists() and (tmp_path / "a" / "confusion.csv").exists()
    ev = run_finetune(ft_cfg(), str(data), str(tmp_path / "ev"), resume=str(tmp_path / "a" / "checkpoint-last.pth"),
                      eval_only=True)
    assert ev["top1"] == full["top1"] and ev["top5"] == full["top5"]


def test_finetune_from_labelled_shards_resumes_and_checks_classes(tmp_path, data, mae_ckpt):
    """data.train_shards: the training split streamed from tar shards written from the same folder (labels kept);
    every image read once per epoch, an interrupted run resumes with the same next losses and weights; shards
    without the val split's classes, and the cached-feature probe on shards, fail naming the key."""
    from mae_core.data.shard_writer import source_samples, write_shards
    from mae_core.data.shards import INDEX
    shards = tmp_path / "shards"
    samples, total, classes = source_samples(str(data / "train"))
    write_shards(samples, total, shards, shard_size=30, classes=classes)
    over = (f"data.train_shards={shards}", "train.log_every=1")
    full = run_finetune(ft_cfg(*over), str(data), str(tmp_path / "a"), mae_ckpt)
    run_finetune(ft_cfg(*over, "finetune.stop_after=1"), str(data), str(tmp_path / "b"), mae_ckpt)
    resumed = run_finetune(ft_cfg(*over), str(data), str(tmp_path / "b"), mae_ckpt)
    a, b = step_losses(tmp_path / "a"), step_losses(tmp_path / "b")
    assert sorted(a) == list(range(1, 11)) and all(math.isfinite(v) for v in a.values())   # 80 images, batch 16
    assert all(a[s] == pytest.approx(b[s], abs=1e-6) for s in range(6, 11)) and resumed["top1"] == full["top1"]
    ck_a = torch.load(tmp_path / "a" / "checkpoint-last.pth", weights_only=False)
    ck_b = torch.load(tmp_path / "b" / "checkpoint-last.pth", weights_only=False)
    assert all(torch.allclose(v, ck_b["model"][k], atol=1e-6) for k, v in ck_a["model"].items())
    index = json.loads((shards / INDEX).read_text())
    index["classes"] = [c + "_x" for c in index["classes"]]
    (shards / INDEX).write_text(json.dumps(index))
    with pytest.raises(DataError, match="train and val classes differ"):
        run_finetune(ft_cfg(*over), str(data), str(tmp_path / "c"), mae_ckpt)
    with pytest.raises(ConfigError, match="data.train_shards"):
        run_linprobe(load_config(ROOT / "configs/classification/smoke_linprobe.py",
                                 [*MICRO, "linprobe.mode=fast", f"data.train_shards={shards}"]),
                     str(data), str(tmp_path / "d"), mae_ckpt)


def test_partial_finetune_k0_trains_only_the_head(tmp_path, data, mae_ckpt):
    cfg = ft_cfg("finetune.trainable_blocks=0", "finetune.epochs=1")
    run_finetune(cfg, str(data), str(tmp_path), mae_ckpt)
    sd = torch.load(tmp_path / "checkpoint-last.pth", weights_only=False)["model"]
    mae = torch.load(mae_ckpt, weights_only=False)["model"]
    assert torch.equal(sd["blocks.1.mlp.fc1.weight"], mae["blocks.1.mlp.fc1.weight"])    # frozen
    assert "head.0.running_mean" in sd and sd["head.1.weight"].shape == (10, 64)


def lp_cfg(*extra):
    return load_config(ROOT / "configs/classification/smoke_linprobe.py",
                       MICRO + ["linprobe.batch_size=16", "linprobe.epochs=3", *extra])


def test_linprobe_modes_write_metrics(tmp_path, data, mae_ckpt):
    for mode in ("full", "fast", "lbfgs", "knn"):
        m = run_linprobe(lp_cfg(f"linprobe.mode={mode}"), str(data), str(tmp_path / mode), mae_ckpt)
        saved = json.loads((tmp_path / mode / "metrics.json").read_text())
        cm = torch.from_numpy(np.load(tmp_path / mode / "confusion.npy"))
        assert saved["solver"] == mode and saved["top1"] == m["top1"] and m["top5"] >= m["top1"]
        assert m["top1"] == pytest.approx(100.0 * cm.trace().item() / cm.sum().item())     # what the matrix says
        assert m["mean_per_class"] == pytest.approx(sum(m["per_class"]) / len(m["per_class"]))
        assert saved["num_samples"] == 40 and len(saved["per_class"]) == 10
        assert {"commit", "cpu", "loadavg"} <= set(saved["machine"])             # where it was measured
    fast = json.loads((tmp_path / "fast" / "metrics.json").read_text())
    assert set(fast["heldout_top1_by_blr"]) == {"3", "10", "30", "100", "300"}
    assert round(fast["blr"], 6) in (3, 10, 30, 100, 300)
    ev = run_linprobe(lp_cfg(), str(data), str(tmp_path / "ev"), mae_ckpt,
                      resume=str(tmp_path / "full" / "checkpoint-last.pth"), eval_only=True)
    assert ev["top1"] == json.loads((tmp_path / "full" / "metrics.json").read_text())["top1"]


def test_cli_bad_inputs_fail_before_training(tmp_path, data, mae_ckpt, capsys):
    from transfer.classification.cli import finetune_main, linprobe_main
    ft5 = tmp_path / "ft5.pth"
    sd = torch.load(mae_ckpt, weights_only=False)
    sd["model"]["head.weight"], sd["model"]["head.bias"] = torch.zeros(5, 64), torch.zeros(5)
    torch.save(sd, ft5)
    r = run_main(capsys, finetune_main, "--config", "configs/classification/smoke_finetune.py", "--data-path", data,
                 "--pretrained", ft5, "--output-dir", tmp_path / "o", *MICRO)
    assert r.returncode == 2 and "head has 5 classes but the data set has 10" in r.stderr
    assert not (tmp_path / "o" / "checkpoint-last.pth").exists()
    r = run_main(capsys, linprobe_main, "--config", "configs/classification/smoke_linprobe.py", "--data-path",
                 tmp_path, "--dataset", "inat2019", "--output-dir", tmp_path / "o2", *MICRO)
    assert r.returncode == 2 and "no annotation file (looked for val2019.json)" in r.stderr


@pytest.mark.slow
def test_fast_probe_matches_full_probe_on_fashion_mnist(tmp_path_factory, mae_ckpt):
    """At the lr the fast probe picks (on held-out training images), the full probe reaches its accuracy within
    5 points (600 train / 200 val Fashion-MNIST images; full mode with crop scale (1, 1): whole image + flip)."""
    root = tmp_path_factory.mktemp("fm600")
    tr_x, tr_y = read_fashion_mnist("train")
    te_x, te_y = read_fashion_mnist("test")
    write_items(Items(list(tr_x), tr_y, list(FASHION_MNIST_CLASSES)), root / "train", per_class=60)
    write_items(Items(list(te_x), te_y, list(FASHION_MNIST_CLASSES)), root / "val", per_class=20)
    common = ["linprobe.epochs=10", "linprobe.batch_size=64", "linprobe.warmup_epochs=1", "data.scale=(1.0, 1.0)"]
    res = benchmark_linprobe(lp_cfg(*common), str(root), str(tmp_path_factory.mktemp("bench")), mae_ckpt,
                             ("fast", "full"))
    full, fast = res["full"], res["fast"]
    assert full["blr"] == fast["blr"] and full["top1"] > 30
    assert abs(res["top1_gap"]) <= 5.0, res


def _torchrun_finetune(out, data, mae_ckpt, *overrides):
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = str(sock.getsockname()[1])
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                        port, str(ROOT / "tools/finetune.py"), "--config", "configs/classification/smoke_finetune.py",
                        "--data-path", str(data), "--pretrained", mae_ckpt, "--output-dir", str(out), *MICRO,
                        "finetune.batch_size=8", "finetune.accum_iter=2", *overrides],
                       capture_output=True, text=True, cwd=ROOT, timeout=600, env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads((out / "metrics.json").read_text())


@pytest.mark.slow
def test_torchrun_ddp_and_fsdp_agree_and_fsdp_resumes_under_ddp(tmp_path, data, mae_ckpt):
    """Two gloo processes under torchrun: DDP counts every evaluation image once; FSDP2 fine-tuning gives the same
    weights as DDP after an epoch; its checkpoint resumes under DDP."""
    ddp = _torchrun_finetune(tmp_path / "ddp", data, mae_ckpt, "finetune.epochs=1")
    assert ddp["world_size"] == 2 and ddp["num_samples"] == 40
    fsdp = _torchrun_finetune(tmp_path / "fsdp", data, mae_ckpt, "finetune.epochs=1", "train.strategy=fsdp")
    a = torch.load(tmp_path / "ddp/checkpoint-last.pth", map_location="cpu", weights_only=False)
    b = torch.load(tmp_path / "fsdp/checkpoint-last.pth", map_location="cpu", weights_only=False)
    assert a["step"] == b["step"] > 0 and set(a["model"]) == set(b["model"])
    for k in a["model"]:
        torch.testing.assert_close(b["model"][k], a["model"][k], rtol=1e-4, atol=1e-5)
    assert fsdp["top1"] == pytest.approx(ddp["top1"], abs=2.6)   # one image of 40 may flip on a tie
    more = _torchrun_finetune(tmp_path / "fsdp", data, mae_ckpt, "finetune.epochs=2")   # resumed under DDP
    c = torch.load(tmp_path / "fsdp/checkpoint-last.pth", map_location="cpu", weights_only=False)
    assert c["step"] == 2 * b["step"] and more["world_size"] == 2


def test_finetune_ema_bf16_accumulation_cls_token(tmp_path, data, mae_ckpt):
    cfg = ft_cfg("finetune.epochs=1", "finetune.ema=true", "finetune.ema_decay=0.5", "train.precision=bf16",
                 "finetune.accum_iter=2", "model.global_pool=token", "finetune.clip_grad=1.0")
    m = run_finetune(cfg, str(data), str(tmp_path), mae_ckpt)
    ck = torch.load(tmp_path / "checkpoint-last.pth", weights_only=False)
    assert "model_ema" in ck and "top1_ema" in m and "fc_norm.weight" not in ck["model"]
    assert not torch.equal(ck["model_ema"]["head.weight"], ck["model"]["head.weight"])


def test_short_finetune_runs_the_transfer_with_a_step_budget(tmp_path, mae_ckpt):
    from transfer.classification.short_finetune import short_finetune
    out = tmp_path / "ft"
    res = short_finetune(mae_ckpt, out, 28, (0.286,) * 3, (0.353,) * 3, steps=3, batch_size=8, test_per_class=2)
    assert res["steps"] == 3 and res["test_images"] == 20 and res["top5"] >= res["top1"]
    assert res["top1"] in {5.0 * k for k in range(21)}          # a whole number of the 20 test images
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert log[-1]["steps"] == 3                  # one epoch over ceil(3 * 8 / 10) = 3 images per class
    assert json.loads((out / "metrics.json").read_text())["top1"] == pytest.approx(res["top1"], abs=0.01)
    again = short_finetune(mae_ckpt, out, 28, (0.286,) * 3, (0.353,) * 3, steps=3, batch_size=8, test_per_class=2)
    assert again["top1"] == res["top1"]          # resumed after its last epoch: evaluated, not retrained


def test_mid_epoch_preemption_then_resume_gives_the_same_next_losses(tmp_path, data, mae_ckpt, monkeypatch):
    """SIGUSR1 during step 3 (epoch 0 of 5 steps): the probe writes its checkpoint at the step boundary and leaves
    with exit code 75; the rerun resumes mid-epoch (RNG states restored) with the uninterrupted run's losses."""
    import signal

    from mae_core.engine.run_state import EXIT_PREEMPTED, TrainingPreempted
    from transfer.classification.engine import StepLoop
    cfg = ("linprobe.epochs=2", "train.log_every=1", "linprobe.warmup_epochs=1")
    run_linprobe(lp_cfg(*cfg), str(data), str(tmp_path / "a"), mae_ckpt)
    original = StepLoop.optimizer_step

    def signal_at_step_3(self, loss):
        if self.step == 2:
            os.kill(os.getpid(), signal.SIGUSR1)
        return original(self, loss)

    monkeypatch.setattr(StepLoop, "optimizer_step", signal_at_step_3)
    with pytest.raises(TrainingPreempted) as exc:
        run_linprobe(lp_cfg(*cfg), str(data), str(tmp_path / "b"), mae_ckpt)
    assert exc.value.code == EXIT_PREEMPTED and exc.value.step == 3
    assert torch.load(tmp_path / "b" / "checkpoint-last.pth", weights_only=False)["step"] == 3
    monkeypatch.setattr(StepLoop, "optimizer_step", original)
    assert signal.getsignal(signal.SIGUSR1) is signal.SIG_DFL       # the handler was restored
    run_linprobe(lp_cfg(*cfg), str(data), str(tmp_path / "b"), mae_ckpt)
    a, b = step_losses(tmp_path / "a"), step_losses(tmp_path / "b")
    assert sorted(b) == list(range(1, 11))
    for s in range(4, 11):
        assert a[s] == pytest.approx(b[s], abs=1e-6), s


def test_classification_precision_and_resume_keys(tmp_path, data, mae_ckpt):
    from mae_core.config import ConfigError
    with pytest.raises(ConfigError, match=r"finetune.bf16=True was replaced by train.precision"):
        ft_cfg("finetune.bf16=true")
    with pytest.raises(ConfigError, match=r"train.precision must be auto, fp32 or bf16"):
        ft_cfg("train.precision=fp16")
    run_finetune(ft_cfg("finetune.epochs=1"), str(data), str(tmp_path), mae_ckpt)
    first = torch.load(tmp_path / "checkpoint-last.pth", weights_only=False)
    assert first["step"] == 5 and set(first["rng"]) >= {"torch", "numpy", "python"} and first["run"]["world_size"] == 1
    run_finetune(ft_cfg("finetune.epochs=1"), str(data), str(tmp_path), mae_ckpt, resume=False)  # starts over
    again = torch.load(tmp_path / "checkpoint-last.pth", weights_only=False)
    assert again["step"] == 5 and torch.equal(again["model"]["head.weight"], first["model"]["head.weight"])
    with pytest.raises(Exception, match=r"effective batch 16.*this run has 1 x 8 x 1 = 8"):
        run_finetune(ft_cfg("finetune.epochs=2", "finetune.batch_size=8"), str(data), str(tmp_path), mae_ckpt)


def test_finetune_non_finite_losses_skip_then_stop(tmp_path, data, mae_ckpt, monkeypatch):
    """The pretraining engine's policy: a non-finite step is skipped and counted; the patience-th in a row stops the
    run naming the step and the last good checkpoint."""
    from mae_core.engine.run_state import NonFiniteLossError
    from transfer.classification import finetune as ft
    calls = []

    class FlakyLoss(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, logits, y):
            calls.append(1)
            loss = self.inner(logits, y)
            return loss * float("nan") if len(calls) > 5 else loss

    original = ft.criterion_for
    monkeypatch.setattr(ft, "criterion_for", lambda cfg: FlakyLoss(original(cfg)))
    with pytest.raises(NonFiniteLossError, match=r"3 non-finite losses in a row, the last at step 8; last good "
                                                 r"checkpoint: .*checkpoint-last.pth"):
        run_finetune(ft_cfg("train.nonfinite_patience=3"), str(data), str(tmp_path), mae_ckpt)
    assert torch.load(tmp_path / "checkpoint-last.pth", weights_only=False)["step"] == 5   # epoch 0, all good
