"""The SLURM launcher (submitit): a tiny pretraining through submitit's LocalExecutor, and the requeue path."""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("submitit")

from mae_core.engine import run_state
from mae_core.engine.trainer import pretrain
from mae_core.models.mae import MaskedAutoencoder
from transfer.slurm.launcher import SubmittedRun, build_executor, main, parse

ROOT = Path(__file__).resolve().parents[1]
SMOKE = str(ROOT / "configs/pretrain/smoke.py")


def tool_args(data, out, *extra):
    return ["--config", SMOKE, "--data-path", str(data), "--output-dir", str(out), "train.batch_size=4",
            "train.log_every=1", "train.vis_every_steps=0", *extra]


def test_local_executor_runs_a_tiny_pretraining_to_completion(fashion_folder, tmp_path):
    out = tmp_path / "run"
    ex = build_executor(tmp_path / "jobs", nodes=1, gpus_per_node=0, timeout_min=10, cluster="local")
    job = ex.submit(SubmittedRun("pretrain", tool_args(fashion_folder, out, "train.max_steps=3")))
    assert job.result() == 0, job.stderr()
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["step"] == 3 and Path(metrics["checkpoint"]).exists()
    assert job.state == "FINISHED" and "JobEnvironment(" in job.stdout()


def test_distributed_environment_comes_from_submitit_and_is_restored(monkeypatch):
    import submitit

    from transfer.slurm.launcher import distributed_env

    class FakeJob:                                  # task 5 of a 2-node x 4-GPU job
        job_id, hostnames, global_rank, num_tasks, local_rank = "4242_0", ["node-a", "node-b"], 5, 8, 1

    monkeypatch.setattr(submitit, "JobEnvironment", FakeJob)
    monkeypatch.delenv("RANK", raising=False)
    with distributed_env() as env:
        assert env == {"MASTER_ADDR": "node-a", "MASTER_PORT": str(20000 + 42420 % 20000), "RANK": "5",
                       "WORLD_SIZE": "8", "LOCAL_RANK": "1"}
        assert os.environ["RANK"] == "5" and os.environ["MASTER_ADDR"] == "node-a"
    assert "RANK" not in os.environ                 # no variable left set after the run


def test_a_signal_checkpoints_then_submitit_requeues_a_resuming_run(fashion_folder, tmp_path, monkeypatch):
    """Inside a submitit job the guard takes submitit's signal (SIGUSR2): the trainer writes its checkpoint at the
    step boundary, then hands the signal to submitit's handler, which asks the callable for its resubmission
    (``checkpoint()``) and requeues; the resubmitted run resumes with the uninterrupted run's losses."""
    out = tmp_path / "run"
    run = SubmittedRun("pretrain", tool_args(fashion_folder, out, "train.max_steps=6", "--no-resume"))
    calls = []

    def submitit_handler(signum, frame):          # what submitit's checkpoint_and_try_requeue does
        calls.append((torch.load(out / "checkpoint-last.pth", weights_only=False)["step"], run.checkpoint()))
        sys.exit(144)                             # submitit's local requeue exit code

    original, n = MaskedAutoencoder.forward_loss, []

    def signal_in_step_3(self, *args):             # SLURM's signal arrives during the forward pass of step 3
        n.append(1)
        if len(n) == 3:
            os.kill(os.getpid(), signal.SIGUSR2)
        return original(self, *args)

    monkeypatch.setattr(MaskedAutoencoder, "forward_loss", signal_in_step_3)
    previous = signal.signal(signal.SIGUSR2, submitit_handler)
    monkeypatch.setattr(run_state, "PREEMPT_SIGNALS", [signal.SIGUSR1, signal.SIGUSR2])  # as submitit_signals() sets
    try:
        with pytest.raises(SystemExit) as exc:
            from mae_core.cli import pretrain_main
            pretrain_main(run.argv)
    finally:
        signal.signal(signal.SIGUSR2, previous)
    monkeypatch.setattr(MaskedAutoencoder, "forward_loss", original)
    assert exc.value.code == 144 and len(calls) == 1
    step, delayed = calls[0]
    assert step == 3                                            # written before submitit was called
    requeued = delayed.function
    assert isinstance(requeued, SubmittedRun) and "--no-resume" not in requeued.argv
    from mae_core.cli import pretrain_main
    assert pretrain_main(requeued.argv) == 0                    # what the requeued job runs
    from mae_core.config import load_config
    ref = tmp_path / "ref"
    pretrain(load_config(SMOKE, [f"data.path={fashion_folder}", "train.batch_size=4", "train.log_every=1",
                                 "train.vis_every_steps=0", "train.max_steps=6"]), ref)

    def losses(d):
        return {r["step"]: r["loss"] for r in map(json.loads, (d / "log.jsonl").read_text().splitlines())}
    a, b = losses(ref), losses(out)
    assert sorted(b) == list(range(1, 7))
    for s in (4, 5, 6):
        assert a[s] == pytest.approx(b[s], rel=1e-6, abs=1e-7), s


def test_submit_command_line(tmp_path):
    args, tool, rest = parse(["--nodes", "2", "--gpus-per-node", "8", "--partition", "p", "--timeout", "60", "--",
                              "finetune", "--output-dir", "o", "finetune.epochs=1"])
    assert (args.nodes, args.gpus_per_node, args.partition, args.timeout, tool) == (2, 8, "p", 60, "finetune")
    assert rest == ["--output-dir", "o", "finetune.epochs=1"]
    assert main(["--nodes", "1", "--", "pretrain", "--config", SMOKE]) == 2          # no --output-dir
    r = subprocess.run([sys.executable, str(ROOT / "tools/submit.py"), "--nodes", "1", "--", "detectron2"],
                       capture_output=True, text=True, cwd=ROOT, timeout=120, check=False)
    assert r.returncode == 2 and "error: after '--' name one of pretrain, finetune, linprobe" in r.stderr
