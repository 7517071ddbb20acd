"""ADE20K-layout data roots: checks before training, and the mmseg dataset config for any class list.

Layout (mmseg's): ``images/{training,validation}/NAME.jpg`` with ``annotations/{training,validation}/NAME.png``;
annotation pixels hold 0 (ignored: ``reduce_zero_label`` maps it to 255) or a class 1..K; 255 is also ignored.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

from mae_core.data.datasets import DataError

logger = logging.getLogger(__name__)

SPLITS = ("training", "validation")
IGNORE_RAW = (0, 255)


def split_dirs(root: str | os.PathLike, split: str) -> tuple[Path, Path]:
    root = Path(root)
    return root / "images" / split, root / "annotations" / split


def check_ade_root(root: str | os.PathLike, num_classes: int, splits: tuple[str, ...] = SPLITS,
                   check_labels: bool = True) -> dict[str, int]:
    """Raises :class:`DataError` naming the file or folder when `root` is not a usable ADE20K-layout root.

    Checks: both folders of each split exist and hold files; every ``.jpg`` has its ``.png`` (and the reverse);
    every annotation value is 0, 255 or a class in 1..num_classes. Returns {split: number of images}.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"data root does not exist or is not a folder: {root}")
    counts = {}
    for split in splits:
        img_dir, ann_dir = split_dirs(root, split)
        for d in (img_dir, ann_dir):
            if not d.is_dir():
                raise DataError(f"{root} is not in ADE20K layout: missing folder {d} (expected "
                                "images/{training,validation}/*.jpg and annotations/{training,validation}/*.png)")
        imgs = {p.stem: p for p in img_dir.iterdir() if p.suffix == ".jpg"}
        anns = {p.stem: p for p in ann_dir.iterdir() if p.suffix == ".png"}
        if not imgs:
            raise DataError(f"{img_dir}: no .jpg images")
        no_ann = sorted(set(imgs) - set(anns))
        if no_ann:
            expected = ann_dir / (no_ann[0] + ".png")
            raise DataError(f"image without its annotation: {imgs[no_ann[0]]} (expected {expected}"
                            f"; {len(no_ann)} such images in {img_dir})")
        no_img = sorted(set(anns) - set(imgs))
        if no_img:
            raise DataError(f"annotation without its image: {anns[no_img[0]]} ({len(no_img)} such files)")
        if check_labels:
            for stem in sorted(anns):
                check_annotation(anns[stem], num_classes)
        counts[split] = len(imgs)
    logger.info("data root %s: %s images, labels in 1..%d", root, counts, num_classes)
    return counts


def check_annotation(path: Path, num_classes: int) -> None:
    """A single-channel PNG with values in {0, 255} or 1..num_classes, else DataError naming the file."""
    try:
        with Image.open(path) as im:
            if im.mode not in ("L", "P", "I", "I;16"):
                raise DataError(f"{path}: annotation must be a single-channel PNG of class ids, found mode {im.mode}")
            values = np.unique(np.asarray(im))
    except OSError as e:
        raise DataError(f"cannot read annotation {path}: {e}") from e
    bad = [int(v) for v in values if int(v) not in IGNORE_RAW and not 1 <= int(v) <= num_classes]
    if bad:
        raise DataError(f"{path}: label value(s) {bad[:10]} outside 1..{num_classes} (0 and 255 are ignored); "
                        f"check --num-classes")


def class_names(root: str | os.PathLike, num_classes: int) -> list[str]:
    """Class names from ``classes.json`` in the root (a list), else class_1..class_K."""
    f = Path(root) / "classes.json"
    if f.is_file():
        names = json.loads(f.read_text())
        if len(names) != num_classes:
            raise DataError(f"{f}: {len(names)} class names but --num-classes {num_classes}")
        return list(names)
    return [f"class_{i}" for i in range(1, num_classes + 1)]


def palette(n: int, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, size=(n, 3)).tolist()


def dataset_overrides(root: str | os.PathLike, num_classes: int) -> dict:
    """Dataset fields for every dataloader: ADE20KDataset for its 150 classes, else BaseSegDataset with our names."""
    if num_classes == 150:
        return dict(type="ADE20KDataset", data_root=str(root))
    names = class_names(root, num_classes)
    return dict(type="BaseSegDataset", data_root=str(root), img_suffix=".jpg", seg_map_suffix=".png",
                reduce_zero_label=True, metainfo=dict(classes=tuple(names), palette=palette(num_classes)))
