"""Fashion-MNIST written as an ImageNet-style folder data set: ``{root}/{train,val}/<class>/<index>.png``."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from mae_core.data.datasets import FASHION_MNIST_CLASSES, read_fashion_mnist

logger = logging.getLogger(__name__)


def class_folder_names() -> list[str]:
    """Folder-safe class names in label order, prefixed by the label so that sorting keeps the order."""
    return [f"{i}_{c.replace('/', '_').replace(' ', '_')}" for i, c in enumerate(FASHION_MNIST_CLASSES)]


def write_class_folders(root: str | os.PathLike, images: np.ndarray, labels: np.ndarray, per_class: int = 0) -> int:
    """Writes uint8 images [N, H, W] as ``root/<class>/<index>.png`` (first `per_class` of each class; 0 = all)."""
    root = Path(root)
    names = class_folder_names()
    count = np.zeros(len(names), dtype=int)
    written = 0
    for i, (img, y) in enumerate(zip(images, labels)):
        y = int(y)
        if per_class and count[y] >= per_class:
            continue
        count[y] += 1
        d = root / names[y]
        d.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(d / f"{i:05d}.png")
        written += 1
    return written


def make_fashion_folders(root: str | os.PathLike, train_per_class: int = 0, val_per_class: int = 0) -> dict:
    """train/ from Fashion-MNIST's training split, val/ from its test split -> {"train": n, "val": n}."""
    out = {}
    for split, src, n in (("train", "train", train_per_class), ("val", "test", val_per_class)):
        images, labels = read_fashion_mnist(src)
        out[split] = write_class_folders(Path(root) / split, images, labels, n)
    logger.info("wrote Fashion-MNIST folders to %s: %s", root, out)
    return out
