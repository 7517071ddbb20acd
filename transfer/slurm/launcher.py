"""``tools/submit.py``: run pretrain / finetune / linprobe on SLURM through submitit, requeued on preemption.

    python tools/submit.py --nodes 4 --gpus-per-node 8 --partition learnfair --timeout 4320 \
        [--job-dir DIR] -- pretrain --config configs/pretrain/mae_vit_large.py --data-path IMAGENET/train \
        --output-dir runs/l

How a requeue works: SLURM signals the job (submitit asks for SIGUSR2 90 s before the time limit; a preemption
sends it too). Each trainer's PreemptionGuard turns the signal into a flag, every rank agrees at the next step
boundary, rank 0 writes ``checkpoint-last.pth``, then the guard hands the signal on to submitit's handler, which
calls :meth:`SubmittedRun.checkpoint` (the same command, which resumes from OUTPUT_DIR by default) and requeues.

# Adapted from: the official MAE code's submitit_pretrain.py (a Trainer callable with a checkpoint() method).
"""
from __future__ import annotations

import argparse
import contextlib
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

logger = logging.getLogger(__name__)

ENTRY_POINTS = {
    "pretrain": "mae_core.cli:pretrain_main",
    "finetune": "transfer.classification.cli:finetune_main",
    "linprobe": "transfer.classification.cli:linprobe_main",
}


def entry_point(tool: str) -> Callable[[list[str]], int]:
    """The library ``main(argv)`` of a tool name."""
    if tool not in ENTRY_POINTS:
        raise ValueError(f"unknown tool {tool!r}: one of {', '.join(ENTRY_POINTS)} (detectron2 and mmseg runs use "
                         "their own launchers)")
    module, name = ENTRY_POINTS[tool].split(":")
    return getattr(importlib.import_module(module), name)


@contextlib.contextmanager
def distributed_env(master_port: int | None = None) -> Iterator[dict[str, str]]:
    """torch.distributed's variables (MASTER_ADDR/PORT, RANK, WORLD_SIZE, LOCAL_RANK) from submitit's JobEnvironment
    while the run lasts; the previous values come back afterwards."""
    import submitit
    job = submitit.JobEnvironment()
    port = master_port or 20000 + int("".join(c for c in str(job.job_id) if c.isdigit()) or 0) % 20000
    values = {"MASTER_ADDR": job.hostnames[0], "MASTER_PORT": str(port), "RANK": str(job.global_rank),
              "WORLD_SIZE": str(job.num_tasks), "LOCAL_RANK": str(job.local_rank)}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield values
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@contextlib.contextmanager
def submitit_signals() -> Iterator[None]:
    """Within a submitit job, the trainers' guard also takes submitit's signal (SIGUSR2 unless
    SUBMITIT_PREEMPT_SIGNAL says otherwise) and leaves SIGTERM to submitit (which ignores it)."""
    import submitit

    from mae_core.engine import run_state
    saved = list(run_state.PREEMPT_SIGNALS)
    usr = submitit.JobEnvironment._usr_sig()
    run_state.PREEMPT_SIGNALS[:] = [s for s in saved if s != signal.SIGTERM] + [usr]
    try:
        yield
    finally:
        run_state.PREEMPT_SIGNALS[:] = saved


class SubmittedRun:
    """What submitit pickles and runs in each task: one tool's ``main(argv)``; ``checkpoint()`` gives the requeued
    job (the same command, resuming from OUTPUT_DIR's checkpoint)."""

    def __init__(self, tool: str, argv: list[str]) -> None:
        entry_point(tool)            # fails early, at submission, for an unknown tool
        self.tool, self.argv = tool, list(argv)

    def __call__(self) -> int:
        with distributed_env() as env, submitit_signals():
            logger.info("%s on rank %s of %s (master %s:%s)", self.tool, env["RANK"], env["WORLD_SIZE"],
                        env["MASTER_ADDR"], env["MASTER_PORT"])
            code = entry_point(self.tool)(self.argv)
        if code:
            raise RuntimeError(f"{self.tool} {' '.join(self.argv)} ended with exit code {code}")
        return 0

    def checkpoint(self, *args, **kwargs):
        """Called by submitit's signal handler after the trainer wrote its checkpoint -> the requeued submission."""
        import submitit
        argv = [a for a in self.argv if a != "--no-resume"]      # the requeued job must resume
        logger.warning("requeueing %s: it resumes from its output folder's checkpoint-last.pth", self.tool)
        return submitit.helpers.DelayedSubmission(SubmittedRun(self.tool, argv))


def build_executor(job_dir: str | os.PathLike, nodes: int = 1, gpus_per_node: int = 1, partition: str | None = None,
                   timeout_min: int = 60, cpus_per_task: int = 10, cluster: str | None = None, name: str = "mae",
                   signal_delay_s: int = 120, max_requeues: int = 30):
    """A submitit executor for `nodes` x `gpus_per_node` tasks (one per GPU); ``cluster='local'`` runs on this
    machine (submitit's LocalExecutor) for tests."""
    import submitit
    ex = submitit.AutoExecutor(folder=str(job_dir), cluster=cluster, slurm_max_num_timeout=max_requeues)
    params = {"nodes": nodes, "tasks_per_node": max(gpus_per_node, 1), "timeout_min": timeout_min, "name": name}
    if ex.cluster == "slurm":
        params.update(gpus_per_node=gpus_per_node, cpus_per_task=cpus_per_task, slurm_signal_delay_s=signal_delay_s)
        if partition:
            params["slurm_partition"] = partition
    elif gpus_per_node and ex.cluster == "local":
        params["gpus_per_node"] = gpus_per_node
    ex.update_parameters(**params)
    return ex


def parse(argv: list[str] | None) -> tuple[argparse.Namespace, str, list[str]]:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--" not in argv:
        raise ValueError("give the tool after '--': submit.py [options] -- pretrain|finetune|linprobe ARGS")
    cut = argv.index("--")
    ours, rest = argv[:cut], argv[cut + 1:]
    p = argparse.ArgumentParser(description="Submit pretrain / finetune / linprobe to SLURM (submitit)")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--gpus-per-node", type=int, default=8)
    p.add_argument("--partition", default=None)
    p.add_argument("--timeout", type=int, default=4320, help="minutes per job (requeued when it runs out)")
    p.add_argument("--job-dir", default=None, help="submitit's logs and pickles (default: OUTPUT_DIR/submitit)")
    p.add_argument("--cpus-per-task", type=int, default=10)
    p.add_argument("--cluster", default=None, help="submitit cluster: slurm (default where sbatch exists) or local")
    args = p.parse_args(ours)
    if not rest or rest[0] not in ENTRY_POINTS:
        raise ValueError(f"after '--' name one of {', '.join(ENTRY_POINTS)}, got {rest[:1]}")
    return args, rest[0], rest[1:]


def output_dir_of(argv: list[str]) -> str | None:
    for i, a in enumerate(argv):
        if a == "--output-dir" and i + 1 < len(argv):
            return argv[i + 1]
        if a.startswith("--output-dir="):
            return a.split("=", 1)[1]
    return None


def main(argv: list[str] | None = None) -> int:
    """``mae-submit``: submits the job, prints its id and log folder -> 0 (2 with ``error: ...`` for bad input)."""
    try:
        args, tool, tool_argv = parse(argv)
        out = output_dir_of(tool_argv)
        if out is None:
            raise ValueError(f"{tool}: give --output-dir (the requeued job resumes from it)")
        job_dir = Path(args.job_dir or Path(out) / "submitit")
        ex = build_executor(job_dir, args.nodes, args.gpus_per_node, args.partition, args.timeout, args.cpus_per_task,
                            args.cluster, name=f"mae-{tool}")
        job = ex.submit(SubmittedRun(tool, tool_argv))
    except (ValueError, ImportError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"submitted {tool} as job {job.job_id}; logs in {job_dir}")
    return 0
