"""The run state every trainer of the project shares: RNG states, the precision switch, the non-finite-loss policy,
preemption (SIGTERM / SIGUSR1 -> checkpoint at the next step boundary, exit code ``EXIT_PREEMPTED``) and the resume
rule (``OUTPUT_DIR/checkpoint-last.pth``, falling back to ``checkpoint-prev.pth`` when the last one is damaged).
"""
from __future__ import annotations

import functools
import logging
import random
import signal
import threading
import time
from pathlib import Path
from typing import Self

import numpy as np
import torch

from mae_core.checkpoint.io import CheckpointMismatchError, read_checkpoint
from mae_core.config import ConfigError
from mae_core.data.workers import STOP_SIGNALS
from mae_core.engine.distributed import DistInfo, all_reduce_mean

logger = logging.getLogger(__name__)

LAST, PREV = "checkpoint-last.pth", "checkpoint-prev.pth"
EXIT_PREEMPTED = 75          # sysexits.h EX_TEMPFAIL: "try again later"; the requeued run resumes
PRECISIONS = ("auto", "fp32", "bf16")
# signals that ask a trainer to checkpoint and leave; the SLURM launcher adds submitit's signal (SIGUSR2)
PREEMPT_SIGNALS = STOP_SIGNALS   # one list: the DataLoader workers ignore what the trainer handles


class NonFiniteLossError(RuntimeError):
    """Training stopped after too many non-finite losses in a row."""


class TrainingPreempted(SystemExit):
    """A preemption signal arrived; the checkpoint was written at a step boundary. Exit code ``EXIT_PREEMPTED``."""

    def __init__(self, step: int, checkpoint: str | None) -> None:
        super().__init__(EXIT_PREEMPTED)
        self.step, self.checkpoint = step, checkpoint


# ------------------------------------------------------------------------------------------------ RNG
def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# ------------------------------------------------------------------------------------------------ precision
@functools.lru_cache(maxsize=1)
def cpu_flags() -> str:
    """/proc/cpuinfo's text ('' where it cannot be read)."""
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


def cpu_has_amx() -> bool:
    """True when this CPU has AMX (bf16 tile products), from torch's capability or /proc/cpuinfo's flags."""
    try:
        if "AMX" in torch.backends.cpu.get_cpu_capability().upper():
            return True
    except (AttributeError, RuntimeError):
        pass
    return "amx_bf16" in cpu_flags()


def cpu_has_avx512_bf16() -> bool:
    """True when this CPU has AVX-512 bf16 dot products (no AMX needed; oneDNN's bf16 kernels use them)."""
    return "avx512_bf16" in cpu_flags()


BF16_MIN_SPEEDUP = 1.1       # 'auto' takes bf16 on such a CPU only when it is at least this much faster


@functools.lru_cache(maxsize=None)
def cpu_bf16_speedup(dim: int = 192, repeats: int = 3) -> float:
    """fp32 seconds / bf16-autocast seconds of one transformer block's forward + backward at width `dim` on this CPU
    (with the threads set now; about 64 x 64 tokens at width 192, fewer for wider blocks), the best of `repeats` of
    each after one untimed call, alternating. Measured once per process and width (about a second at width 192)."""
    from mae_core.models.vit import Block
    with torch.random.fork_rng(devices=[]):   # the caller's random numbers stay as they were
        torch.manual_seed(0)
        block = Block(dim, dim // 64 if dim % 64 == 0 else 1)
        x = torch.randn(max(2, round(64 * (192 / dim) ** 2)), 64, dim, requires_grad=True)
    best = {"fp32": float("inf"), "bf16": float("inf")}
    for i in range(repeats + 1):
        for precision in best:
            t0 = time.perf_counter()
            with autocast(torch.device("cpu"), precision):
                out = block(x, num_prefix=0)
            out.float().sum().backward()
            if i:
                best[precision] = min(best[precision], time.perf_counter() - t0)
    return best["fp32"] / best["bf16"]


def precision_choice(precision: str, device: torch.device, key: str = "train.precision", dim: int = 192) -> dict:
    """'auto' -> the fastest this machine runs, and why -> {"precision": 'fp32'|'bf16', "chosen_by": ...,
    "bf16_speedup": the measured ratio or None}: bf16 on CUDA and on a CPU with AMX; fp32 on a CPU without AVX-512
    bf16 (bf16 is emulated there, slower); in between, measured (:func:`cpu_bf16_speedup` at the model's width `dim`):
    bf16 where it runs at least ``BF16_MIN_SPEEDUP`` x faster, the ranks of a process group deciding on the mean of
    their measurements (every rank calls it; they all take the same precision). 'fp32' / 'bf16' are taken as given."""
    if precision not in PRECISIONS:
        raise ConfigError(f"{key} must be one of {PRECISIONS}, got {precision!r}")
    if precision != "auto":
        return {"precision": precision, "chosen_by": "config", "bf16_speedup": None}
    if device.type != "cpu":
        return {"precision": "bf16" if device.type == "cuda" else "fp32", "chosen_by": device.type,
                "bf16_speedup": None}
    if cpu_has_amx():
        return {"precision": "bf16", "chosen_by": "cpu has AMX", "bf16_speedup": None}
    if not cpu_has_avx512_bf16():
        return {"precision": "fp32", "chosen_by": "cpu without AVX-512 bf16", "bf16_speedup": None}
    speedup = cpu_bf16_speedup(dim)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        speedup = all_reduce_mean(speedup, DistInfo(torch.distributed.get_rank(), torch.distributed.get_world_size()))
    choice = "bf16" if speedup >= BF16_MIN_SPEEDUP else "fp32"
    logger.info("%s=auto: bf16 autocast runs a width-%d block %.2fx as fast as fp32 on this CPU (AVX-512 bf16, no "
                "AMX) -> %s", key, dim, speedup, choice)
    return {"precision": choice, "chosen_by": f"measured at width {dim}", "bf16_speedup": round(float(speedup), 3)}


def resolve_precision(precision: str, device: torch.device, key: str = "train.precision", dim: int = 192) -> str:
    """The precision of :func:`precision_choice`, without the why."""
    return precision_choice(precision, device, key, dim)["precision"]


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """The autocast context of a resolved precision ('fp32' disables it)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")


# ------------------------------------------------------------------------------------------------ non-finite
class NonFinitePolicy:
    """Skip a step whose loss is non-finite (on any rank), count it; raise after `patience` in a row."""

    def __init__(self, patience: int) -> None:
        self.patience, self.skipped, self.in_row = patience, 0, 0

    def check(self, finite: bool, step: int, last_good: str | Path | None) -> bool:
        """-> True when the optimizer may step (`step`: the 1-based number of the step being taken)."""
        if finite:
            self.in_row = 0
            return True
        self.skipped += 1
        self.in_row += 1
        logger.warning("non-finite loss at step %d: step skipped (%d in a row)", step, self.in_row)
        if self.in_row >= self.patience:
            raise NonFiniteLossError(f"{self.in_row} non-finite losses in a row, the last at step {step}; "
                                     f"last good checkpoint: {last_good or 'none written yet'}")
        return False


# ------------------------------------------------------------------------------------------------ preemption
class PreemptionGuard:
    """Within ``with PreemptionGuard():``, SIGTERM / SIGUSR1 (and PREEMPT_SIGNALS' others) only set a flag; the
    trainer checks ``requested`` at each step boundary, writes its checkpoint, then calls ``leave(step, path)``."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.previous: dict[int, object] = {}

    def _on_signal(self, signum: int, frame) -> None:
        if self.signum is None:
            logger.warning("received %s: checkpointing at the next step boundary", signal.Signals(signum).name)
        self.signum = signum

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def __enter__(self) -> Self:
        if threading.current_thread() is threading.main_thread():
            for s in PREEMPT_SIGNALS:
                self.previous[s] = signal.signal(s, self._on_signal)
        return self

    def __exit__(self, *exc) -> None:
        for s, h in self.previous.items():
            signal.signal(s, h)
        self.previous = {}

    def leave(self, step: int, checkpoint: str | Path | None) -> None:
        """Restores the handlers, hands the signal to a previous Python handler (submitit's requeue, which exits),
        then raises TrainingPreempted (exit code EXIT_PREEMPTED)."""
        previous = self.previous.get(self.signum)
        self.__exit__()
        logger.warning("preempted: checkpoint of step %d written to %s; exiting with code %d", step, checkpoint,
                       EXIT_PREEMPTED)
        if callable(previous):
            previous(self.signum, None)
        raise TrainingPreempted(step, None if checkpoint is None else str(checkpoint))


# ------------------------------------------------------------------------------------------------ resume
def resume_checkpoint(output_dir: str | Path) -> tuple[dict, Path] | None:
    """The one resume rule: ``output_dir/checkpoint-last.pth``, or, when that file is damaged, the previous good
    ``checkpoint-prev.pth`` kept beside it (logged) -> (checkpoint dict, its path), or None when there is none."""
    out = Path(output_dir)
    last, prev = out / LAST, out / PREV
    if not last.exists():
        if prev.exists():
            logger.warning("%s is missing but %s exists: resuming from the previous checkpoint", last, prev)
            return read_checkpoint(prev), prev
        return None
    try:
        return read_checkpoint(last), last
    except CheckpointMismatchError as e:
        if not prev.exists():
            raise CheckpointMismatchError(f"{e}; no {PREV} beside it to fall back to (start over with --no-resume)"
                                          ) from None
        logger.warning("%s; resuming from the previous good checkpoint %s (at most one checkpoint interval lost)",
                       e, prev)
        try:
            return read_checkpoint(prev), prev
        except CheckpointMismatchError as e2:
            raise CheckpointMismatchError(f"both checkpoints are damaged: {e}; {e2}") from None


def check_world(ckpt: dict, path: Path, world_size: int, batch_size: int, accum_iter: int) -> None:
    """A checkpoint of another world size loads when the effective batch (hence steps per epoch, lr schedule) is the
    same; otherwise this fails naming what differs."""
    run = ckpt.get("run")
    if not run:
        return
    eff = world_size * batch_size * accum_iter
    if run["effective_batch"] != eff:
        raise CheckpointMismatchError(
            f"{path} was written by {run['world_size']} process(es) x batch {run['batch_size']} x accum_iter "
            f"{run['accum_iter']} = effective batch {run['effective_batch']}; this run has {world_size} x {batch_size}"
            f" x {accum_iter} = {eff}: set the batch or accum_iter so the effective batch is {run['effective_batch']},"
            f" or start over with --no-resume")
    if run["world_size"] != world_size:
        logger.warning("%s was written by %d process(es), this run has %d (same effective batch %d): resuming",
                       path, run["world_size"], world_size, eff)


def run_info(world_size: int, batch_size: int, accum_iter: int) -> dict:
    return {"world_size": world_size, "batch_size": batch_size, "accum_iter": accum_iter,
            "effective_batch": world_size * batch_size * accum_iter}
