"""Linear probe, cached-feature ('fast') versus full mode, and k-NN: accuracy and wall time on the same data.

The fast mode runs first and picks its lr on held-out training images; the full probe then trains with that same
base lr, so the two differ only in how the features are obtained (cached once without augmentation versus computed
every epoch from augmented images).
"""
from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

from .config import ClassificationConfig
from .linprobe import run_linprobe

logger = logging.getLogger(__name__)


def benchmark_linprobe(cfg: ClassificationConfig, data_path: str, output_dir: str, pretrained: str | None = None,
                       modes: tuple[str, ...] = ("fast", "full", "knn")) -> dict:
    """Runs each probe mode -> {mode: {"top1", "top5", "seconds", ...}, "speedup": full/fast, "top1_gap"}."""
    results = {}
    for mode in sorted(modes, key=("fast", "full", "knn").index):
        c = copy.deepcopy(cfg)
        c.linprobe.mode = mode
        if mode == "full" and "fast" in results:
            c.linprobe.blr = results["fast"]["blr"]
        t0 = time.time()
        m = run_linprobe(c, data_path, str(Path(output_dir) / mode), pretrained)
        results[mode] = {"top1": m["top1"], "top5": m["top5"], "seconds": round(time.time() - t0, 1),
                         "blr": c.linprobe.blr, **{k: m[k] for k in ("blr", "heldout_top1_by_blr") if k in m}}
        logger.info("%s: top1 %.2f in %.1fs", mode, m["top1"], results[mode]["seconds"])
    if "full" in results and "fast" in results:
        results["speedup"] = round(results["full"]["seconds"] / max(results["fast"]["seconds"], 1e-9), 2)
        results["top1_gap"] = round(results["fast"]["top1"] - results["full"]["top1"], 2)
    results["epochs"] = cfg.linprobe.epochs
    return results
