"""Classification metrics: top-k, per-class accuracy and the confusion matrix, and their files."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from mae_core.checkpoint.atomic import atomic_write_json


def topk_correct(logits: torch.Tensor, target: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> list[int]:
    """logits [B, C], target [B] -> number of samples whose label is among the top-k, for each k (k <= C)."""
    kmax = min(max(ks), logits.shape[1])
    pred = logits.topk(kmax, dim=1).indices                     # [B, kmax]
    hit = pred.eq(target[:, None])
    return [int(hit[:, : min(k, kmax)].any(1).sum()) for k in ks]


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[C, C] int64 counts, rows = true class, columns = predicted class."""
    idx = target.long() * num_classes + pred.long()
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def summarize(confusion: torch.Tensor, top5_correct: int, loss_sum: float) -> dict:
    """Metrics from the (all-reduced) confusion matrix [C, C] and top-5 count."""
    cm = confusion.double()
    n = cm.sum().item()
    per_class = torch.where(cm.sum(1) > 0, cm.diag() / cm.sum(1).clamp(min=1), torch.full_like(cm.diag(), float("nan")))
    return {"top1": 100.0 * cm.diag().sum().item() / max(n, 1), "top5": 100.0 * top5_correct / max(n, 1),
            "loss": loss_sum / max(n, 1), "num_samples": int(n),
            "mean_per_class": 100.0 * float(np.nanmean(per_class.numpy())) if n else 0.0,
            "per_class": [None if np.isnan(v) else round(100.0 * v, 4) for v in per_class.tolist()]}


def save_metrics(out_dir: str | os.PathLike, metrics: dict, confusion: torch.Tensor | None = None,
                 classes: list[str] | None = None, name: str = "metrics") -> Path:
    """Writes ``{name}.json`` with where it was measured (``machine``: commit, CPU, load) (+ ``confusion.npy`` and
    ``confusion.csv`` with class names as header)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if confusion is not None:
        cm = confusion.cpu().numpy().astype(np.int64)
        np.save(out / "confusion.npy", cm)
        names = classes or [str(i) for i in range(len(cm))]
        with open(out / "confusion.csv", "w") as f:
            f.write("true\\pred," + ",".join(n.replace(",", " ") for n in names) + "\n")
            for name_, row in zip(names, cm):
                f.write(name_.replace(",", " ") + "," + ",".join(map(str, row)) + "\n")
    from mae_core.engine.metrics_log import run_context
    return atomic_write_json({**metrics, "machine": run_context()}, out / f"{name}.json")
