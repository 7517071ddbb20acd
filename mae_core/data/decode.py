"""Image decoding for training: the random resized crop on encoded bytes with as few passes over the pixels as
possible, and the checks that say when no image of a data set can be read.

``FastRandomResizedCrop`` is the pretraining augmentation (RandomResizedCrop + horizontal flip + to tensor +
normalise) applied to encoded bytes. It reads only the header first and draws the crop and the flip from torch's RNG
exactly as torchvision's ``RandomResizedCrop`` and ``RandomHorizontalFlip`` do (same calls, same order, so a seeded
sample gets the same crop box and flip). Then:

- a JPEG whose crop is at least twice the output size is decoded by libjpeg at reduced size (``Image.draft``: 1/2,
  1/4 or 1/8, still at least ``size`` pixels across the crop) and cropped and resized by Pillow in one call;
- any other image is decoded by torchvision straight into a uint8 tensor (no PIL image, no array copy), and only
  the crop is resized: bicubic with antialias on uint8, channels-last (torch's vectorised form of Pillow's filter;
  the pixels agree with Pillow's to about 0.01 of a grey level);

then flipped on uint8 and turned into float once (one float pass for ``(x / 255 - mean) / std``).
Formats torchvision does not decode go through Pillow; damaged bytes raise Pillow's ``OSError`` either way, which the
shard reader counts as a corrupt sample.
"""
from __future__ import annotations

import io
import logging
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .transforms import build_pretrain_transform, random_resized_crop_params

try:  # deprecated since torchvision 0.29 in favour of TorchCodec; where it is gone, Pillow decodes (a bit slower)
    from torchvision.io import ImageReadMode, decode_image
    READ_MODES = {"RGB": ImageReadMode.RGB, "L": ImageReadMode.GRAY}
except ImportError:  # pragma: no cover
    decode_image, READ_MODES = None, {"RGB": None, "L": None}

logger = logging.getLogger(__name__)
READ_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)


def pil_to_uint8(img: Image.Image) -> torch.Tensor:
    """PIL image (H, W[, C]) -> uint8 tensor [C, H, W] (a view of a writable copy of the pixels)."""
    arr = np.array(img)
    return torch.from_numpy(arr[:, :, None] if arr.ndim == 2 else arr).permute(2, 0, 1)


def normalise_uint8(img: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """uint8 [C, H, W] (any memory layout) -> float32 [C, H, W] contiguous, (x / 255 - mean) / std, one float copy."""
    out = img.to(torch.float32, memory_format=torch.contiguous_format)
    scale = torch.tensor([1.0 / (255.0 * s) for s in std]).view(-1, 1, 1)
    shift = torch.tensor([m / s for m, s in zip(mean, std)]).view(-1, 1, 1)
    return out.mul_(scale).sub_(shift)


def resize_crop_uint8(img: torch.Tensor, top: int, left: int, h: int, w: int, size: int) -> torch.Tensor:
    """uint8 [C, H, W] -> the crop (top, left, h, w) resized to [C, size, size], bicubic with antialias."""
    crop = img[:, top:top + h, left:left + w].unsqueeze(0).contiguous(memory_format=torch.channels_last)
    return F.interpolate(crop, size=(size, size), mode="bicubic", antialias=True, align_corners=False)[0]


def _pil_crop(im: Image.Image, mode: str, top: int, left: int, h: int, w: int) -> tuple:
    """Pillow's decode, only the crop turned into a tensor: the arguments of :func:`resize_crop_uint8`."""
    if im.mode != mode:
        im = im.convert(mode)
    return pil_to_uint8(im.crop((left, top, left + w, top + h))), 0, 0, h, w


class FastRandomResizedCrop:
    """Encoded image bytes -> normalised tensor [C, size, size]: RandomResizedCrop(size, scale, ratio, bicubic) +
    horizontal flip, decoding a JPEG at reduced size when the crop allows. Picklable (for loader workers)."""

    def __init__(self, size: int, scale: tuple[float, float] = (0.2, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3),
                 mean: Sequence[float] = (0.485, 0.456, 0.406), std: Sequence[float] = (0.229, 0.224, 0.225),
                 mode: str = "RGB", flip: bool = True, draft: bool = True) -> None:
        if mode not in READ_MODES:
            raise ValueError(f"FastRandomResizedCrop: mode must be one of {sorted(READ_MODES)}, got {mode!r}")
        self.size, self.scale, self.ratio, self.mode = size, tuple(scale), tuple(ratio), mode
        self.mean, self.std, self.flip, self.draft = tuple(mean), tuple(std), flip, draft

    def __call__(self, data: bytes) -> torch.Tensor:
        im = Image.open(io.BytesIO(data))                    # the header only
        # torchvision's RandomResizedCrop draw (without its futile tries at a scale range of (1, 1)), then the flip's
        top, left, h, w = random_resized_crop_params(im.height, im.width, self.scale, self.ratio)
        flip = self.flip and bool(torch.rand(1) < 0.5)
        if self.draft and im.format == "JPEG" and max(self.size / w, self.size / h) < 0.5:
            out = pil_to_uint8(self._draft_resize(im, top, left, h, w))
        else:
            out = resize_crop_uint8(*self._decode_crop(data, im, top, left, h, w), self.size)
        if flip:
            out = out.flip(-1)
        return normalise_uint8(out, self.mean, self.std)

    def _draft_resize(self, im: Image.Image, top: int, left: int, h: int, w: int) -> Image.Image:
        """A JPEG decoded at the smallest DCT scale with >= size pixels across the crop, cropped + resized by PIL."""
        full_w, full_h = im.size
        r = max(self.size / w, self.size / h)
        im.draft(self.mode, (math.ceil(full_w * r), math.ceil(full_h * r)))
        sx, sy = im.size[0] / full_w, im.size[1] / full_h
        if im.mode != self.mode:
            im = im.convert(self.mode)
        return im.resize((self.size, self.size), Image.BICUBIC, box=(left * sx, top * sy, (left + w) * sx,
                                                                     (top + h) * sy))

    def _decode_crop(self, data: bytes, im: Image.Image, top: int, left: int, h: int, w: int) -> tuple:
        """-> (uint8 [C, H', W'], top, left, h, w) holding the crop: torchvision's decoder into a tensor, Pillow's
        where torchvision cannot (other formats, damaged bytes: Pillow decodes or raises OSError)."""
        if decode_image is not None:
            try:
                img = decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), mode=READ_MODES[self.mode])
                if img.dtype == torch.uint8:
                    return img, top, left, h, w
            except RuntimeError:
                pass
        return _pil_crop(im, self.mode, top, left, h, w)


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
    random_resized_crop (torchvision's crop and flip draws; at crop_min_scale 1.0 only the flip is drawn, for the
    same crop), torchvision's transforms otherwise."""
    if fast and augmentation == "random_resized_crop":
        return FastRandomResizedCrop(img_size, (crop_min_scale, 1.0), mean=mean, std=std, mode=mode)
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
