"""What every DataLoader worker of the trainers does first: leave the stop signals to the trainer."""
from __future__ import annotations

import signal

# The signals that ask a run to checkpoint and stop (the engine's PreemptionGuard handles them in the trainer; the
# SLURM launcher swaps SIGTERM for submitit's signal in place).
STOP_SIGNALS: list[int] = [signal.SIGTERM, signal.SIGUSR1]


def ignore_stop_signals(worker_id: int = 0) -> None:
    """DataLoader ``worker_init_fn``: the worker ignores STOP_SIGNALS. A scheduler (SLURM) or ``kill`` of a process
    group signals every process of the job; torch's worker dies of SIGTERM, and the trainer's next batch then raises
    ("DataLoader worker ... is killed by signal") before it can checkpoint. Ignoring them, the trainer checkpoints at
    its next step boundary and ends its workers itself; a worker whose trainer dies still exits (torch's watchdog)."""
    for s in STOP_SIGNALS:
        signal.signal(s, signal.SIG_IGN)
