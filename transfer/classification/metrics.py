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


def add_to_confusion(cm: torch.Tensor, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Adds a batch to the [C, C] int64 counts `cm` in place (rows = true class, columns = predicted class) -> cm.
    In place: a new [C, C] per batch would be 530 MB at iNat 2018's 8142 classes."""
    c = cm.shape[0]
    idx = target.long() * c + pred.long()
    cm.view(-1).index_add_(0, idx, torch.ones_like(idx))
    return cm


def confusion_matrix(pred: torch.Tensor, target: torch.Tensor, num_classes: int) -> torch.Tensor:
    """[C, C] int64 counts, rows = true class, columns = predicted class."""
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=pred.device)
    return add_to_confusion(cm, pred, target)


def summarize(confusion: torch.Tensor, top5_correct: int, loss_sum: float) -> dict:
    """Metrics from the (all-reduced) confusion matrix [C, C] and top-5 count."""
    cm = confusion.double()
    n = cm.sum().item()
    per_class = torch.where(cm.sum(1) > 0, cm.diag() / cm.sum(1).clamp(min=1), torch.full_like(cm.diag(), float("nan")))
    return {"top1": 100.0 * cm.diag().sum().item() / max(n, 1), "top5": 100.0 * top5_correct / max(n, 1),
            "loss": loss_sum / max(n, 1), "num_samples": int(n),
            "mean_per_class": 100.0 * float(np.nanmean(per_class.numpy())) if n else 0.0,
            "per_class": [None if np.isnan(v) else round(100.0 * v, 4) for v in per_class.tolist()]}


DENSE_CONFUSION_MAX = 1000    # classes; above it a dense matrix is too big a file (iNat 2018: 8142^2 cells, 530 MB)


def save_confusion(out: Path, confusion: torch.Tensor, classes: list[str] | None = None) -> Path:
    """Up to DENSE_CONFUSION_MAX classes: ``confusion.npy`` [C, C] and ``confusion.csv`` (class names as header,
    rows = true class); above: ``confusion_sparse.npz`` with the non-zero cells (``true``, ``pred``, ``count``),
    ``num_classes`` and ``classes``. -> the file written."""
    cm = confusion.cpu().numpy().astype(np.int64)
    names = classes or [str(i) for i in range(len(cm))]
    if len(cm) > DENSE_CONFUSION_MAX:
        true, pred = np.nonzero(cm)
        np.savez_compressed(out / "confusion_sparse.npz", true=true, pred=pred, count=cm[true, pred],
                            num_classes=len(cm), classes=np.array(names))
        return out / "confusion_sparse.npz"
    np.save(out / "confusion.npy", cm)
    with open(out / "confusion.csv", "w") as f:
        f.write("true\\pred," + ",".join(n.replace(",", " ") for n in names) + "\n")
        for name_, row in zip(names, cm):
            f.write(name_.replace(",", " ") + "," + ",".join(map(str, row)) + "\n")
    return out / "confusion.npy"


def save_metrics(out_dir: str | os.PathLike, metrics: dict, confusion: torch.Tensor | None = None,
                 classes: list[str] | None = None, name: str = "metrics") -> Path:
    """Writes ``{name}.json`` with where it was measured (``machine``: commit, CPU, load) and the confusion matrix
    (:func:`save_confusion`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if confusion is not None:
        save_confusion(out, confusion, classes)
    from mae_core.engine.metrics_log import run_context
    return atomic_write_json({**metrics, "machine": run_context()}, out / f"{name}.json")
