"""One training epoch and one evaluation pass, shared by fine-tuning, partial fine-tuning and the linear probe.

# Adapted from: the train-one-epoch loop of the reference MAE fine-tuning (per-step lr, accumulation, mixup).
"""
from __future__ import annotations

import contextlib
import logging
import time

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from mae_core.engine.schedule import WarmupCosine

from .distributed import all_reduce_sum
from .metrics import confusion_matrix, summarize, topk_correct

logger = logging.getLogger(__name__)


Schedule = WarmupCosine  # the project's one schedule (mae_core.engine.schedule)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)


def train_one_epoch(model: nn.Module, loader, optimizer: torch.optim.Optimizer, criterion: nn.Module,
                    schedule: Schedule, epoch: int, device: torch.device, accum_iter: int = 1, mixup=None,
                    ema=None, clip_grad: float = 0.0, bf16: bool = False, log_every: int = 20) -> dict:
    """Trains one epoch -> {"loss": mean loss, "lr": last lr, "steps": optimizer steps, "seconds": wall time}."""
    model.train()
    optimizer.zero_grad(set_to_none=True)
    n, start, total, lr = len(loader), time.time(), 0.0, 0.0
    steps = 0
    for it, (x, y) in enumerate(loader):
        if it % accum_iter == 0:
            lr = schedule(epoch + it / n)
            set_lr(optimizer, lr)
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if mixup is not None:
            x, y = mixup(x, y)
        step_now = (it + 1) % accum_iter == 0 or it + 1 == n
        no_sync = isinstance(model, DistributedDataParallel) and not step_now
        with model.no_sync() if no_sync else contextlib.nullcontext():
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
                loss = criterion(model(x), y)
            if not torch.isfinite(loss):
                raise FloatingPointError(f"loss is {loss.item()} at epoch {epoch} iteration {it}; stopping")
            (loss / accum_iter).backward()
        if step_now:
            if clip_grad > 0:
                torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"]], clip_grad)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            steps += 1
            if ema is not None:
                ema.update(model.module if isinstance(model, DistributedDataParallel) else model)
        total += loss.item()
        if log_every and (it % log_every == 0 or it + 1 == n):
            logger.info("epoch %d [%d/%d] loss %.4f lr %.3e (%.1fs)", epoch, it + 1, n, loss.item(), lr,
                        time.time() - start)
    return {"loss": total / max(n, 1), "lr": lr, "steps": steps, "seconds": time.time() - start}


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, num_classes: int,
             bf16: bool = False) -> tuple[dict, torch.Tensor]:
    """-> (metrics {"top1", "top5", "loss", "per_class", ...}, confusion [C, C]), summed over all processes."""
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
    counts = torch.zeros(2, dtype=torch.float64, device=device)   # [top-5 hits, loss sum]
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"evaluation label {int(y.max())} outside 0..{num_classes - 1}")
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            logits = model(x).float()
        cm += confusion_matrix(logits.argmax(1), y, num_classes)
        counts[0] += topk_correct(logits, y, (5,))[0]
        counts[1] += F.cross_entropy(logits, y, reduction="sum").item()
    all_reduce_sum(cm)
    all_reduce_sum(counts)
    return summarize(cm.cpu(), int(counts[0].item()), counts[1].item()), cm.cpu()
