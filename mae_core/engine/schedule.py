"""The learning-rate schedule every trainer of the project uses: linear warmup, then half-cycle cosine."""
from __future__ import annotations

import math
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
