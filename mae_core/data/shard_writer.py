"""Writing tar shards (webdataset layout: ``<key>.<image ext>`` + ``<key>.cls``) from an image folder or a
Fashion-MNIST IDX folder, each shard atomically, then ``index.json``; ``tools/make_shards.py`` calls ``main``.

Samples are shuffled once (seeded) before writing, so that every shard mixes the classes and a reader's bounded
shuffle buffer suffices. Folder images keep their encoded bytes (JPEG stays JPEG); IDX images become PNGs.
"""
from __future__ import annotations

import argparse
import io
import json
import logging
import os
import random
import tarfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from mae_core.data.datasets import (
    FASHION_MNIST_CLASSES,
    DataError,
    is_fashion_mnist_dir,
    read_fashion_mnist,
    scan_images,
)
from mae_core.data.shards import INDEX

logger = logging.getLogger(__name__)
KEEP_EXTS = {".jpg": "jpg", ".jpeg": "jpg", ".png": "png", ".webp": "webp", ".ppm": "ppm", ".bmp": "bmp"}


def _tar_add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o444
    tar.addfile(info, io.BytesIO(data))


def write_shards(samples: Iterable[tuple[str, str, bytes, int]], total: int, output_dir: str | os.PathLike,
                 shard_size: int, classes: list[str] | None = None, prefix: str = "train") -> dict:
    """Writes `total` samples (key, image extension, encoded bytes, label; -1 = none) into ceil(total / shard_size)
    shards of balanced size, each atomically (temporary file, fsync, rename), then ``index.json`` -> the index."""
    if shard_size < 1:
        raise DataError(f"--shard-size must be >= 1, got {shard_size}")
    if total < 1:
        raise DataError("no samples to write")
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_shards = -(-total // shard_size)
    sizes = [total // n_shards + (1 if i < total % n_shards else 0) for i in range(n_shards)]
    it = iter(samples)
    shards = []
    for s, size in enumerate(sizes):
        name = f"{prefix}-{s:06d}.tar"
        tmp = out / (name + ".tmp")
        with open(tmp, "wb") as f:
            with tarfile.open(fileobj=f, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for _ in range(size):
                    try:
                        key, ext, data, label = next(it)
                    except StopIteration:
                        raise DataError(f"{out}: the source gave fewer than the {total} samples announced") from None
                    _tar_add(tar, f"{key}.{ext}", data)
                    if label >= 0:
                        _tar_add(tar, f"{key}.cls", str(label).encode())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out / name)
        shards.append({"name": name, "count": size})
        logger.info("wrote %s (%d samples)", out / name, size)
    index = {"format": "webdataset", "shards": shards, "total": total, "classes": list(classes or [])}
    tmp = out / (INDEX + ".tmp")
    tmp.write_text(json.dumps(index, indent=1))
    os.replace(tmp, out / INDEX)
    return index


def _png(arr) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def source_samples(data_path: str, split: str = "train", seed: int = 0,
                   limit: int = 0) -> tuple[Iterator[tuple[str, str, bytes, int]], int, list[str]]:
    """An image folder (class sub-folders -> labels) or Fashion-MNIST ('fashion-mnist' or an IDX folder) ->
    (samples in a seeded random order, their count, class names)."""
    rng = random.Random(seed)
    if data_path == "fashion-mnist" or is_fashion_mnist_dir(data_path):
        images, labels = read_fashion_mnist(split, None if data_path == "fashion-mnist" else data_path)
        order = list(range(len(images)))
        rng.shuffle(order)
        order = order[:limit] if limit else order
        gen = ((f"{split}{i:08d}", "png", _png(images[i]), int(labels[i])) for i in order)
        return gen, len(order), list(FASHION_MNIST_CLASSES)
    files, labels, classes = scan_images(data_path)
    order = list(range(len(files)))
    rng.shuffle(order)
    order = order[:limit] if limit else order

    def gen() -> Iterator[tuple[str, str, bytes, int]]:
        for i in order:
            f = files[i]
            ext = KEEP_EXTS.get(f.suffix.lower())
            key = f"{i:08d}_{f.stem}".replace(".", "_")
            if ext:
                yield key, ext, f.read_bytes(), labels[i]
                continue
            try:
                with Image.open(f) as im:
                    yield key, "png", _png(np.asarray(im.convert("RGB"))), labels[i]
            except (OSError, ValueError) as e:
                raise DataError(f"cannot read image {f}: {e}") from e
    return gen(), len(order), classes


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="write tar shards (webdataset layout) + index.json from an image "
                                            "folder or a Fashion-MNIST IDX folder")
    p.add_argument("--data-path", required=True, help="image folder (class sub-folders = labels), IDX folder, "
                                                      "or fashion-mnist")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--shard-size", type=int, default=1000, help="samples per shard at most (sizes are balanced)")
    p.add_argument("--split", default="train", choices=["train", "test"], help="IDX split")
    p.add_argument("--prefix", default="", help="shard name prefix (default: the split)")
    p.add_argument("--seed", type=int, default=0, help="seed of the one shuffle before writing")
    p.add_argument("--limit", type=int, default=0, help="write only this many samples (0 = all)")
    a = p.parse_args(argv)
    from mae_core.cli import setup_logging
    setup_logging()
    samples, total, classes = source_samples(a.data_path, a.split, a.seed, a.limit)
    index = write_shards(samples, total, a.output_dir, a.shard_size, classes, a.prefix or a.split)
    print(f"{index['total']} samples in {len(index['shards'])} shards, {len(classes)} classes -> "
          f"{Path(a.output_dir) / INDEX}")
    return 0
