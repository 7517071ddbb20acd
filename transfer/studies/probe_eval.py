"""Frozen-encoder evaluation on Fashion-MNIST: linear probe and k-NN of an encoder, a random one, raw pixels.

The probe is ``transfer.classification.probe`` (the one implementation behind ``tools/linprobe.py``) on cached
features; its solver ('lbfgs' by default, what the demo's figures report, or 'fast') is named in every result."""
from __future__ import annotations

import logging

import torch
from torch.utils.data import DataLoader

from mae_core.data.datasets import ArrayImageDataset, read_fashion_mnist
from mae_core.data.transforms import build_eval_transform
from transfer.classification.features import extract_features
from transfer.classification.probe import ProbeOptions, knn_probe, linear_probe

logger = logging.getLogger(__name__)


def fashion_loaders(img_size: int, mean, std, mode: str = "RGB", batch: int = 500,
                    limit: int = 0) -> tuple[DataLoader, DataLoader]:
    tf = build_eval_transform(img_size, mean, std, mode)
    loaders = []
    for split in ("train", "test"):
        x, y = read_fashion_mnist(split)
        if limit:
            x, y = x[:limit], y[:limit]
        loaders.append(DataLoader(ArrayImageDataset(x, y, tf), batch_size=batch, num_workers=0))
    return loaders[0], loaders[1]


def probe_and_knn(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                  test_labels: torch.Tensor, solver: str = "lbfgs", k: int = 20) -> dict:
    """Cached features [N, D] / [M, D] -> {"linear": top1 %, "knn": top1 % (k-NN, k), "solver": solver}."""
    lin = linear_probe(train_feats, train_labels, test_feats, test_labels, ProbeOptions(solver=solver))[0]
    knn = knn_probe(train_feats, train_labels, test_feats, test_labels, k=k)[0]
    return {"linear": round(lin["top1"], 2), "knn": round(knn["top1"], 2), "solver": solver}


def evaluate_encoder(model: torch.nn.Module, train_loader: DataLoader, test_loader: DataLoader,
                     bf16: bool = False, solver: str = "lbfgs") -> dict:
    """{pool: {"linear": top1 %, "knn": top1 %, "solver": solver}} for the cls token and the average of the patch
    tokens (one pass over the data gives both)."""
    out = {}
    both_tr, ytr = extract_features(model, train_loader, "cls+avg", bf16=bf16)
    both_te, yte = extract_features(model, test_loader, "cls+avg", bf16=bf16)
    d = both_tr.shape[1] // 2
    for pool, cols in (("cls", slice(0, d)), ("avg", slice(d, 2 * d))):
        ftr, fte = both_tr[:, cols], both_te[:, cols]
        out[pool] = probe_and_knn(ftr, ytr, fte, yte, solver)
        logger.info("%s features: %s", pool, out[pool])
    return out


def evaluate_raw_pixels(limit: int = 0, solver: str = "lbfgs") -> dict:
    """The same probe and k-NN on raw pixels (784 values in [0, 1]) -> {"linear", "knn", "solver"}."""
    xtr, ytr = read_fashion_mnist("train")
    xte, yte = read_fashion_mnist("test")
    if limit:
        xtr, ytr, xte, yte = xtr[:limit], ytr[:limit], xte[:limit], yte[:limit]
    a = torch.tensor(xtr).float().flatten(1) / 255
    b = torch.tensor(xte).float().flatten(1) / 255
    ytr_t, yte_t = torch.tensor(ytr).long(), torch.tensor(yte).long()
    return probe_and_knn(a, ytr_t, b, yte_t, solver)
