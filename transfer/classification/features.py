"""Frozen-feature evaluation: extract features once, then k-NN and a linear probe on them.

Used by the demo, by the pretraining engine's online monitor and by the classification transfer (k-NN, fast
linear probe). Functions take tensors and return tensors/floats.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader


@torch.no_grad()
def extract_features(model: nn.Module, loader: DataLoader, pool: str = "cls",
                     device: torch.device | str = "cpu", bf16: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """-> (features [N, D] float32, labels [N] long) of a ViT's ``forward_features``.

    pool: 'cls' (the cls token after the final norm), 'avg' (mean of patch tokens after the final norm) or
    'cls+avg' (both, concatenated). bf16: run the encoder under bf16 autocast (features returned in fp32).
    """
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


@torch.no_grad()
def knn_predict(train_feats: torch.Tensor, train_labels: torch.Tensor, query: torch.Tensor, num_classes: int,
                k: int = 20, temperature: float = 0.07, chunk: int = 1024) -> torch.Tensor:
    """Cosine k-NN with temperature-weighted votes (as in InstDisc/DINO) -> class scores [Q, num_classes]."""
    bank = F.normalize(train_feats, dim=1)
    out = []
    for q in F.normalize(query, dim=1).split(chunk):
        sim, idx = (q @ bank.t()).topk(k, dim=1)
        weights = (sim / temperature).exp()
        votes = torch.zeros(q.shape[0], num_classes).scatter_add_(1, train_labels[idx], weights)
        out.append(votes)
    return torch.cat(out)


def knn_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                 test_labels: torch.Tensor, k: int = 20, temperature: float = 0.07) -> float:
    """Top-1 accuracy (%) of :func:`knn_predict`."""
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1
    scores = knn_predict(train_feats, train_labels, test_feats, num_classes, k, temperature)
    return 100.0 * (scores.argmax(1) == test_labels).float().mean().item()


def standardize(train: torch.Tensor, *others: torch.Tensor) -> list[torch.Tensor]:
    """Features scaled by the training set's mean/std (what BatchNorm without affine does for the probe)."""
    mean, std = train.mean(0, keepdim=True), train.std(0, keepdim=True) + 1e-6
    return [(t - mean) / std for t in (train, *others)]


def linear_probe_accuracy(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                          test_labels: torch.Tensor, weight_decays: tuple[float, ...] = (1e-4, 1e-3, 1e-2),
                          epochs: int = 100, val_fraction: float = 0.1, seed: int = 0) -> dict:
    """Multinomial logistic regression on standardized features (full-batch L-BFGS).

    The weight decay is chosen on a held-out part of the training features, never on the test split; the chosen
    one is then refit on all training features. -> {"top1": %, "weight_decay": wd, "val_top1": %}.
    """
    g = torch.Generator().manual_seed(seed)
    n = len(train_feats)
    perm = torch.randperm(n, generator=g)
    n_val = max(1, int(n * val_fraction))
    val_idx, fit_idx = perm[:n_val], perm[n_val:]
    num_classes = int(max(train_labels.max(), test_labels.max())) + 1

    def fit(x, y, wd):
        lin = nn.Linear(x.shape[1], num_classes)
        nn.init.zeros_(lin.weight)
        nn.init.zeros_(lin.bias)
        opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=epochs, history_size=20,
                                line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.cross_entropy(lin(x), y) + wd * lin.weight.pow(2).sum()
            loss.backward()
            return loss
        opt.step(closure)
        return lin

    def acc(lin, x, y):
        with torch.no_grad():
            return 100.0 * (lin(x).argmax(1) == y).float().mean().item()

    xf, xv = standardize(train_feats[fit_idx], train_feats[val_idx])
    scores = {wd: acc(fit(xf, train_labels[fit_idx], wd), xv, train_labels[val_idx]) for wd in weight_decays}
    best = max(scores, key=scores.get)
    xtr, xte = standardize(train_feats, test_feats)
    lin = fit(xtr, train_labels, best)
    return {"top1": acc(lin, xte, test_labels), "weight_decay": best, "val_top1": scores[best]}
