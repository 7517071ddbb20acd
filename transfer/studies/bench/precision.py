"""What the in-process precision benchmarks share (detector, segmentor, classifier: a transfer's training steps on
the CPU under bf16 autocast vs fp32): their spec, the config lookup, the autocast step, the timing loop and the
figures. A round times ``steps`` steps of each variant after ``warmup`` untimed ones; variants alternate over
``rounds`` rounds and the best round of each is kept."""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class PrecisionBenchSpec:
    config: str = ""            # a config file, or one relative to the repository
    batch: int = 0
    steps: int = 10             # timed steps per round and variant
    warmup: int = 2
    rounds: int = 2


def config_path(spec: PrecisionBenchSpec) -> Path:
    """``spec.config`` as given or under the repository; a missing file is a FileNotFoundError naming it."""
    path = Path(spec.config) if Path(spec.config).is_file() else ROOT / spec.config
    if not path.is_file():
        raise FileNotFoundError(f"--config {spec.config}: no such config file")
    return path


def autocast_step(optim: torch.optim.Optimizer, loss: Callable[[], torch.Tensor], bf16: bool) -> None:
    """One training step: `loss()` under bf16 autocast (or none), then backward and the optimizer's step."""
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        value = loss()
    optim.zero_grad()
    value.backward()
    optim.step()


def best_rates(steps: dict[str, Callable[[int], None]], spec: PrecisionBenchSpec) -> dict:
    """{'fp32' | 'bf16': step(i), which trains on batch i} -> {"fp32_its", "bf16_its": each variant's best round in
    steps per second, "ratio": bf16's over fp32's}. Each round the variants take turns: ``warmup`` untimed steps
    (batches 0..warmup-1), then ``steps`` timed ones (the batches after)."""
    best = {name: 0.0 for name in steps}
    for _ in range(spec.rounds):
        for name, step in steps.items():
            for i in range(spec.warmup):
                step(i)
            t0 = time.perf_counter()
            for i in range(spec.warmup, spec.warmup + spec.steps):
                step(i)
            best[name] = max(best[name], spec.steps / (time.perf_counter() - t0))
    return {"fp32_its": _significant(best["fp32"]), "bf16_its": _significant(best["bf16"]),
            "ratio": _significant(best["bf16"] / best["fp32"])}


def _significant(x: float, digits: int = 4) -> float:
    """`x` to `digits` significant figures (a fixed count of decimals would wipe out a rate of 0.05 it/s)."""
    return float(f"{x:.{digits}g}")
