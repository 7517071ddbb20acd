"""Data pipeline speed per core: decode + RandomResizedCrop + flip + to tensor + normalise, ours vs torchvision.

Ours: the encoded bytes through ``mae_core.data.decode.FastRandomResizedCrop`` (crop box drawn from the header; a
JPEG decoded at the smallest DCT scale that still covers the crop where the crop allows it, otherwise decoded straight
into a uint8 tensor; only the crop resized, on uint8, channels-last; flipped on uint8; one float pass).
Baseline: torchvision's ``ImageFolder`` with ``RandomResizedCrop(size, bicubic)``, ``RandomHorizontalFlip``,
``ToTensor`` and ``Normalize`` (full decode, then crop, then resize). Both run in this process on one thread (so the
figure is per core), on the same JPEGs, in alternating rounds; the best round of each is kept.

The JPEGs are ImageNet-like in size (500 x 375 by default) and made of real images: mosaics of Fashion-MNIST items
(upscaled, three items per colour image), written at quality 90.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import datasets
from torchvision import transforms as T

from mae_core.data.datasets import read_fashion_mnist
from mae_core.data.decode import FastRandomResizedCrop


@dataclass
class DataBenchSpec:
    images: int = 200
    rounds: int = 3
    size: int = 224
    width: int = 500
    height: int = 375
    target_ips: float = 3200.0      # images per second a GPU consumes (ViT-L/16 at 40% MFU on an H100: 3,200)
    workdir: str = ""               # where the JPEGs are written (default: a temporary folder)
    threads: int = 1
    crop_min_scale: float = 0.08    # torchvision's default; the MAE recipe uses 0.2


def make_jpegs(root: Path, n: int, width: int, height: int, seed: int = 0) -> list[Path]:
    """n JPEGs of width x height in two class folders, each a mosaic of real Fashion-MNIST items."""
    images, _ = read_fashion_mnist("train")
    rng = np.random.default_rng(seed)
    files = []
    for k in range(n):
        d = root / f"class_{k % 2}"
        d.mkdir(parents=True, exist_ok=True)
        canvas = Image.new("RGB", (width, height))
        tile = int(rng.integers(56, 140))
        for y in range(0, height, tile):
            for x in range(0, width, tile):
                ids = rng.integers(0, len(images), 3)
                chans = [Image.fromarray(images[i]).resize((tile, tile), Image.BICUBIC) for i in ids]
                canvas.paste(Image.merge("RGB", chans), (x, y))
        path = d / f"{k:05d}.jpg"
        canvas.save(path, format="JPEG", quality=90)
        files.append(path)
    return files


def _time(fn, n: int) -> float:
    t0 = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t0)


def run_data_bench(spec: DataBenchSpec) -> dict:
    """-> ours_ips, baseline_ips (images/s on one core), ratio, cores each needs for target_ips, the spec."""
    import tempfile
    torch.set_num_threads(spec.threads)
    tmp = None
    root = Path(spec.workdir) if spec.workdir else Path(tmp := tempfile.mkdtemp(prefix="databench-"))
    files = make_jpegs(root / "jpegs", spec.images, spec.width, spec.height)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    baseline = datasets.ImageFolder(str(root / "jpegs"), transform=T.Compose([
        T.RandomResizedCrop(spec.size, (spec.crop_min_scale, 1.0), interpolation=T.InterpolationMode.BICUBIC),
        T.RandomHorizontalFlip(),
        T.ToTensor(), T.Normalize(mean, std)]))
    fast = FastRandomResizedCrop(spec.size, (spec.crop_min_scale, 1.0), mean=mean, std=std)
    ours = lambda i: fast(files[i].read_bytes())
    base = lambda i: baseline[i]
    best = {"ours": 0.0, "baseline": 0.0}
    ours(0), base(0)                                      # warm-up (imports, caches)
    for _ in range(spec.rounds):
        best["ours"] = max(best["ours"], _time(ours, len(files)))
        best["baseline"] = max(best["baseline"], _time(base, len(files)))
    if tmp:
        import shutil
        shutil.rmtree(tmp, ignore_errors=True)
    return {**asdict(spec), "ours_ips": round(best["ours"], 1),
            "baseline_ips": round(best["baseline"], 1), "ratio": round(best["ours"] / best["baseline"], 3),
            "cores_needed_ours": math.ceil(spec.target_ips / best["ours"]),
            "cores_needed_baseline": math.ceil(spec.target_ips / best["baseline"])}
