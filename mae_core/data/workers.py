"""What every DataLoader worker of the trainers does first: leave the stop signals to the trainer."""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading

# The signals that ask a run to checkpoint and stop (the engine's PreemptionGuard handles them in the trainer; the
# SLURM launcher swaps SIGTERM for submitit's signal in place).
STOP_SIGNALS: list[int] = [signal.SIGTERM, signal.SIGUSR1]


def ignore_stop_signals(worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: the worker ignores STOP_SIGNALS unless its own trainer sends them.

    A scheduler (SLURM) or ``kill`` of a process group signals every process of the job; torch's worker dies of
    SIGTERM, and the trainer's next batch then raises ("DataLoader worker ... is killed by signal") before it can
    checkpoint. So the worker blocks these signals and a thread of its own reads them with their sender: from anyone
    else they are ignored (the trainer checkpoints at its next step boundary and ends its workers itself); from the
    trainer (torch's shutdown, or multiprocessing terminating its daemons at interpreter exit) the worker exits at
    once. Ignoring them outright would hang the trainer's exit: multiprocessing joins the workers it has just sent
    SIGTERM to."""
    parent = multiprocessing.parent_process()
    trainer = parent.pid if parent is not None else os.getppid()
    signals = list(STOP_SIGNALS)
    signal.pthread_sigmask(signal.SIG_BLOCK, signals)   # before the thread starts: it inherits the mask
    threading.Thread(target=_exit_when_stopped_by, args=(trainer, signals), daemon=True,
                     name="stop-signals").start()


def _exit_when_stopped_by(trainer: int, signals: list[int]) -> None:
    """Waits for the blocked stop signals; exits the worker when one comes from `trainer` (its pid)."""
    while True:
        info = signal.sigwaitinfo(signals)
        if info.si_pid == trainer:
            os._exit(128 + info.si_signo)   # what a shell reports for a death by that signal
