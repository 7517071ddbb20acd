"""Frozen-encoder evaluation on Fashion-MNIST: linear probe and k-NN of an encoder, a random one, raw pixels."""
from __future__ import annotations

import logging

import torch
from torch.utils.data import DataLoader

from mae_core.data.datasets import ArrayImageDataset, read_fashion_mnist
from mae_core.data.transforms import build_eval_transform
from transfer.classification.features import extract_features, knn_accuracy, linear_probe_accuracy

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


def evaluate_encoder(model: torch.nn.Module, train_loader: DataLoader, test_loader: DataLoader,
                     bf16: bool = False) -> dict:
    """{pool: {"linear": top1 %, "knn": top1 %}} for the cls token and the average of the patch tokens
    (one pass over the data gives both)."""
    out = {}
    both_tr, ytr = extract_features(model, train_loader, "cls+avg", bf16=bf16)
    both_te, yte = extract_features(model, test_loader, "cls+avg", bf16=bf16)
    d = both_tr.shape[1] // 2
    for pool, cols in (("cls", slice(0, d)), ("avg", slice(d, 2 * d))):
        ftr, fte = both_tr[:, cols], both_te[:, cols]
        out[pool] = {"linear": round(linear_probe_accuracy(ftr, ytr, fte, yte)["top1"], 2),
                     "knn": round(knn_accuracy(ftr, ytr, fte, yte, k=20), 2)}
        logger.info("%s features: %s", pool, out[pool])
    return out


def evaluate_raw_pixels(limit: int = 0) -> dict:
    xtr, ytr = read_fashion_mnist("train")
    xte, yte = read_fashion_mnist("test")
    if limit:
        xtr, ytr, xte, yte = xtr[:limit], ytr[:limit], xte[:limit], yte[:limit]
    a = torch.tensor(xtr).float().flatten(1) / 255
    b = torch.tensor(xte).float().flatten(1) / 255
    ytr_t, yte_t = torch.tensor(ytr).long(), torch.tensor(yte).long()
    return {"linear": round(linear_probe_accuracy(a, ytr_t, b, yte_t)["top1"], 2),
            "knn": round(knn_accuracy(a, ytr_t, b, yte_t, k=20), 2)}
