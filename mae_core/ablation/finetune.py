"""A short end-to-end fine-tune of a pretrained encoder with a linear head on Fashion-MNIST, the ``ft`` column of
the small-scale ablation tables. A stand-in until the classification transfer's fine-tuning is used here: same
ingredients as the paper's recipe at a tiny budget (AdamW, layer-wise lr decay, warmup + cosine per step, label
smoothing, random-resized-crop + flip, global average pooling), no mixup/cutmix/RandAug.
"""
from __future__ import annotations

import logging
import math

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, RandomSampler

from ..data import ArrayImageDataset, read_fashion_mnist
from ..lr_decay import param_groups_lrd
from ..pretrained import load_encoder
from ..transforms import build_eval_transform, build_pretrain_transform

logger = logging.getLogger(__name__)


@torch.no_grad()
def accuracy(model: torch.nn.Module, loader: DataLoader, device: torch.device | str = "cpu") -> float:
    """Top-1 (%) of a classifier over a loader of (images [B, C, H, W], labels [B])."""
    model.eval()
    correct = total = 0
    for x, y in loader:
        correct += int((model(x.to(device)).argmax(1).cpu() == torch.as_tensor(y)).sum())
        total += len(y)
    return 100.0 * correct / max(total, 1)


def short_finetune_fashion(checkpoint: str, img_size: int, mean, std, mode: str = "RGB", steps: int = 150,
                           batch_size: int = 64, base_lr: float = 2e-3, layer_decay: float = 0.75,
                           weight_decay: float = 0.05, warmup_frac: float = 0.1, label_smoothing: float = 0.1,
                           crop_min_scale: float = 0.35, test_limit: int = 2000, seed: int = 0,
                           device: str = "cpu", num_workers: int = 0) -> dict:
    """Fine-tunes the checkpoint's encoder for `steps` steps on the Fashion-MNIST train split, evaluates top-1 on
    the first `test_limit` test images -> {"top1", "steps", "batch_size", "lr"}; lr = base_lr * batch / 256."""
    torch.manual_seed(seed)
    model, _ = load_encoder(checkpoint, num_classes=10, global_pool="avg")
    model.to(device).train()
    xtr, ytr = read_fashion_mnist("train")
    xte, yte = read_fashion_mnist("test")
    if test_limit:
        xte, yte = xte[:test_limit], yte[:test_limit]
    train_tf = build_pretrain_transform(img_size, "random_resized_crop", mean, std, crop_min_scale, mode)
    train = ArrayImageDataset(xtr, ytr, train_tf)
    sampler = RandomSampler(train, replacement=True, num_samples=steps * batch_size,
                            generator=torch.Generator().manual_seed(seed))
    loader = DataLoader(train, batch_size=batch_size, sampler=sampler, num_workers=num_workers, drop_last=True)
    test = DataLoader(ArrayImageDataset(xte, yte, build_eval_transform(img_size, mean, std, mode)), batch_size=500)
    lr = base_lr * batch_size / 256
    groups = param_groups_lrd(model, weight_decay, layer_decay, skip_names=("pos_embed", "cls_token"))
    opt = torch.optim.AdamW(groups, lr=lr)
    warmup = max(1, int(warmup_frac * steps))
    for step, (x, y) in enumerate(loader):
        cur = lr * (step + 1) / warmup if step < warmup else \
            lr * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(steps - warmup, 1)))
        for g in opt.param_groups:
            g["lr"] = cur * g["lr_scale"]
        loss = F.cross_entropy(model(x.to(device)), torch.as_tensor(y).to(device), label_smoothing=label_smoothing)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % 50 == 0:
            logger.info("fine-tune step %d/%d loss %.4f", step + 1, steps, loss.item())
    top1 = accuracy(model, test, device)
    return {"top1": round(top1, 2), "steps": steps, "batch_size": batch_size, "lr": lr, "test_images": len(xte)}
