"""k-NN evaluation of frozen features (cosine, k = 20, temperature-weighted votes), through
``transfer.classification.features``;
:class:`KnnMonitor` is the same evaluation as an online monitor for pretraining."""
from __future__ import annotations

import torch
import torch.nn as nn
from torch.utils.data import DataLoader

from transfer.classification.features import extract_features, knn_predict

from .metrics import confusion_matrix, summarize, topk_correct


def knn_metrics(train_feats: torch.Tensor, train_labels: torch.Tensor, feats: torch.Tensor, labels: torch.Tensor,
                num_classes: int, k: int = 20, temperature: float = 0.07) -> tuple[dict, torch.Tensor]:
    """Features [N, D] / [M, D] -> (metrics with top1/top5/per-class, confusion [C, C]) of the k-NN classifier."""
    scores = knn_predict(train_feats, train_labels, feats, num_classes, k, temperature)
    cm = confusion_matrix(scores.argmax(1), labels, num_classes)
    top5 = topk_correct(scores, labels, (5,))[0]
    return summarize(cm, top5, 0.0), cm


class KnnMonitor:
    """Online k-NN accuracy of an encoder during pretraining: ``top1 = monitor(model)`` (model in timm naming)."""

    def __init__(self, train_loader: DataLoader, val_loader: DataLoader, num_classes: int, k: int = 20,
                 temperature: float = 0.07, pool: str = "cls", device: torch.device | str = "cpu") -> None:
        self.train_loader, self.val_loader = train_loader, val_loader
        self.num_classes, self.k, self.temperature, self.pool, self.device = num_classes, k, temperature, pool, device

    def __call__(self, model: nn.Module) -> float:
        tf, tl = extract_features(model, self.train_loader, self.pool, self.device)
        vf, vl = extract_features(model, self.val_loader, self.pool, self.device)
        return knn_metrics(tf, tl, vf, vl, self.num_classes, self.k, self.temperature)[0]["top1"]
