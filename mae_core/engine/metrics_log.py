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
    path = Path(output_dir) / "metrics.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(metrics, indent=2, default=str))
    tmp.replace(path)
    return path
