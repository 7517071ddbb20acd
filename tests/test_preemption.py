"""Preemption (a signal to a running trainer), damaged checkpoints, checkpoints of another world size, a dead rank."""
import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from mae_core.checkpoint.io import CheckpointMismatchError
from mae_core.config import load_config
from mae_core.engine.run_state import EXIT_PREEMPTED
from mae_core.engine.trainer import pretrain

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs/pretrain/smoke.py"


def smoke_cfg(data_path, *overrides):
    return load_config(SMOKE, [f"data.path={data_path}", "train.log_every=1", "train.batch_size=4", *overrides])


def losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "seconds" not in r}   # step records (not epoch summaries)


def signal_when_logged(proc: subprocess.Popen, log: Path, sig: int, lines: int = 2, timeout: float = 240,
                       group: bool = False) -> None:
    """Sends `sig` (to the process, or its whole process group) once `log` has `lines` lines (training is under
    way), or fails."""
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= lines:
            os.killpg(proc.pid, sig) if group else proc.send_signal(sig)
            return
        time.sleep(0.02)
    proc.kill()
    raise AssertionError(f"no {lines} log lines in {log} (exit code {proc.poll()}): {proc.stderr.read()[-2000:]}")


def test_sigterm_to_the_pretrain_tool_checkpoints_and_the_rerun_continues(fashion_folder, tmp_path):
    """SIGTERM to the whole process group, as SLURM or `kill -- -PGID` sends it: the DataLoader worker gets it too
    and must leave the stop to the trainer (which then checkpoints), not die and take the trainer down."""
    out = tmp_path / "run"
    args = ["train.epochs=400", "train.max_steps=2000"]   # far more steps than it will take before the signal
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools/pretrain.py"), "--config", str(SMOKE), "--data-path",
                             str(fashion_folder), "--output-dir", str(out), "train.log_every=1", "train.batch_size=4",
                             "train.vis_every_steps=0", "data.num_workers=1", *args], cwd=ROOT,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    signal_when_logged(proc, out / "log.jsonl", signal.SIGTERM, group=True)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_PREEMPTED, err[-3000:]
    k = torch.load(out / "checkpoint-last.pth", weights_only=False)["step"]
    assert k >= 2 and "preempted: checkpoint of step" in err and not (out / "checkpoint-final.pth").exists()
    # the requeued run: same command, resumes at step k; its next losses equal an uninterrupted run's
    pretrain(smoke_cfg(fashion_folder, *args[:1], f"train.max_steps={k + 6}", "train.vis_every_steps=0"), out)
    pretrain(smoke_cfg(fashion_folder, *args[:1], f"train.max_steps={k + 6}", "train.vis_every_steps=0"),
             tmp_path / "ref")
    a, b = losses(tmp_path / "ref"), losses(out)
    for s in range(k + 1, k + 7):
        assert a[s] == pytest.approx(b[s], rel=1e-6, abs=1e-7), s


WORKERS_LEFT_AT_EXIT = """
import sys
import torch
from torch.utils.data import DataLoader, TensorDataset
from mae_core.data.workers import ignore_stop_signals
loader = DataLoader(TensorDataset(torch.arange(64.)), batch_size=4, num_workers=1, worker_init_fn=ignore_stop_signals)
it = iter(loader)
next(it)
print(it._workers[0].pid, flush=True)
sys.stdin.readline()                     # the test has sent SIGTERM to the worker
print(sum(len(b[0]) for b in it), flush=True)   # the worker still serves the other 15 batches
it = iter(loader)
next(it)
held = [it]
held.append(held)   # this iterator's worker lives until the interpreter exits, as one held in a reference cycle
"""


def test_the_workers_ignore_others_stop_signals_and_the_trainer_still_exits():
    """A worker ignores SIGTERM from anyone but its trainer (the trainer checkpoints, then ends it). From the trainer
    it must not: multiprocessing terminates its daemon workers at interpreter exit and joins them, so a worker
    ignoring that SIGTERM hangs the exit (it hung a CI run after the whole suite had passed)."""
    proc = subprocess.Popen([sys.executable, "-c", WORKERS_LEFT_AT_EXIT], cwd=ROOT, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    worker = int(proc.stdout.readline())
    os.kill(worker, signal.SIGTERM)
    time.sleep(0.5)
    try:
        out, err = proc.communicate("go\n", timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 0, err[-3000:]
    assert out.split() == ["60"]


def test_sigusr1_to_a_finetune_run_checkpoints_and_resumes(tmp_path):
    from mae_core.data.datasets import FASHION_MNIST_CLASSES, read_fashion_mnist
    from transfer.classification.finetune import run_finetune
    from transfer.studies.scenes import Items, write_items
    data = tmp_path / "data"
    for split, per in (("train", 8), ("test", 2)):
        x, y = read_fashion_mnist(split)
        write_items(Items(list(x), y, list(FASHION_MNIST_CLASSES)), data / ("val" if split == "test" else split),
                    per_class=per)
    micro = ["model.name=vit_micro_patch4", "data.input_size=28", "data.num_workers=0", "finetune.batch_size=16",
             "finetune.epochs=100", "train.log_every=1"]
    cfg = ROOT / "configs/classification/smoke_finetune.py"
    out = tmp_path / "ft"
    proc = subprocess.Popen([sys.executable, str(ROOT / "tools/finetune.py"), "--config", str(cfg), "--data-path",
                             str(data), "--output-dir", str(out), *micro], cwd=ROOT, stderr=subprocess.PIPE,
                            text=True)
    signal_when_logged(proc, out / "log.jsonl", signal.SIGUSR1, lines=1)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_PREEMPTED, err[-3000:]
    k = torch.load(out / "checkpoint-last.pth", weights_only=False)["step"]
    stop = f"finetune.stop_after={k // 5 + 1}"           # both runs leave at the end of the epoch of step k + 1
    run_finetune(load_config(cfg, micro + [stop]), str(data), str(out))
    run_finetune(load_config(cfg, micro + [stop]), str(data), str(tmp_path / "ref"))
    a, b = losses(tmp_path / "ref"), losses(out)
    assert min(s for s in b if s > k) == k + 1
    for s in range(k + 1, max(a) + 1):
        assert a[s] == pytest.approx(b[s], abs=1e-6), s


def test_a_damaged_last_checkpoint_falls_back_to_the_previous_one(fashion_folder, tmp_path, caplog):
    out = tmp_path / "run"
    pretrain(smoke_cfg(fashion_folder, "train.save_every_steps=1", "train.max_steps=3"), out)
    last, prev = out / "checkpoint-last.pth", out / "checkpoint-prev.pth"
    assert torch.load(prev, weights_only=False)["step"] == 2          # one save interval behind
    data = last.read_bytes()
    last.write_bytes(data[: len(data) // 2])                             # a truncated copy
    with caplog.at_level(logging.WARNING):
        m = pretrain(smoke_cfg(fashion_folder, "train.max_steps=5"), out)
    assert m["step"] == 5 and torch.load(last, weights_only=False)["step"] == 5
    assert torch.load(prev, weights_only=False)["step"] == 2     # the damaged copy was overwritten, not kept as prev
    assert "checkpoint-last.pth: not a readable PyTorch checkpoint" in caplog.text
    assert "resuming from the previous good checkpoint" in caplog.text and str(prev) in caplog.text
    ref = tmp_path / "ref"
    pretrain(smoke_cfg(fashion_folder, "train.max_steps=5"), ref)
    a, b = losses(ref), losses(out)
    for s in (3, 4, 5):
        assert a[s] == pytest.approx(b[s], rel=1e-6, abs=1e-7), s
    # both damaged: one error naming both files, no raw unpickling traceback
    for p in (last, prev):
        p.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match=r"both checkpoints are damaged.*last.*checkpoint-prev"):
        pretrain(smoke_cfg(fashion_folder, "train.max_steps=6"), out)


def test_a_checkpoint_of_another_world_size(fashion_folder, tmp_path, caplog):
    out = tmp_path / "run"
    pretrain(smoke_cfg(fashion_folder, "train.max_steps=2"), out)
    ck = torch.load(out / "checkpoint-last.pth", weights_only=False)
    assert ck["run"] == {"world_size": 1, "batch_size": 4, "accum_iter": 1, "effective_batch": 4}
    ck["run"] = {"world_size": 2, "batch_size": 4, "accum_iter": 1, "effective_batch": 8}
    torch.save(ck, out / "checkpoint-last.pth")
    with pytest.raises(CheckpointMismatchError, match=r"2 process\(es\) x batch 4 x accum_iter 1 = effective batch 8; "
                                                      r"this run has 1 x 4 x 1 = 4"):
        pretrain(smoke_cfg(fashion_folder, "train.max_steps=3"), out)
    ck["run"] = {"world_size": 2, "batch_size": 2, "accum_iter": 1, "effective_batch": 4}   # same effective batch
    torch.save(ck, out / "checkpoint-last.pth")
    with caplog.at_level(logging.WARNING):
        assert pretrain(smoke_cfg(fashion_folder, "train.max_steps=3"), out)["step"] == 3
    assert "written by 2 process(es), this run has 1" in caplog.text


DEAD_RANK = """
import os, sys, torch
from mae_core.engine.distributed import all_reduce_mean, init_distributed
info = init_distributed("cpu", timeout_min=float(sys.argv[1]))
if info.rank == 1:
    raise RuntimeError("rank 1 fails on purpose")
all_reduce_mean(1.0, info)
print("rank 0 was not stopped")
"""


@pytest.mark.slow
def test_a_dead_rank_ends_the_job_with_its_error(tmp_path):
    """2 gloo processes, rank 1 raises: torchrun ends the job naming rank 1 and its error; without torchrun's agent,
    rank 0's collective ends by itself (the process group's timeout), never a hang."""
    import socket
    script = tmp_path / "dead_rank.py"
    script.write_text(DEAD_RANK)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.time()
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                        str(port), str(script), "0.2"], capture_output=True, text=True, cwd=ROOT, timeout=240, check=False)
    assert r.returncode != 0 and "rank 1 fails on purpose" in r.stderr and "rank 0 was not stopped" not in r.stdout
    assert "rank      : 1" in r.stderr or "rank: 1" in r.stderr, r.stderr[-3000:]
    # bare processes, no agent to kill rank 0
    env = {**os.environ, "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "WORLD_SIZE": "2"}
    procs = [subprocess.Popen([sys.executable, str(script), "0.2"], cwd=ROOT, env={**env, "RANK": str(i),
                              "LOCAL_RANK": str(i)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in (0, 1)]
    outs = [p.communicate(timeout=180) for p in procs]
    assert procs[1].returncode != 0 and "rank 1 fails on purpose" in outs[1][1]
    assert procs[0].returncode != 0 and "rank 0 was not stopped" not in outs[0][0], outs[0][1][-2000:]
    assert time.time() - t0 < 200
