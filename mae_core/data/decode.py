"""Image decoding for training: a JPEG decoded at the smallest DCT scale that still covers the crop, and the
checks that say when no image of a data set can be read.

``FastRandomResizedCrop`` is the pretraining augmentation (RandomResizedCrop + horizontal flip + to tensor +
normalise) applied to encoded bytes: it reads only the header, draws the crop and the flip from torch's RNG exactly
as torchvision's ``RandomResizedCrop`` and ``RandomHorizontalFlip`` do (same calls, same order, so a seeded sample
gets the same crop box and flip), asks libjpeg for a reduced-size decode (``Image.draft``: 1/2, 1/4 or 1/8) that
still has at least ``size`` pixels across the crop, then crops and resizes in one ``Image.resize(box=...)``.
"""
from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import transforms as T

logger = logging.getLogger(__name__)
READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def to_normalised_tensor(img: Image.Image, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """PIL image (H, W, C uint8) -> float tensor [C, H, W], (x / 255 - mean) / std, with one float copy."""
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    src = torch.from_numpy(arr).permute(2, 0, 1)
    out = torch.empty(src.shape, dtype=torch.float32)
    out.copy_(src)
    scale = torch.tensor([1.0 / (255.0 * s) for s in std]).view(-1, 1, 1)
    shift = torch.tensor([m / s for m, s in zip(mean, std)]).view(-1, 1, 1)
    return out.mul_(scale).sub_(shift)


class FastRandomResizedCrop:
    """Encoded image bytes -> normalised tensor [C, size, size]: RandomResizedCrop(size, scale, ratio, bicubic) +
    horizontal flip, decoding a JPEG at reduced size when the crop allows. Picklable (for loader workers)."""

    def __init__(self, size: int, scale: tuple[float, float] = (0.2, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3),
                 mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225),
                 mode: str = "RGB", flip: bool = True, draft: bool = True) -> None:
        self.size, self.scale, self.ratio, self.mode = size, tuple(scale), tuple(ratio), mode
        self.mean, self.std, self.flip, self.draft = tuple(mean), tuple(std), flip, draft

    def __call__(self, data: bytes) -> torch.Tensor:
        im = Image.open(io.BytesIO(data))
        # the same RNG calls as torchvision's RandomResizedCrop.get_params and RandomHorizontalFlip
        top, left, h, w = T.RandomResizedCrop.get_params(im, list(self.scale), list(self.ratio))
        flip = self.flip and bool(torch.rand(1) < 0.5)
        full_w, full_h = im.size
        r = max(self.size / w, self.size / h)
        if self.draft and im.format == "JPEG" and r < 0.5:
            im.draft(self.mode, (math.ceil(full_w * r), math.ceil(full_h * r)))
        sx, sy = im.size[0] / full_w, im.size[1] / full_h
        box = (left * sx, top * sy, (left + w) * sx, (top + h) * sy)
        if im.mode not in ("RGB", "L"):
            im = im.convert("RGB")
        out = im.resize((self.size, self.size), Image.BICUBIC, box=box)
        if out.mode != self.mode:
            out = out.convert(self.mode)
        if flip:
            out = out.transpose(Image.FLIP_LEFT_RIGHT)
        return to_normalised_tensor(out, self.mean, self.std)


class DecodeThen:
    """Encoded image bytes -> PIL image in `mode` -> `transform` (any of the PIL transforms). Picklable."""

    def __init__(self, transform: Callable, mode: str = "RGB") -> None:
        self.transform, self.mode = transform, mode

    def __call__(self, data: bytes):
        with Image.open(io.BytesIO(data)) as im:
            return self.transform(im.convert(self.mode))


def build_bytes_transform(img_size: int, augmentation: str, mean: Sequence[float], std: Sequence[float],
                          crop_min_scale: float, mode: str, fast: bool = True) -> Callable[[bytes], torch.Tensor]:
    """The pretraining transform on encoded bytes -> tensor [C, img_size, img_size]: the fast JPEG path for plain
    random_resized_crop (same crop and flip draws as torchvision's), torchvision's transforms otherwise."""
    if fast and augmentation == "random_resized_crop":
        return FastRandomResizedCrop(img_size, (crop_min_scale, 1.0), mean=mean, std=std, mode=mode)
    from mae_core.data.transforms import build_pretrain_transform
    return DecodeThen(build_pretrain_transform(img_size, augmentation, mean, std, crop_min_scale, mode), mode)


def first_readable(files: Sequence[str | Path], limit: int = 1000, where: str = "the data set") -> int:
    """Index of the first file of `files` that decodes; a DataError when none of the first `limit` does, saying
    that every image (or the first `limit`) of `where` is unreadable and naming one with its error."""
    from mae_core.data.datasets import DataError
    first_error = None
    for i, f in enumerate(files[:limit]):
        try:
            with Image.open(f) as im:
                im.load()
            return i
        except READ_ERRORS as e:
            first_error = first_error or f"{f}: {e}"
    if not files:
        raise DataError(f"{where}: no image files to read")
    what = f"every one of its {len(files)} images is" if len(files) <= limit else f"its first {limit} images are"
    raise DataError(f"{where}: {what} unreadable (e.g. {first_error})")
