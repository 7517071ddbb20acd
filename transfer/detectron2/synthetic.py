"""A small COCO-format instance set from real Fashion-MNIST items pasted on canvases.

Each canvas (default 128 x 128, RGB, dark noise) holds 1-4 items of a few classes, each scaled by 1-2x and tinted;
an item's instance mask is its own pixels above a threshold, minus what items pasted later cover; its box is the
mask's extent. Segmentations alternate between polygons and compressed RLE, as in COCO's files. Only this module
imports pycocotools/cv2 for writing; the files are read back by detectron2's own ``load_coco_json``.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from mae_core.data.datasets import FASHION_MNIST_CLASSES, read_fashion_mnist

logger = logging.getLogger(__name__)

DEFAULT_CLASSES = (0, 1, 7, 8)  # t-shirt/top, trouser, sneaker, bag: four shapes a small detector can tell apart


def _mask_to_segmentation(mask: np.ndarray, as_polygon: bool) -> list | dict:
    """Binary mask [H, W] -> COCO polygons (list of flat xy lists) or compressed RLE (counts as str)."""
    from pycocotools import mask as mask_util
    if as_polygon:
        import cv2
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        polys = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
        if polys:
            return polys
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def _paste_scene(rng: np.random.Generator, items: np.ndarray, labels: np.ndarray, canvas: int, n_items: int,
                 scale: tuple[float, float], threshold: int) -> tuple[np.ndarray, list[tuple[int, np.ndarray]]]:
    """-> (image uint8 [canvas, canvas, 3], [(label, mask bool [canvas, canvas]), ...])."""
    img = rng.integers(0, 25, size=(canvas, canvas, 3)).astype(np.float32)
    placed: list[tuple[int, np.ndarray]] = []
    for _ in range(n_items):
        i = int(rng.integers(len(items)))
        side = int(round(28 * rng.uniform(*scale)))
        item = np.asarray(Image.fromarray(items[i]).resize((side, side), Image.BILINEAR), dtype=np.float32)
        y, x = (int(v) for v in rng.integers(0, canvas - side + 1, size=2))
        mask = np.zeros((canvas, canvas), dtype=bool)
        mask[y:y + side, x:x + side] = item > threshold
        tint = rng.uniform(0.5, 1.0, size=3).astype(np.float32)
        region = img[y:y + side, x:x + side]
        on = mask[y:y + side, x:x + side]
        region[on] = item[on][:, None] * tint
        placed = [(lab, m & ~mask) for lab, m in placed]
        placed.append((int(labels[i]), mask))
    return img.clip(0, 255).astype(np.uint8), placed


def make_fashion_coco(out_dir: str | os.PathLike, num_train: int = 300, num_val: int = 100, canvas: int = 128,
                      classes: tuple[int, ...] = DEFAULT_CLASSES, items_per_image: tuple[int, int] = (1, 4),
                      scale: tuple[float, float] = (1.0, 2.0), threshold: int = 30, min_area: int = 20,
                      seed: int = 0) -> dict[str, dict[str, str]]:
    """Writes ``{out_dir}/{train,val}/*.png`` and ``{out_dir}/annotations/{train,val}.json``.

    Train items come from Fashion-MNIST's train split, val items from its test split. Category ids are 1..K
    (names from Fashion-MNIST). Returns {"train": {"json": ..., "images": ...}, "val": {...}}.
    """
    out = Path(out_dir)
    rng = np.random.default_rng(seed)
    categories = [{"id": k + 1, "name": FASHION_MNIST_CLASSES[c], "supercategory": "fashion"}
                  for k, c in enumerate(classes)]
    cat_of = {c: k + 1 for k, c in enumerate(classes)}
    paths = {}
    for split, n, source in (("train", num_train, "train"), ("val", num_val, "test")):
        images, labels = read_fashion_mnist(source)
        keep = np.isin(labels, classes)
        images, labels = images[keep], labels[keep]
        (out / split).mkdir(parents=True, exist_ok=True)
        (out / "annotations").mkdir(parents=True, exist_ok=True)
        coco = {"images": [], "annotations": [], "categories": categories}
        for img_id in range(1, n + 1):
            k = int(rng.integers(items_per_image[0], items_per_image[1] + 1))
            img, placed = _paste_scene(rng, images, labels, canvas, k, scale, threshold)
            name = f"{img_id:06d}.png"
            Image.fromarray(img).save(out / split / name)
            coco["images"].append({"id": img_id, "file_name": name, "height": canvas, "width": canvas})
            for label, mask in placed:
                area = int(mask.sum())
                if area < min_area:  # (almost) fully covered by later items: not an instance any more
                    continue
                ys, xs = np.nonzero(mask)
                box = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
                ann_id = len(coco["annotations"]) + 1
                coco["annotations"].append({
                    "id": ann_id, "image_id": img_id, "category_id": cat_of[label], "bbox": box, "area": area,
                    "iscrowd": 0, "segmentation": _mask_to_segmentation(mask, as_polygon=ann_id % 2 == 0)})
        json_path = out / "annotations" / f"{split}.json"
        json_path.write_text(json.dumps(coco))
        paths[split] = {"json": str(json_path), "images": str(out / split)}
        logger.info("wrote %s: %d images, %d instances", json_path, n, len(coco["annotations"]))
    return paths
