"""Pretraining transforms (torchvision): the paper's four augmentation settings, Table 1(e)."""
from __future__ import annotations

import torch
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F2


class ConvertMode:
    """PIL image -> the given mode ('RGB' replicates a grayscale image to 3 channels); picklable for workers."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __call__(self, im):
        return im.convert(self.mode)


def build_pretrain_transform(img_size: int, augmentation: str = "random_resized_crop", mean=(0.485, 0.456, 0.406),
                             std=(0.229, 0.224, 0.225), crop_min_scale: float = 0.2, mode: str = "RGB") -> T.Compose:
    """PIL image -> normalised tensor [C, img_size, img_size].

    none: resize + center crop; fixed_crop: resize to 1/0.875 then random crop of fixed size + flip;
    random_resized_crop: RandomResizedCrop(scale=(crop_min_scale, 1), bicubic) + flip (the default);
    random_resized_crop_color_jitter: the same + ColorJitter(0.4, 0.4, 0.4).
    `mode` ('RGB' replicates grayscale to 3 channels, 'L' keeps one channel).
    """
    bicubic = InterpolationMode.BICUBIC
    steps = [ConvertMode(mode)]
    if augmentation == "none":
        steps += [T.Resize(img_size, interpolation=bicubic), T.CenterCrop(img_size)]
    elif augmentation == "fixed_crop":
        steps += [T.Resize(int(round(img_size / 0.875)), interpolation=bicubic), T.RandomCrop(img_size),
                  T.RandomHorizontalFlip()]
    elif augmentation.startswith("random_resized_crop"):
        steps += [T.RandomResizedCrop(img_size, scale=(crop_min_scale, 1.0), interpolation=bicubic),
                  T.RandomHorizontalFlip()]
        if augmentation.endswith("color_jitter"):
            steps.append(T.ColorJitter(0.4, 0.4, 0.4))
    else:
        raise ValueError(f"unknown augmentation {augmentation!r}")
    steps += [T.ToTensor(), T.Normalize(mean, std)]
    return T.Compose(steps)


def build_eval_transform(img_size: int, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
                         mode: str = "RGB", crop_pct: float = 1.0) -> T.Compose:
    """Augmentation-free: resize (to img_size / crop_pct) + center crop + normalise."""
    return T.Compose([ConvertMode(mode),
                      T.Resize(int(round(img_size / crop_pct)), interpolation=InterpolationMode.BICUBIC),
                      T.CenterCrop(img_size), T.ToTensor(), T.Normalize(mean, std)])


def random_resized_crop_params(height: int, width: int, scale: tuple[float, float],
                               ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> tuple[int, int, int, int]:
    """(top, left, crop height, crop width) of torchvision's RandomResizedCrop for a height x width image, drawn from
    torch's RNG. A scale range starting at 1 asks for the whole image; torchvision's random tries at that area mostly
    fail (all 10 on a square image) before it falls back to the whole image, or to its centre at the nearest aspect
    ratio in ``ratio``. That crop is returned here without drawing anything (torchvision's rare successful try on a
    non-square image is the same crop less a pixel of rounding)."""
    if scale[0] < 1.0:
        return T.RandomResizedCrop.get_params(torch.empty(1, height, width), list(scale), list(ratio))
    h, w = height, width
    if width / height < min(ratio):
        h = int(round(width / min(ratio)))
    elif width / height > max(ratio):
        w = int(round(height * max(ratio)))
    return (height - h) // 2, (width - w) // 2, h, w


class TensorCropFlip:
    """``random_resized_crop`` for in-memory uint8 images, without PIL: torchvision's RandomResizedCrop parameters
    (:meth:`draw`, one image's, from torch's RNG) and its tensor resize (bicubic, antialiased), a horizontal flip,
    then the normalisation, applied to a batch at once (:meth:`apply`). A grey image is cropped once and replicated
    to ``channels``. With ``crop_min_scale`` 1.0 only the flip is drawn (:func:`random_resized_crop_params`) and an
    image already ``img_size`` square is not resized (the resize would return it unchanged). Same augmentation as
    :func:`build_pretrain_transform` but the resize's kernel (torch's bicubic on tensors rather than PIL's), at a
    fraction of the cost (in one measurement on an AVX2 core, about 30 ms for 128 Fashion-MNIST images against 75 ms),
    in the loading process (no worker to compete with the step for 2 cores)."""

    def __init__(self, img_size: int, crop_min_scale: float, mean, std, channels: int) -> None:
        self.size, self.scale, self.channels = img_size, (crop_min_scale, 1.0), channels
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)

    def draw(self, height: int, width: int) -> tuple[int, int, int, int, bool]:
        """-> (top, left, crop height, crop width, flip) for one image of height x width."""
        return *random_resized_crop_params(height, width, self.scale), bool(torch.rand(()) < 0.5)

    def apply(self, images: torch.Tensor, params: list[tuple[int, int, int, int, bool]]) -> torch.Tensor:
        """uint8 [B, C0, H, W] (C0 = 1 or ``channels``) + one draw per image -> normalised float [B, C, S, S]."""
        out = []
        whole = (0, 0, self.size, self.size)
        for img, (i, j, h, w, flip) in zip(images, params):
            if (i, j, h, w) == whole and img.shape[-2:] == (self.size, self.size):
                crop = img
            else:
                crop = F2.resized_crop(img, i, j, h, w, [self.size, self.size],
                                       interpolation=InterpolationMode.BICUBIC, antialias=True)
            out.append(crop.flip(-1) if flip else crop)
        x = torch.stack(out).float().div_(255).expand(-1, self.channels, -1, -1)
        return (x - self.mean) / self.std
