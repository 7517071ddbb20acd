"""Linear probe, full versus cached-feature ('fast') mode, and k-NN: accuracy and wall time on the same data."""
from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

from .config import ClassificationConfig
from .linprobe import run_linprobe

logger = logging.getLogger(__name__)


def benchmark_linprobe(cfg: ClassificationConfig, data_path: str, output_dir: str, pretrained: str | None = None,
                       modes: tuple[str, ...] = ("full", "fast", "knn")) -> dict:
    """Runs each probe mode with the same config -> {mode: {"top1", "top5", "seconds", ...}, "speedup": full/fast}."""
    results = {}
    for mode in modes:
        c = copy.deepcopy(cfg)
        c.linprobe.mode = mode
        t0 = time.time()
        m = run_linprobe(c, data_path, str(Path(output_dir) / mode), pretrained)
        results[mode] = {"top1": m["top1"], "top5": m["top5"], "seconds": round(time.time() - t0, 1),
                         **{k: m[k] for k in ("lr", "blr", "heldout_top1_by_blr") if k in m}}
        logger.info("%s: top1 %.2f in %.1fs", mode, m["top1"], results[mode]["seconds"])
    if "full" in results and "fast" in results:
        results["speedup"] = round(results["full"]["seconds"] / max(results["fast"]["seconds"], 1e-9), 2)
        results["top1_gap"] = round(results["fast"]["top1"] - results["full"]["top1"], 2)
    return results
