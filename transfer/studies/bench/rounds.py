"""The timing loop of the in-process precision benchmarks (detector, segmentor, classifier)."""
from __future__ import annotations

import time
from collections.abc import Callable


def best_rates(steps: dict[str, Callable[[int], None]], warmup: int, timed: int, rounds: int) -> dict[str, float]:
    """{variant: step(i), which trains on batch i} -> {variant: its best round's steps per second}. Variants take
    turns each round: ``warmup`` untimed steps (batches 0..warmup-1), then ``timed`` timed ones (the batches after)."""
    best = {name: 0.0 for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            for i in range(warmup):
                step(i)
            t0 = time.perf_counter()
            for i in range(warmup, warmup + timed):
                step(i)
            best[name] = max(best[name], timed / (time.perf_counter() - t0))
    return best
