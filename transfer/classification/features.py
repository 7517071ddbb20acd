"""Frozen features of a ViT, extracted once for the cached-feature probes (``probe.py``) and k-NN (``knn.py``)."""
from __future__ import annotations

import torch
from torch import nn
from torch.utils.data import DataLoader

POOLS = ("cls", "avg", "cls+avg")


@torch.no_grad()
def extract_features(model: nn.Module, loader: DataLoader, pool: str = "cls",
                     device: torch.device | str = "cpu", bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (features [N, D] float32, labels [N] long) of a ViT's ``forward_features``.

    pool: 'cls' (the cls token after the final norm), 'avg' (mean of patch tokens after the final norm) or
    'cls+avg' (both, concatenated: [N, 2D]). bf16: run the encoder under bf16 autocast (features returned in fp32).
    """
    if pool not in POOLS:
        raise ValueError(f"feature pool must be one of {POOLS}, got {pool!r}")
    was_training = model.training
    model.eval()
    feats, labels = [], []
    for x, y in loader:
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            t = model.forward_features(x.to(device)).float()
        cls, avg = t[:, 0], t[:, 1:].mean(1)
        f = {"cls": cls, "avg": avg, "cls+avg": torch.cat([cls, avg], 1)}[pool]
        feats.append(f.float().cpu())
        labels.append(torch.as_tensor(y).long())
    model.train(was_training)
    return torch.cat(feats), torch.cat(labels)
