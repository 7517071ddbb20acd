import json
import os
import socket
import time
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from conftest import run_main

from mae_core.config import load_config
from mae_core.engine.distributed import init_distributed
from mae_core.engine.trainer import NonFiniteLossError, Pretrainer, pretrain
from mae_core.models.mae import MaskedAutoencoder


def smoke_cfg(data_path, *overrides):
    return load_config("configs/pretrain/smoke.py", [f"data.path={data_path}", "train.log_every=1", *overrides])


def logged_losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows}


def test_resume_gives_the_same_next_losses(fashion_folder, tmp_path):
    # 24 images, batch 4 -> 6 steps per epoch, 2 epochs; the interrupted run stops mid-epoch at step 4
    full = tmp_path / "full"
    pretrain(smoke_cfg(fashion_folder, "train.batch_size=4"), full)
    part = tmp_path / "part"
    m1 = pretrain(smoke_cfg(fashion_folder, "train.batch_size=4", "train.max_steps=4"), part)
    assert m1["step"] == 4 and (part / "checkpoint-last.pth").exists()
    # resumed with another worker count: augmentation and masks are functions of (seed, epoch, index)
    m2 = pretrain(smoke_cfg(fashion_folder, "train.batch_size=4", "data.num_workers=2"), part)
    assert m2["step"] == 12
    a, b = logged_losses(full), logged_losses(part)
    assert sorted(b) == list(range(1, 13))
    for s in range(5, 13):
        assert a[s] == pytest.approx(b[s], rel=1e-6, abs=1e-7), s
    metrics = json.loads((part / "metrics.json").read_text())
    ck = torch.load(metrics["checkpoint"], weights_only=False)
    assert ck["manifest"]["target"]["kind"] == "norm_pixel" and ck["manifest"]["encoder"]["embed_dim"] == 64
    assert {"torch", "timm", "mae_core"} <= set(ck["manifest"]["versions"])


def test_gradient_accumulation_equals_the_full_batch(fashion_folder, tmp_path):
    pretrain(smoke_cfg(fashion_folder, "train.batch_size=8", "train.max_steps=2"), tmp_path / "a")
    pretrain(smoke_cfg(fashion_folder, "train.batch_size=4", "train.accum_iter=2", "train.max_steps=2"), tmp_path / "b")
    sa = torch.load(tmp_path / "a/checkpoint-final.pth", weights_only=False)["model"]
    sb = torch.load(tmp_path / "b/checkpoint-final.pth", weights_only=False)["model"]
    for k in sa:
        torch.testing.assert_close(sa[k], sb[k], rtol=1e-5, atol=1e-6)


def test_non_finite_losses_skip_then_stop(fashion_folder, tmp_path, monkeypatch):
    trainer = Pretrainer(smoke_cfg(fashion_folder, "train.batch_size=4", "train.nonfinite_patience=3",
                                   "train.save_every_steps=1", "optim.warmup_epochs=0"), tmp_path)
    before = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    calls = {"n": 0}
    original = MaskedAutoencoder.forward_loss

    def flaky(self, imgs, pred, mask):
        calls["n"] += 1
        loss = original(self, imgs, pred, mask)
        return loss * float("nan") if calls["n"] > 1 else loss

    monkeypatch.setattr(MaskedAutoencoder, "forward_loss", flaky)
    with pytest.raises(NonFiniteLossError, match=r"3 non-finite losses in a row, the last at step 4.*checkpoint-last"):
        trainer.run()
    assert trainer.skipped == 3
    after = torch.load(tmp_path / "checkpoint-last.pth", weights_only=False)
    assert after["step"] == 1  # the only good step
    changed = [k for k in before if not torch.equal(before[k], trainer.model.state_dict()[k])]
    assert changed  # the first step updated the weights; the skipped ones did not touch them
    assert all(torch.equal(trainer.model.state_dict()[k], after["model"][k]) for k in before)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_rank(rank: int, world: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)


def _ddp_worker(rank: int, world: int, port: int, data: str, out: str) -> None:
    _as_rank(rank, world, port)
    pretrain(smoke_cfg(data, "train.batch_size=4", "train.max_steps=2", "train.device=cpu"), out)
    torch.distributed.destroy_process_group()


@pytest.mark.slow
def test_ddp_two_gloo_processes_equal_one_process(fashion_folder, tmp_path):
    mp.spawn(_ddp_worker, args=(2, _free_port(), str(fashion_folder), str(tmp_path / "ddp")), nprocs=2, join=True)
    pretrain(smoke_cfg(fashion_folder, "train.batch_size=8", "train.max_steps=2"), tmp_path / "one")
    a = torch.load(tmp_path / "ddp/checkpoint-final.pth", weights_only=False)
    b = torch.load(tmp_path / "one/checkpoint-final.pth", weights_only=False)
    assert a["manifest"]["step"] == b["manifest"]["step"] == 2
    for k in a["model"]:
        torch.testing.assert_close(a["model"][k], b["model"][k], rtol=1e-5, atol=1e-6)


def _precision_rank(rank: int, world: int, port: int, out: str) -> None:
    from mae_core.engine import run_state
    _as_rank(rank, world, port)
    run_state.cpu_has_amx = lambda: False
    run_state.cpu_has_avx512_bf16 = lambda: True
    run_state.cpu_bf16_speedup = lambda dim: 1.0 if rank == 0 else 1.3   # alone: rank 0 fp32, rank 1 bf16
    init_distributed("cpu")
    choice = run_state.resolve_precision("auto", torch.device("cpu"))
    torch.distributed.destroy_process_group()
    with open(os.path.join(out, f"rank{rank}.txt"), "w") as f:
        f.write(choice)


@pytest.mark.slow
def test_ranks_take_one_precision_from_the_mean_of_their_measurements(tmp_path):
    mp.spawn(_precision_rank, args=(2, _free_port(), str(tmp_path)), nprocs=2, join=True)
    assert [(tmp_path / f"rank{r}.txt").read_text() for r in (0, 1)] == ["bf16", "bf16"]   # mean 1.15 >= 1.1


def _clocked_rank(rank: int, world: int, port: int, data: str, out: str) -> None:
    _as_rank(rank, world, port)
    limit = 0.03 * (1 + rank)          # a clock skew made large: rank 1 alone would train twice as long
    m = pretrain(smoke_cfg(data, "train.batch_size=4", "train.epochs=500", f"train.time_limit_min={limit}",
                           "train.fit_to_time_limit=true", "train.vis_every_steps=0", "train.device=cpu"), out)
    torch.distributed.destroy_process_group()
    with open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(m, f)


@pytest.mark.slow
def test_ranks_fitted_to_the_clock_agree_on_where_to_stop(fashion_folder, tmp_path):
    """Two gloo processes whose clocks differ: each rank's own time limit would stop them at different steps (rank 1
    then waits in an all-reduce that rank 0 never joins); the agreed horizon stops both at the same step."""
    ctx = mp.spawn(_clocked_rank, args=(2, _free_port(), str(fashion_folder), str(tmp_path)), nprocs=2, join=False)
    deadline = time.time() + 240
    while not ctx.join(timeout=max(deadline - time.time(), 0.1)):   # False while a rank still runs
        if time.time() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("the ranks did not finish together")
    a, b = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1))
    assert a["step"] == b["step"] > 1 and a["horizon"] == b["horizon"]


@pytest.mark.slow
def test_sync_every_reads_the_host_less_often_and_changes_nothing(fashion_folder, tmp_path, monkeypatch):
    """train.sync_every=4: the same losses and weights as a step-by-step sync; a non-finite step is skipped on the
    device (fused AdamW's found_inf) and the policy, reading the flags at the next sync point, stops as before."""
    from mae_core.config import ConfigError
    with pytest.raises(ConfigError, match="train.sync_every must be >= 1"):
        smoke_cfg(fashion_folder, "train.sync_every=0")
    runs = {}
    for n in (1, 4):
        runs[n] = pretrain(smoke_cfg(fashion_folder, "train.batch_size=4", "train.max_steps=8", "train.log_every=4",
                                     f"train.sync_every={n}"), tmp_path / f"s{n}")
    assert logged_losses(tmp_path / "s1") == pytest.approx(logged_losses(tmp_path / "s4"), rel=1e-6)
    sa, sb = (torch.load(tmp_path / f"s{n}/checkpoint-final.pth", weights_only=False)["model"] for n in (1, 4))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)

    original, calls = MaskedAutoencoder.forward_loss, {"n": 0}

    def flaky(self, imgs, pred, mask):
        calls["n"] += 1
        loss = original(self, imgs, pred, mask)
        return loss * float("nan") if calls["n"] in (2, 3, 5, 6, 7) else loss
    monkeypatch.setattr(MaskedAutoencoder, "forward_loss", flaky)
    weights = {}
    for n in (1, 4):          # steps 2, 3, 5, 6, 7 non-finite: skipped on the host (n=1) or on the device (n=4)
        calls["n"] = 0
        trainer = Pretrainer(smoke_cfg(fashion_folder, "train.batch_size=4", "train.max_steps=8", "train.log_every=100",
                                       f"train.sync_every={n}"), tmp_path / f"skip{n}")
        trainer.run()
        assert trainer.skipped == 5
        weights[n] = trainer.model.state_dict()
    assert all(torch.equal(weights[1][k], weights[4][k]) for k in weights[1])
    calls["n"] = 0
    trainer = Pretrainer(smoke_cfg(fashion_folder, "train.batch_size=4", "train.nonfinite_patience=3",
                                   "train.log_every=100", "train.sync_every=4"), tmp_path / "stop")
    reads = []
    monkeypatch.setattr(trainer, "flush", lambda f=trainer.flush: (reads.append(len(trainer.pending)), f())[1])
    with pytest.raises(NonFiniteLossError, match=r"3 non-finite losses in a row, the last at step 7"):
        trainer.run()
    # read at steps 4, 6 (the epoch's end) and 8, where the policy finds steps 5-7 non-finite
    assert [r for r in reads if r] == [4, 2, 2] and trainer.step == 8


def test_loss_goes_down_on_fashion_mnist(tmp_path):
    cfg = load_config("configs/pretrain/smoke.py", ["data.path=fashion-mnist", "model.img_size=28",
                                                    "train.batch_size=64", "train.max_steps=120", "train.epochs=1",
                                                    "optim.warmup_epochs=0.05", "train.log_every=20",
                                                    "train.vis_every_steps=120"])
    cfg.data.mean, cfg.data.std = (0.286,) * 3, (0.353,) * 3
    m = pretrain(cfg, tmp_path)
    losses = [json.loads(r)["loss"] for r in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert m["step"] == 120 and losses[-1] < 0.75 * losses[0], losses      # about 0.6 x at step 120
    assert (tmp_path / "vis" / "step_0000120.png").exists() and (tmp_path / "tensorboard").is_dir()


def test_pretrain_tool_end_to_end(fashion_folder, tmp_path, capsys):
    import subprocess
    import sys
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "tools/pretrain.py", "--config", "configs/pretrain/smoke.py", "--data-path",
                        str(fashion_folder), "--output-dir", str(out), "train.epochs=1", "train.vis_every_steps=1"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert Path(metrics["checkpoint"]).exists() and (out / "vis" / "final.png").exists()
    from mae_core.cli import pretrain_main
    bad = run_main(capsys, pretrain_main, "--config", "configs/pretrain/smoke.py", "--data-path", tmp_path / "missing",
                   "--output-dir", out, "train.epoch=1")
    assert bad.returncode == 2 and "train.epochs" in bad.stderr
    bad = run_main(capsys, pretrain_main, "--config", "configs/pretrain/smoke.py", "--data-path", tmp_path / "missing",
                   "--output-dir", tmp_path / "x")
    assert bad.returncode == 2 and "missing" in bad.stderr and "does not exist" in bad.stderr


def test_initial_checkpoint_is_seeded_and_loads_as_an_encoder(tmp_path):
    from mae_core.checkpoint.pretrained import load_encoder
    from mae_core.engine.trainer import save_initial_checkpoint
    cfg = smoke_cfg("fashion-mnist")
    a = torch.load(save_initial_checkpoint(cfg, tmp_path / "a.pth", 3), weights_only=False)
    b = torch.load(save_initial_checkpoint(cfg, tmp_path / "b.pth", 3), weights_only=False)
    c = torch.load(save_initial_checkpoint(cfg, tmp_path / "c.pth", 4), weights_only=False)
    assert a["manifest"]["step"] == 0 and set(a["model"]) == set(c["model"])
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    assert not torch.equal(a["model"]["blocks.0.attn.qkv.weight"], c["model"]["blocks.0.attn.qkv.weight"])
    model, _ = load_encoder(tmp_path / "a.pth")
    assert torch.equal(model.state_dict()["blocks.0.attn.qkv.weight"], a["model"]["blocks.0.attn.qkv.weight"])


def test_one_precision_switch(monkeypatch):
    from mae_core.config import ConfigError
    from mae_core.engine import run_state
    cpu, cuda = torch.device("cpu"), torch.device("cuda", 0)
    assert run_state.resolve_precision("fp32", cuda) == "fp32" and run_state.resolve_precision("bf16", cpu) == "bf16"
    assert run_state.resolve_precision("auto", cuda) == "bf16"
    monkeypatch.setattr(run_state, "cpu_has_amx", lambda: True)
    monkeypatch.setattr(run_state, "cpu_bf16_speedup", lambda dim: pytest.fail("AMX: bf16 without measuring"))
    assert run_state.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(run_state, "cpu_has_amx", lambda: False)
    monkeypatch.setattr(run_state, "cpu_has_avx512_bf16", lambda: False)
    assert run_state.resolve_precision("auto", cpu) == "fp32"   # bf16 emulated: fp32 without measuring
    # AVX-512 bf16 without AMX: measured at the model's width, bf16 only where it is clearly faster
    monkeypatch.setattr(run_state, "cpu_has_avx512_bf16", lambda: True)
    speedups = {192: 1.8, 768: 1.05}
    monkeypatch.setattr(run_state, "cpu_bf16_speedup", lambda dim: speedups[dim])
    assert run_state.resolve_precision("auto", cpu) == "bf16"
    assert run_state.resolve_precision("auto", cpu, dim=768) == "fp32"
    why = run_state.precision_choice("auto", cpu, dim=768)                 # the why, for the result files
    assert why == {"precision": "fp32", "chosen_by": "measured at width 768", "bf16_speedup": 1.05}
    assert run_state.precision_choice("bf16", cpu)["chosen_by"] == "config"
    with pytest.raises(ConfigError, match="train.precision must be auto, fp32 or bf16, got 'fp16'"):
        smoke_cfg("fashion-mnist", "train.precision=fp16")
    assert smoke_cfg("fashion-mnist", "train.precision=auto").train.precision == "auto"


def test_bf16_speedup_probe_times_a_block_in_both_precisions(monkeypatch):
    """The probe runs a real block forward + backward in fp32 and under bf16 autocast (a ratio of their times)."""
    from mae_core.engine import run_state
    seen, real = [], run_state.autocast

    def recording(device, precision):
        seen.append(precision)
        return real(device, precision)
    monkeypatch.setattr(run_state, "autocast", recording)
    torch.manual_seed(5)
    speedup = run_state.cpu_bf16_speedup.__wrapped__(32, repeats=1)
    assert speedup > 0 and speedup != 1.0 and seen == ["fp32", "bf16", "fp32", "bf16"]
    after = torch.rand(3)
    torch.manual_seed(5)
    assert torch.equal(after, torch.rand(3))   # the caller's random stream is left as it was


def test_checkpoint_prev_is_kept_one_save_behind(fashion_folder, tmp_path):
    pretrain(smoke_cfg(fashion_folder, "train.batch_size=4", "train.save_every_steps=2", "train.max_steps=5"), tmp_path)
    last = torch.load(tmp_path / "checkpoint-last.pth", weights_only=False)
    prev = torch.load(tmp_path / "checkpoint-prev.pth", weights_only=False)
    assert (last["step"], prev["step"]) == (5, 4)
    assert not list(tmp_path.glob(".*.tmp"))                      # no temporary file left behind


@pytest.mark.slow
def test_a_compiled_step_in_the_cuda_graph_mode_trains_as_the_eager_one(fashion_folder, tmp_path):
    """train.compile=true with train.compile_mode=reduce-overhead (CUDA graphs on a GPU; on this CPU torch.compile
    runs without graphs, through the same loop: each step marked, the accumulated micro-batch losses copied out)."""
    from mae_core.config import ConfigError
    with pytest.raises(ConfigError, match="train.compile_mode='fast' is not one of default, reduce-overhead"):
        smoke_cfg(fashion_folder, "train.compile_mode=fast")
    runs = {}
    for mode in ("eager", "reduce-overhead"):
        extra = [] if mode == "eager" else ["train.compile=true", f"train.compile_mode={mode}"]
        pretrain(smoke_cfg(fashion_folder, "train.batch_size=4", "train.accum_iter=2", "train.max_steps=3",
                           "train.log_every=1", *extra), tmp_path / mode)
        runs[mode] = logged_losses(tmp_path / mode)
    assert len(runs["eager"]) == 3
    assert runs["reduce-overhead"] == pytest.approx(runs["eager"], rel=1e-3)


def test_init_from_starts_from_the_checkpoints_weights_and_a_resume_takes_over(fashion_folder, tmp_path):
    """train.init_from: continued pretraining from another run's weights (encoder, and the decoder when its shapes
    fit), not its step or optimizer; a run that resumes takes its own checkpoint; bad files are named."""
    from mae_core.checkpoint.io import CheckpointMismatchError
    from mae_core.config import ConfigError
    first = pretrain(smoke_cfg(fashion_folder, "train.max_steps=2"), tmp_path / "first")["checkpoint"]
    src = torch.load(first, weights_only=False)["model"]
    cfg = smoke_cfg(fashion_folder, f"train.init_from={first}", "train.seed=7")
    whole = Pretrainer(cfg, tmp_path / "whole")
    assert whole.step == 0
    assert all(torch.equal(v, src[k]) for k, v in whole.model.state_dict().items()), "encoder and decoder taken"
    # an encoder-only file (what tools/convert_checkpoint.py writes): the decoder keeps its seeded initialisation
    enc = {k: v for k, v in src.items() if not k.startswith(("decoder_", "mask_token"))}
    torch.save({"model": enc}, tmp_path / "enc.pth")
    fresh = Pretrainer(smoke_cfg(fashion_folder, "train.seed=7"), tmp_path / "fresh").model.state_dict()
    part = Pretrainer(smoke_cfg(fashion_folder, f"train.init_from={tmp_path / 'enc.pth'}", "train.seed=7"),
                      tmp_path / "part").model.state_dict()
    assert torch.equal(part["blocks.0.attn.qkv.weight"], src["blocks.0.attn.qkv.weight"])
    assert torch.equal(part["decoder_pred.weight"], fresh["decoder_pred.weight"])
    assert not torch.equal(part["decoder_pred.weight"], src["decoder_pred.weight"])
    # another grid: the position table is resampled (64 px, patch 4: 16 x 16 instead of 8 x 8)
    big = Pretrainer(smoke_cfg(fashion_folder, f"train.init_from={first}", "model.img_size=64"), tmp_path / "big")
    assert big.model.pos_embed.shape[1] == 1 + 16 * 16
    # resumed: the run's own checkpoint wins over init_from, which is not even read (a damaged one stops a fresh run)
    out = tmp_path / "resumed"
    pretrain(smoke_cfg(fashion_folder, "train.max_steps=1"), out)
    own = torch.load(out / "checkpoint-last.pth", weights_only=False)["model"]
    (tmp_path / "damaged.pth").write_bytes(b"not a checkpoint")
    damaged = smoke_cfg(fashion_folder, f"train.init_from={tmp_path / 'damaged.pth'}")
    again = Pretrainer(damaged, out)
    assert again.step == 1 and torch.equal(again.model.state_dict()["blocks.0.attn.qkv.weight"],
                                           own["blocks.0.attn.qkv.weight"])
    with pytest.raises(CheckpointMismatchError, match="damaged.pth: not a readable PyTorch checkpoint"):
        Pretrainer(damaged, tmp_path / "fresh_damaged")
    with pytest.raises(CheckpointMismatchError, match="patch.*convert_checkpoint.py --to ours --patch-size 8"):
        Pretrainer(smoke_cfg(fashion_folder, f"train.init_from={first}", "model.patch_size=8"), tmp_path / "p8")
    # the conversion the error names makes it fit
    from mae_core.cli import convert_main
    assert convert_main(["--to", "ours", "--patch-size", "8", "--img-size", "32", first, str(tmp_path / "p8.pth")]) == 0
    p8 = Pretrainer(smoke_cfg(fashion_folder, f"train.init_from={tmp_path / 'p8.pth'}", "model.patch_size=8"),
                    tmp_path / "p8")
    assert p8.model.patch_embed.proj.weight.shape[-1] == 8 and p8.model.pos_embed.shape[1] == 1 + 4 * 4
    with pytest.raises(ConfigError, match="train.init_from=.*missing.pth.*no such checkpoint"):
        smoke_cfg(fashion_folder, f"train.init_from={tmp_path / 'missing.pth'}").validate()
