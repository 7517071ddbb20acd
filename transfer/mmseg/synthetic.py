"""A small ADE20K-layout segmentation set from real Fashion-MNIST items pasted on canvases.

Each canvas [S, S, 3] gets 2-4 items (28 px, scaled to S/4..S/2, tinted); an item's own pixels (intensity above
``FG_THRESHOLD`` after scaling) take its class 1..10 in the annotation, the rest stays 0 (ignored, as ADE20K's
0 under ``reduce_zero_label``). Later items occlude earlier ones. Training canvases use Fashion-MNIST's train
split, validation canvases its test split, so no item is shared.
"""
# Adapted from: the copy-paste idea of synthetic segmentation canvases; written for Fashion-MNIST here.
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from mae_core.data.datasets import FASHION_MNIST_CLASSES, read_fashion_mnist

logger = logging.getLogger(__name__)

FG_THRESHOLD = 40


def compose_canvas(items: np.ndarray, labels: np.ndarray, size: int,
                   rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """items uint8 [K, 28, 28], labels [K] in 0..9 -> image uint8 [size, size, 3], annotation uint8 [size, size]."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    base = rng.uniform(20, 90, size=3)
    slope = rng.uniform(-40, 40, size=(2, 3))
    img = base + yy[..., None] * slope[0] + xx[..., None] * slope[1] + rng.normal(0, 6, size=(size, size, 3))
    ann = np.zeros((size, size), np.uint8)
    for item, label in zip(items, labels):
        side = int(rng.integers(size // 4, size // 2 + 1))
        patch = np.asarray(Image.fromarray(item).resize((side, side), Image.BILINEAR), dtype=np.float64)
        y, x = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        fg = patch > FG_THRESHOLD
        tint = rng.uniform(0.5, 1.0, size=3)
        region = img[y:y + side, x:x + side]
        region[fg] = patch[fg][:, None] * tint
        ann[y:y + side, x:x + side][fg] = int(label) + 1
    return np.clip(img, 0, 255).astype(np.uint8), ann


def make_fashion_ade(root: str | os.PathLike, num_train: int = 400, num_val: int = 100, size: int = 128,
                     items_per_image: tuple[int, int] = (2, 4), seed: int = 0,
                     fashion_root: str | os.PathLike | None = None) -> dict[str, int]:
    """Writes ``images/{training,validation}/*.jpg`` + ``annotations/.../*.png`` + ``classes.json`` under `root`."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    counts = {}
    for split, n, source in (("training", num_train, "train"), ("validation", num_val, "test")):
        images, labels = read_fashion_mnist(source, fashion_root)
        img_dir, ann_dir = root / "images" / split, root / "annotations" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        ann_dir.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            k = int(rng.integers(items_per_image[0], items_per_image[1] + 1))
            idx = rng.choice(len(images), size=k, replace=False)
            img, ann = compose_canvas(images[idx], labels[idx], size, rng)
            name = f"fashion_{split}_{i:05d}"
            Image.fromarray(img).save(img_dir / f"{name}.jpg", quality=95)
            Image.fromarray(ann).save(ann_dir / f"{name}.png")
        counts[split] = n
    (root / "classes.json").write_text(json.dumps(list(FASHION_MNIST_CLASSES)))
    logger.info("wrote %s canvases of %d px to %s", counts, size, root)
    return counts
