"""Readers of the classification data sets in their real formats -> (files, labels, classes) + one Dataset class.

- ImageNet style: ``{root}/{train,val}/<class>/*.JPEG`` (``mae_core.data.datasets.scan_images``).
- iNaturalist 2017/2018/2019: COCO-like JSON (``images`` with ``id``/``file_name``, ``annotations`` with
  ``image_id``/``category_id``, ``categories``) named ``{train,val}{year}.json``; ``file_name`` is relative to root.
- Places365: ``places365_train_{standard,challenge}.txt`` / ``places365_val.txt`` lines ``path label``, images under
  ``data_256`` (or ``data_large``) and ``val_256`` (or ``val_large``).
- Places205: ``{train,val}_places205.csv`` lines ``path label``, images under ``images256``.
- Fashion-MNIST (``fashion_mnist``): the IDX files (root ``fashion-mnist`` = the Debian package's, or a folder of
  them), read into memory; ``val`` is its test split.
Every entry is checked before training: a bad one is a DataError naming the file and the entry.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from mae_core.data.datasets import ArrayImageDataset, DataError, ImageFolderDataset, read_fashion_mnist, scan_images

logger = logging.getLogger(__name__)

INAT_CLASSES = {"inat2017": 5089, "inat2018": 8142, "inat2019": 1010}
PLACES_CLASSES = {"places205": 205, "places365": 365}


class ImageListDataset(ImageFolderDataset):
    """Images given as a list of (file, label); reading and skipping of broken files as ImageFolderDataset."""

    def __init__(self, files: list[Path], labels: list[int], classes: list[str], transform=None,
                 source: str = "", strict: bool = False, mode: str = "RGB") -> None:
        self.root = Path(source)
        self.files, self.labels, self.classes = list(files), list(labels), list(classes)
        self.transform, self.strict, self.mode = transform, strict, mode
        self.skipped: list[str] = []


def _find(root: Path, names: tuple[str, ...], what: str) -> Path:
    for n in names:
        if (root / n).exists():
            return root / n
    raise DataError(f"{root}: no {what} (looked for {', '.join(names)})")


def _check_some_exist(files: list[Path], source: Path, n: int = 10) -> None:
    for f in files[:n]:
        if not f.is_file():
            raise DataError(f"{source}: listed image not found: {f}")


def read_inat(json_path: str | os.PathLike, image_root: str | os.PathLike,
              num_classes: int | None = None) -> tuple[list[Path], list[int], list[str]]:
    """iNaturalist annotation JSON -> (files, labels, class names). Labels are category ids (contiguous 0..C-1)."""
    json_path, image_root = Path(json_path), Path(image_root)
    try:
        data = json.loads(json_path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{json_path}: not readable as JSON ({e})") from e
    if not isinstance(data, dict) or any(k not in data for k in ("images", "annotations", "categories")):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise DataError(f"{json_path}: not an iNaturalist annotation file: needs 'images', 'annotations' and "
                        f"'categories' (found {keys})")
    cats = data["categories"]
    for i, c in enumerate(cats):
        if not isinstance(c, dict) or "id" not in c:
            raise DataError(f"{json_path}: categories[{i}] has no 'id': {c!r}")
    ids = sorted(int(c["id"]) for c in cats)
    n = num_classes or len(ids)
    if ids != list(range(len(ids))) or len(ids) != n:
        raise DataError(f"{json_path}: expected category ids 0..{n - 1}, found {len(ids)} ids from {ids[:1]} to "
                        f"{ids[-1:]}")
    names = {int(c["id"]): str(c.get("name", c["id"])) for c in cats}
    path_of = {}
    for i, im in enumerate(data["images"]):
        if not isinstance(im, dict) or "id" not in im or "file_name" not in im:
            raise DataError(f"{json_path}: images[{i}] needs 'id' and 'file_name': {im!r}")
        path_of[im["id"]] = image_root / im["file_name"]
    files, labels = [], []
    for i, a in enumerate(data["annotations"]):
        if not isinstance(a, dict) or "image_id" not in a or "category_id" not in a:
            raise DataError(f"{json_path}: annotations[{i}] needs 'image_id' and 'category_id': {a!r}")
        if a["image_id"] not in path_of:
            raise DataError(f"{json_path}: annotations[{i}]: image_id {a['image_id']!r} is not in 'images'")
        label = a["category_id"]
        if not isinstance(label, int) or not 0 <= label < n:
            raise DataError(f"{json_path}: annotations[{i}]: category_id {label!r} outside 0..{n - 1}")
        files.append(path_of[a["image_id"]])
        labels.append(label)
    if not files:
        raise DataError(f"{json_path}: no annotations")
    _check_some_exist(files, json_path)
    return files, labels, [names[i] for i in range(n)]


def read_file_list(list_path: str | os.PathLike, image_root: str | os.PathLike,
                   num_classes: int) -> tuple[list[Path], list[int]]:
    """A Places-style list (``path label`` per line; a leading '/' is relative to image_root) -> (files, labels)."""
    list_path, image_root = Path(list_path), Path(image_root)
    files, labels = [], []
    with open(list_path) as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            parts = line.strip().rsplit(maxsplit=1)
            if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                raise DataError(f"{list_path}:{lineno}: expected 'path label', got {line.strip()!r}")
            label = int(parts[1])
            if not 0 <= label < num_classes:
                raise DataError(f"{list_path}:{lineno}: label {label} outside 0..{num_classes - 1} ({parts[0]})")
            files.append(image_root / parts[0].lstrip("/"))
            labels.append(label)
    if not files:
        raise DataError(f"{list_path}: empty file list")
    _check_some_exist(files, list_path)
    return files, labels


def _places_classes(root: Path, n: int) -> list[str]:
    for p in (root / "categories_places365.txt", root / "filelist_places365-standard" / "categories_places365.txt"):
        if n == 365 and p.is_file():
            return [line.split()[0].strip("/") for line in p.read_text().splitlines() if line.strip()]
    return [str(i) for i in range(n)]


def read_split(dataset: str, root: str | os.PathLike, split: str,
               places_split: str = "standard") -> tuple[list[Path], list[int], list[str]]:
    """(files, labels, classes) of `split` ('train' or 'val') of a data set kind (see the module docstring)."""
    root = Path(root)
    if split not in ("train", "val"):
        raise DataError(f"split must be 'train' or 'val', got {split!r}")
    if dataset == "folder":
        files, labels, classes = scan_images(root / split)
        if not classes:
            raise DataError(f"{root / split}: images must sit in class sub-folders (<class>/<image>)")
        return files, labels, classes
    if dataset in INAT_CLASSES:
        year = dataset[-4:]
        return read_inat(_find(root, (f"{split}{year}.json",), "annotation file"), root, INAT_CLASSES[dataset])
    if dataset == "places365":
        lists = ("filelist_places365-standard", "filelist_places365-challenge", ".")
        name = f"places365_train_{places_split}.txt" if split == "train" else "places365_val.txt"
        lst = _find(root, tuple(f"{d}/{name}" for d in lists), f"Places365 {split} list")
        images = _find(root, ("data_256", "data_large") if split == "train" else ("val_256", "val_large"), "images")
        files, labels = read_file_list(lst, images, 365)
        return files, labels, _places_classes(root, 365)
    if dataset == "places205":
        name = f"{split}_places205.csv"
        lst = _find(root, (f"trainvalsplit_places205/{name}", name), f"Places205 {split} list")
        images = _find(root, ("images256", "data/vision/torralba/deeplearning/images256"), "images")
        files, labels = read_file_list(lst, images, 205)
        return files, labels, [str(i) for i in range(205)]
    raise DataError(f"unknown data set kind {dataset!r}")


def limit_per_class(files: list, labels: list[int], n: int) -> tuple[list, list[int]]:
    """The first `n` samples of every class (n <= 0 keeps all)."""
    if n <= 0:
        return files, labels
    seen: dict[int, int] = {}
    keep = []
    for i, y in enumerate(labels):
        seen[y] = seen.get(y, 0) + 1
        if seen[y] <= n:
            keep.append(i)
    return [files[i] for i in keep], [labels[i] for i in keep]


def fashion_mnist_split(root: str | os.PathLike, split: str, transform=None, limit: int = 0,
                        mode: str = "RGB") -> ArrayImageDataset:
    """Fashion-MNIST's train ('train') or test ('val') split in memory, the first `limit` images per class."""
    images, labels = read_fashion_mnist("train" if split == "train" else "test",
                                        None if str(root) in ("", "fashion-mnist") else root)
    keep, _ = limit_per_class(list(range(len(labels))), [int(y) for y in labels], limit)
    return ArrayImageDataset(images[keep], labels[keep], transform, mode)


def build_dataset(dataset: str, root: str | os.PathLike, split: str, transform=None, num_classes: int = 0,
                  limit: int = 0, places_split: str = "standard", mode: str = "RGB"):
    """The Dataset of one split (images converted to `mode`); num_classes > 0 must equal the data's class count
    (else a DataError)."""
    if dataset == "fashion_mnist":
        ds = fashion_mnist_split(root, split, transform, limit, mode)
        if num_classes and num_classes != len(ds.classes):
            raise DataError(f"{root} (fashion_mnist): 10 classes but data.num_classes={num_classes} in the config")
        logger.info("fashion_mnist %s: %d images", split, len(ds))
        return ds
    files, labels, classes = read_split(dataset, root, split, places_split)
    if num_classes and len(classes) != num_classes:
        raise DataError(f"{root} ({dataset}, {split}): {len(classes)} classes in the data but data.num_classes="
                        f"{num_classes} in the config")
    files, labels = limit_per_class(files, labels, limit)
    logger.info("%s %s: %d images, %d classes", dataset, split, len(files), len(classes))
    return ImageListDataset(files, labels, classes, transform, source=str(root), mode=mode)
