"""Data sets for pretraining: folders of images (recursive, class sub-folders optional) and Fashion-MNIST IDX files.

Samples are (image tensor [C, H, W], label int; -1 where a folder has no classes). A file that cannot be decoded
is skipped with a warning naming it (or is fatal with ``strict=True``).
"""
from __future__ import annotations

import gzip
import logging
import os
import struct
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import Dataset

from mae_core.errors import DataError  # (raised here; importable from here as before)

logger = logging.getLogger(__name__)

IMG_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".gif")
FASHION_MNIST_DIRS = ("/usr/share/datasets/fashion-mnist",)
FASHION_MNIST_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag",
                         "ankle boot")


# ------------------------------------------------------------------------------------------------ Fashion-MNIST
def _open_idx(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Reads an IDX file (optionally gzipped) -> uint8 array ([N, H, W] images or [N] labels)."""
    path = Path(path)
    with _open_idx(path) as f:
        head = f.read(4)
        if len(head) != 4 or head[0] != 0 or head[1] != 0 or head[2] != 0x08:
            raise DataError(f"{path}: not an IDX file of unsigned bytes (magic {head.hex()})")
        ndim = head[3]
        dims = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if data.size != int(np.prod(dims)):
        raise DataError(f"{path}: truncated IDX file ({data.size} bytes for shape {dims})")
    return data.reshape(dims)


def find_fashion_mnist(root: str | os.PathLike | None = None) -> Path:
    """The folder holding Fashion-MNIST's IDX files: `root`, $MAE_FASHION_MNIST, or the Debian package's."""
    candidates = [root] if root else [os.environ.get("MAE_FASHION_MNIST"), *FASHION_MNIST_DIRS]
    for c in candidates:
        if c and is_fashion_mnist_dir(c):
            return Path(c)
    raise DataError(f"Fashion-MNIST IDX files not found in {[c for c in candidates if c]}; install the Debian "
                    "package dataset-fashion-mnist (make setup does) or set MAE_FASHION_MNIST")


def is_fashion_mnist_dir(path: str | os.PathLike) -> bool:
    p = Path(path)
    return p.is_dir() and any((p / f"train-images-idx3-ubyte{s}").exists() for s in ("", ".gz"))


def read_fashion_mnist(split: str = "train", root: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """-> (images uint8 [N, 28, 28], labels uint8 [N]) of 'train' (60,000) or 'test' (10,000)."""
    if split not in ("train", "test"):
        raise DataError(f"Fashion-MNIST split must be 'train' or 'test', got {split!r}")
    d = find_fashion_mnist(root)
    stem = "train" if split == "train" else "t10k"

    def pick(name: str) -> Path:
        for s in (".gz", ""):
            if (d / f"{name}{s}").exists():
                return d / f"{name}{s}"
        raise DataError(f"{d}: missing {name}(.gz)")
    images = read_idx(pick(f"{stem}-images-idx3-ubyte"))
    labels = read_idx(pick(f"{stem}-labels-idx1-ubyte"))
    if len(images) != len(labels):
        raise DataError(f"{d}: {len(images)} images but {len(labels)} labels in the {split} split")
    return images, labels


class ArrayImageDataset(Dataset):
    """In-memory uint8 images [N, H, W] (or [N, H, W, C]) with labels, through a PIL transform; `mode` ('RGB',
    'L') converts each image first (None keeps it). With a ``batch_transform`` (a TensorCropFlip) the seeded
    pretraining loader augments whole batches on tensors instead (:meth:`batch`, see SeededDataset)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, transform=None, mode: str | None = None,
                 batch_transform=None, classes: list[str] | None = None) -> None:
        self.images, self.labels, self.transform, self.mode = images, labels, transform, mode
        self.batch_transform = batch_transform
        if classes is None and int(labels.max(initial=0)) < 10:
            classes = list(FASHION_MNIST_CLASSES)
        self.classes = classes

    def batch(self, indices: list[int], params: list) -> tuple[torch.Tensor, list[int]]:
        """Images `indices` through ``batch_transform`` with one draw each -> ([B, C, S, S], labels)."""
        x = torch.from_numpy(np.ascontiguousarray(self.images[indices]))
        x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        return self.batch_transform.apply(x, params), [int(self.labels[i]) for i in indices]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        img = Image.fromarray(self.images[i])
        if self.mode and img.mode != self.mode:
            img = img.convert(self.mode)
        return (self.transform(img) if self.transform else img), int(self.labels[i])


# ------------------------------------------------------------------------------------------------ image folders
def scan_images(root: str | os.PathLike) -> tuple[list[Path], list[int], list[str]]:
    """All image files below `root` (sorted). Labels from first-level sub-folders when every image is in one."""
    root = Path(root)
    if not root.exists():
        raise DataError(f"data path does not exist: {root}")
    if not root.is_dir():
        raise DataError(f"data path is not a folder: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMG_EXTENSIONS and p.is_file())
    if not files:
        raise DataError(f"no image files ({', '.join(IMG_EXTENSIONS)}) found below {root}")
    top = [p.relative_to(root).parts for p in files]
    if all(len(t) >= 2 for t in top):
        classes = sorted({t[0] for t in top})
        index = {c: i for i, c in enumerate(classes)}
        return files, [index[t[0]] for t in top], classes
    return files, [-1] * len(files), []


class ImageFolderDataset(Dataset):
    """Images below a folder, recursively; class sub-folders give labels (ImageNet's ``train/n0144.../*.JPEG``)."""

    def __init__(self, root: str | os.PathLike, transform=None, strict: bool = False, mode: str = "RGB") -> None:
        self.root = Path(root)
        self.files, self.labels, self.classes = scan_images(root)
        self.transform, self.strict, self.mode = transform, strict, mode
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return len(self.files)

    def load(self, i: int) -> Image.Image:
        with Image.open(self.files[i]) as im:
            return im.convert(self.mode)

    def try_load(self, i: int) -> Image.Image | None:
        """Image `i`, or None where it cannot be decoded (skipped with a warning; fatal with ``strict``)."""
        try:
            return self.load(i)
        except (OSError, ValueError, Image.DecompressionBombError) as e:
            if self.strict:
                raise DataError(f"cannot read image {self.files[i]}: {e} (data.strict=true)") from e
            self.skipped.append(str(self.files[i]))
            logger.warning("skipping unreadable image %s (%s); %d skipped so far in this process",
                           self.files[i], e, len(self.skipped))
            return None

    def __getitem__(self, i: int):
        for attempt in range(min(len(self.files), 50)):
            j = (i + attempt) % len(self.files)
            img = self.try_load(j)
            if img is not None:
                return (self.transform(img) if self.transform else img), self.labels[j]
        raise DataError(f"{self.root}: 50 unreadable images in a row near {self.files[i]}")

    def to_array(self, max_bytes: int) -> tuple[np.ndarray, np.ndarray] | str:
        """Every image decoded once, in ``mode``, into one preallocated array -> (uint8 [N, H, W] ('L') or
        [N, H, W, C], labels [N]) for ArrayImageDataset; or, where they cannot be held as one array, why not (images
        of two sizes, more than `max_bytes`). Unreadable files are skipped as :meth:`__getitem__` skips them."""
        out, labels, first, n = None, [], None, 0
        for i, path in enumerate(self.files):
            img = self.try_load(i)
            if img is None:
                continue
            arr = np.asarray(img)
            if out is None:
                first = path
                if arr.nbytes * len(self.files) > max_bytes:
                    return f"{len(self.files)} images of {arr.shape} need more than {max_bytes / 2**30:.1f} GiB"
                out = np.empty((len(self.files), *arr.shape), dtype=np.uint8)
            elif arr.shape != out.shape[1:]:
                return f"{path} is {arr.shape[1]}x{arr.shape[0]}, {first} {out.shape[2]}x{out.shape[1]}"
            out[n] = arr
            labels.append(self.labels[i])
            n += 1
        if out is None:
            raise DataError(f"no readable image below {self.root}")
        return out[:n], np.asarray(labels, dtype=np.int64)


class SeededDataset(Dataset):
    """Seeds torch's RNG from (seed, epoch, index) for each sample, so its random augmentation - and, with
    ``noise_len``, its masking noise [noise_len] - do not depend on the number of loader workers or processes, or on
    where a resumed run starts. Returns (image, label) or (image, label, noise)."""

    def __init__(self, dataset: Dataset, seed: int, noise_len: int = 0) -> None:
        self.dataset, self.seed, self.epoch, self.noise_len = dataset, seed, 0, noise_len

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.dataset)

    def _seed(self, i: int) -> None:
        # the CPU generator only: torch.manual_seed would also queue a seed for every lazy device (CUDA, XPU,
        # MTIA), each with a formatted stack trace, about a millisecond per sample
        torch.default_generator.manual_seed((self.seed * 1_000_003 + self.epoch * 10_007 + i) % (2**62))

    def __getitem__(self, i: int):
        if getattr(self.dataset, "batch_transform", None) is not None:
            return self.__getitems__([i])[0]
        with torch.random.fork_rng(devices=[]):
            self._seed(i)
            img, label = self.dataset[i]
            if not self.noise_len:
                return img, label
            return img, label, torch.rand(self.noise_len)

    def __getitems__(self, indices: list[int]) -> list[tuple]:
        """A batch's samples (the DataLoader's batched fetch). With the dataset's ``batch_transform`` each sample's
        crop, flip and noise are drawn from its own seed, as in :meth:`__getitem__`, and the crops run as one batch."""
        bt = getattr(self.dataset, "batch_transform", None)
        if bt is None:
            return [self[i] for i in indices]
        params, noise = [], []
        height, width = self.dataset.images.shape[1:3]
        for i in indices:
            with torch.random.fork_rng(devices=[]):
                self._seed(i)
                params.append(bt.draw(height, width))
                noise.append(torch.rand(self.noise_len) if self.noise_len else None)
        imgs, labels = self.dataset.batch(list(indices), params)
        return [(img, label) if n is None else (img, label, n) for img, label, n in zip(imgs, labels, noise)]
