"""The learning-rate schedule every trainer of the project uses: linear warmup, then half-cycle cosine; and its
horizon fitted to a wall-clock budget while a run trains (the demo's 10 minutes)."""
from __future__ import annotations

import math
import time
from collections import deque
from dataclasses import dataclass


@dataclass
class WarmupCosine:
    """lr at a fractional epoch: linear from 0 over ``warmup_epochs``, then cosine from ``lr`` to ``min_lr``."""
    lr: float
    min_lr: float
    warmup_epochs: float
    epochs: float

    def __call__(self, epoch: float) -> float:
        if epoch < self.warmup_epochs:
            return self.lr * epoch / self.warmup_epochs
        t = (epoch - self.warmup_epochs) / max(self.epochs - self.warmup_epochs, 1e-8)
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + math.cos(math.pi * min(t, 1.0)))


class ClockHorizon:
    """A schedule's horizon (the step it ends at) fitted to a wall-clock budget while the run trains, from its
    ``step`` on: at every ``every``-th step, horizon = step + the steps that the time left allows at the pace of the
    last ``window`` steps (times ``margin``), never past ``cap`` nor before the next step. ``spent_s``: the budget a
    resumed run used before."""

    def __init__(self, budget_s: float, step: int, horizon: int, cap: int, spent_s: float = 0.0, every: int = 20,
                 window: int = 100, margin: float = 0.99) -> None:
        self.budget_s, self.horizon, self.cap, self.spent_before = budget_s, horizon, cap, spent_s
        self.every, self.margin = every, margin
        self.t0 = time.time()
        self.marks: deque[tuple[int, float]] = deque([(step, self.t0)], maxlen=max(window // every, 1) + 1)

    def due(self, step: int) -> bool:
        """Whether `step` is a re-fit step."""
        return step % self.every == 0

    def spent(self) -> float:
        """Seconds of the budget used, resumed segments included."""
        return self.spent_before + time.time() - self.t0

    def out_of_time(self) -> bool:
        return self.spent() >= self.budget_s

    def update(self, step: int) -> int:
        """At a re-fit step (:meth:`due`) -> the horizon re-fitted at the pace since the oldest kept re-fit step."""
        now = time.time()
        self.marks.append((step, now))
        first_step, first_t = self.marks[0]
        if step > first_step:
            pace = (now - first_t) / (step - first_step)
            left = max(self.budget_s - self.spent(), 0.0)
            self.horizon = int(min(self.cap, max(step + 1, step + left * self.margin / pace)))
        return self.horizon
