"""Shared fixtures: small real-image folders written from Fashion-MNIST, micro models."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


def write_fashion_folder(root: Path, n_per_class: int = 8, classes: int = 3, split: str = "train",
                         size: int = 32) -> Path:
    """Writes real Fashion-MNIST items as PNGs in class sub-folders (ImageNet layout)."""
    from mae_core.data.datasets import read_fashion_mnist
    images, labels = read_fashion_mnist(split)
    for c in range(classes):
        d = root / f"class_{c}"
        d.mkdir(parents=True, exist_ok=True)
        idx = np.flatnonzero(labels == c)[:n_per_class]
        for i in idx:
            Image.fromarray(images[i]).resize((size, size), Image.BICUBIC).save(d / f"{i}.png")
    return root


@pytest.fixture
def fashion_folder(tmp_path: Path) -> Path:
    return write_fashion_folder(tmp_path / "fashion")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield
