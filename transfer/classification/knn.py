"""k-NN classification of frozen features: cosine similarity, k nearest training features, temperature-weighted
votes (as in InstDisc / DINO). The one k-NN of the project; ``probe.knn_probe`` turns its scores into metrics.
# Adapted from: the weighted k-NN evaluation of InstDisc (Wu et al., 2018) as DINO uses it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, query: torch.Tensor, num_classes: int,
                k: int = 20, temperature: float = 0.07, chunk: int = 1024) -> torch.Tensor:
    """train_feats [N, D], train_labels [N], query [Q, D] -> class scores [Q, num_classes] (sum of exp(sim / T)
    over the k most similar training features of each class)."""
    if k < 1 or k > len(train_feats):
        raise ValueError(f"k-NN needs 1 <= k <= {len(train_feats)} (training features), got k={k}")
    bank = F.normalize(train_feats, dim=1)
    out = []
    for q in F.normalize(query, dim=1).split(chunk):
        sim, idx = (q @ bank.t()).topk(k, dim=1)
        weights = (sim / temperature).exp()
        out.append(torch.zeros(q.shape[0], num_classes).scatter_add_(1, train_labels[idx], weights))
    return torch.cat(out)
