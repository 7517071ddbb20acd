"""What the starting weights know before any transfer: a linear probe of frozen patch features on the scenes' labels.

Each patch of the ADE-style scenes (``images/{training,validation}/*.jpg`` + ``annotations/.../*.png``, 0 =
background) takes the label its pixels mostly hold when items cover at least a quarter of it; background patches are
left out, as the segmentation recipe ignores label 0. The encoder is frozen; the outputs of its blocks (no final norm,
as the dense adapters take them) go to the project's cached-feature linear probe (standardised, L-BFGS, weight decay
chosen on held-out train patches), fitted on the train scenes' patches and scored on the val scenes' patches. A
random ViT's features are the baseline (the scratch arm): an MAE whose features are no better has not yet learnt what
segmentation needs. Beside the probe, the
share of the features' variance that the patch's position alone explains (``pos_share``): a start whose features
mostly say where a patch is, not what it shows, has little for a segmenter to build on.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mae_core.checkpoint.pretrained import load_encoder
from mae_core.engine.pretrain_config import IMAGENET_MEAN, IMAGENET_STD
from transfer.classification.probe import ProbeOptions, linear_probe


def read_scenes(root: str | Path, split: str) -> tuple[torch.Tensor, np.ndarray]:
    """ADE-style `root`, split 'training' | 'validation' -> (images [N, 3, H, W] normalised, label maps [N, H, W])."""
    images = sorted((Path(root) / "images" / split).glob("*.jpg"))
    if not images:
        raise FileNotFoundError(f"{Path(root) / 'images' / split}: no .jpg scenes")
    xs, ys = [], []
    for f in images:
        label = Path(root) / "annotations" / split / f"{f.stem}.png"
        if not label.is_file():
            raise FileNotFoundError(f"{label}: the label map of {f} is missing")
        xs.append(np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255)
        ys.append(np.asarray(Image.open(label)))
    x = (np.stack(xs) - np.asarray(IMAGENET_MEAN, np.float32)) / np.asarray(IMAGENET_STD, np.float32)
    return torch.from_numpy(x.transpose(0, 3, 1, 2).copy()), np.stack(ys)


def patch_labels(label_maps: np.ndarray, patch: int, num_classes: int, min_cover: float = 0.25) -> np.ndarray:
    """[N, H, W] label maps (0 = background, 1..K items) -> [N * h * w] class index 0..K-1 of each patch, -1 where
    items cover less than `min_cover` of it."""
    n, h, w = label_maps.shape
    g = label_maps[:, : h // patch * patch, : w // patch * patch].reshape(n, h // patch, patch, w // patch, patch)
    g = g.transpose(0, 1, 3, 2, 4).reshape(-1, patch * patch)
    counts = np.stack([(g == c).sum(1) for c in range(1, num_classes + 1)], 1)
    out = counts.argmax(1)
    out[counts.max(1) < min_cover * patch * patch] = -1
    return out


@torch.no_grad()
def patch_features(encoder, images: torch.Tensor, blocks: list[int], batch: int = 50) -> dict[int, torch.Tensor]:
    """Frozen block outputs: images [N, 3, H, W] -> {block: [N * h * w, D]} (patch tokens, row-major)."""
    encoder.eval()
    outs: dict[int, list[torch.Tensor]] = {b: [] for b in blocks}
    for i in range(0, len(images), batch):
        for b, y in zip(blocks, encoder.forward_intermediates(images[i:i + batch], blocks, output_fmt="NLC")):
            outs[b].append(y.reshape(-1, y.shape[-1]))
    return {b: torch.cat(v) for b, v in outs.items()}


def probe_top1(train_x: torch.Tensor, train_y: torch.Tensor, val_x: torch.Tensor, val_y: torch.Tensor,
               num_classes: int, seed: int = 0) -> float:
    """Top-1 (%) on val of the project's cached-feature linear probe (transfer.classification.probe: standardised
    features, L-BFGS, weight decay chosen on a held-out part of the train features)."""
    metrics = linear_probe(train_x, train_y, val_x, val_y, ProbeOptions(solver="lbfgs", seed=seed), num_classes)[0]
    return round(metrics["top1"], 2)


def position_share(features: torch.Tensor) -> float:
    """features [N, L, D] (N images, L patches each) -> % of their variance explained by the patch position alone
    (the per-position mean over the images): 100 when every image gives the same features, about 0 when position
    says nothing."""
    f = features.double()
    centred = f - f.mean((0, 1), keepdim=True)
    total = centred.pow(2).sum()
    if total == 0:
        raise ValueError("position_share: the features do not vary at all")
    return round(float(100 * centred.mean(0).pow(2).sum() * f.shape[0] / total), 2)


def probe_checkpoint(checkpoint: str, ade_root: str | Path, num_classes: int, img_size: int, seed: int = 0,
                     blocks: tuple[int, ...] | None = None) -> dict:
    """Frozen patch probe of `checkpoint`'s encoder (resampled to `img_size`) on the scenes of `ade_root`.
    -> {"patch_acc": the last block's top-1, "pos_share": the last block's position share of the val patches'
    features, "per_block": {"patch_acc" | "pos_share": {block: %}}, "patches": {"train", "val"}, "wall_s"}."""
    t0 = time.time()
    encoder, _ = load_encoder(checkpoint, img_size=img_size)
    depth = len(encoder.blocks)
    blocks = sorted({b % depth for b in (blocks or (depth // 3, 2 * depth // 3, depth - 1))})
    patch = encoder.patch_embed.patch_size[0]
    (xt, yt), (xv, yv) = read_scenes(ade_root, "training"), read_scenes(ade_root, "validation")
    lt, lv = patch_labels(yt, patch, num_classes), patch_labels(yv, patch, num_classes)
    kt, kv = lt >= 0, lv >= 0
    if not kt.any() or not kv.any():
        raise ValueError(f"{ade_root}: no patch of the train or val scenes is covered by items")
    ft, fv = patch_features(encoder, xt, blocks), patch_features(encoder, xv, blocks)
    yt_, yv_ = torch.from_numpy(lt[kt]), torch.from_numpy(lv[kv])
    per_block = {"patch_acc": {b: probe_top1(ft[b][torch.from_numpy(kt)], yt_, fv[b][torch.from_numpy(kv)], yv_,
                                             num_classes, seed) for b in blocks},
                 "pos_share": {b: position_share(fv[b].reshape(len(xv), -1, fv[b].shape[-1])) for b in blocks}}
    return {**{m: v[blocks[-1]] for m, v in per_block.items()}, "per_block": per_block,
            "patches": {"train": int(kt.sum()), "val": int(kv.sum())}, "wall_s": round(time.time() - t0, 1)}
