"""Metric sinks: JSON lines, TensorBoard events and a console progress bar (rank 0 only)."""
from __future__ import annotations

import json
import logging
import time
from pathlib import Path

logger = logging.getLogger(__name__)


class MetricLog:
    """log(step, {'loss': ..}) appends a JSON line and TensorBoard scalars under `output_dir`."""

    def __init__(self, output_dir: str | Path, enabled: bool = True, tensorboard: bool = True) -> None:
        self.enabled = enabled
        self.path = Path(output_dir) / "log.jsonl"
        self.tb = None
        if enabled and tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self.tb = SummaryWriter(log_dir=str(Path(output_dir) / "tensorboard"))
            except ImportError:  # tensorboard is optional for the core
                logger.info("tensorboard not installed: JSON lines only")

    def log(self, step: int, values: dict) -> None:
        if not self.enabled:
            return
        row = {"step": step, "time": round(time.time(), 3), **values}
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        if self.tb is not None:
            for k, v in values.items():
                if isinstance(v, (int, float)):
                    self.tb.add_scalar(k, v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()


def write_metrics(output_dir: str | Path, metrics: dict) -> Path:
    """Writes the final figures of a tool to `metrics.json` (atomically)."""
    from mae_core.checkpoint.atomic import atomic_write_json
    return atomic_write_json(metrics, Path(output_dir) / "metrics.json")


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), or the platform's processor string."""
    import platform
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def run_context() -> dict:
    """Where and when a result was measured: commit (with '+changes' when the tree differs from it; ``MAE_COMMIT``
    instead where set: a copied tree), CPU model and the features that decide CPU speed, torch and its thread
    count, the 1/5/15-minute load average, and the GPU when CUDA is there."""
    import os
    import subprocess

    import torch
    commit = os.environ.get("MAE_COMMIT", "")   # set where the tree is a copy (its git, if any, is not ours)
    if not commit:
        try:
            head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                                  check=True).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                                   text=True, check=True).stdout.strip()
            commit = head + ("+changes" if dirty else "")
        except (OSError, subprocess.CalledProcessError):
            commit = "unknown"
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        flags = set()
    return {"commit": commit, "cpu": cpu_model(), "cpu_count": os.cpu_count(),
            "cpu_features": sorted(flags & {"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "loadavg": [round(v, 2) for v in os.getloadavg()],
            **({"gpu": torch.cuda.get_device_name(0)} if torch.cuda.is_available() else {})}
