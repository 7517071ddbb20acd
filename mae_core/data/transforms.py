"""Pretraining transforms (torchvision): the paper's four augmentation settings, Table 1(e)."""
from __future__ import annotations

from torchvision import transforms as T
from torchvision.transforms import InterpolationMode


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
