"""The training loop and the evaluation pass shared by fine-tuning, partial fine-tuning and the linear probe.

# Adapted from: the train-one-epoch loop of the reference MAE fine-tuning (per-step lr, accumulation, mixup).
"""
from __future__ import annotations

import contextlib
import logging
import math
import random
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mae_core.data.datasets import DataError
from mae_core.engine.distributed import DistInfo, agree
from mae_core.engine.run_state import NonFinitePolicy, PreemptionGuard, autocast
from mae_core.engine.schedule import WarmupCosine

from .common import EpochData, ShardEpochData
from .config import RunConfig
from .distributed import all_reduce_sum
from .metrics import add_to_confusion, summarize, topk_correct

logger = logging.getLogger(__name__)


Schedule = WarmupCosine  # the project's one schedule (mae_core.engine.schedule)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for g in optimizer.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)


def reseed(seed: int) -> None:
    """Deterministic epoch start: mixup (numpy, python) and drop path (torch) draw from these."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


class StepLoop:
    """The classification training loop on the project's run state (the pretraining engine's rules): optimizer steps
    counted across epochs, a run checkpoint (step, RNG states, manifest) at each epoch end and every
    ``train.save_every_steps``, a mid-epoch resume, the one precision switch, the one non-finite-loss policy
    (skip, count, stop after ``train.nonfinite_patience`` in a row) and preemption (SIGTERM / SIGUSR1: checkpoint
    at the next step boundary, exit code 75).

    ``save(step, rotate)`` writes the run checkpoint (``rotate``: keep the current one as checkpoint-prev.pth) and
    returns its path (None on ranks > 0).
    """

    def __init__(self, model: nn.Module, ddp: nn.Module, optimizer: torch.optim.Optimizer, criterion: nn.Module,
                 schedule: Schedule, data: EpochData | ShardEpochData, run: RunConfig, precision: str, info: DistInfo, save,
                 accum_iter: int = 1, mixup=None, ema=None, clip_grad: float = 0.0, seed: int = 0) -> None:
        self.model, self.ddp, self.optimizer, self.criterion = model, ddp, optimizer, criterion
        self.schedule, self.data, self.run, self.info, self.save_fn = schedule, data, run, info, save
        self.accum, self.mixup, self.ema, self.clip, self.seed = accum_iter, mixup, ema, clip_grad, seed
        self.amp = autocast(info.device, precision)
        self.steps_per_epoch = data.batches_per_epoch() // accum_iter
        if self.steps_per_epoch < 1:
            raise DataError(f"{data.batches_per_epoch()} batches per epoch give no full step of accum_iter "
                            f"{accum_iter}")
        self.step, self.policy, self.last_good = 0, NonFinitePolicy(run.nonfinite_patience), None
        self.guard: PreemptionGuard | None = None
        self.saved_step, self.rotate = -1, True    # rotate: keep the current last checkpoint as checkpoint-prev

    def save(self) -> str | None:
        """Writes the run checkpoint once per step (an epoch end that is also a save_every_steps step writes one)."""
        if self.saved_step == self.step:
            return self.last_good
        path = self.save_fn(self.step, self.rotate)
        self.rotate = True
        if path is not None:
            self.last_good, self.saved_step = path, self.step
        return path

    def train_epoch(self, log) -> dict:
        """Trains from the current step to the end of its epoch -> {"loss", "lr", "steps", "seconds", "skipped"}."""
        epoch, done = divmod(self.step, self.steps_per_epoch)
        if done == 0:
            reseed(self.seed + epoch)      # a mid-epoch resume continues from the checkpoint's RNG states instead
        self.ddp.train()
        start, total, n, lr, micro_losses = time.time(), 0.0, 0, 0.0, []
        self.optimizer.zero_grad(set_to_none=True)
        for it, (x, y) in enumerate(self.data.loader(epoch, done * self.accum)):
            if it % self.accum == 0:
                lr = self.schedule(self.step / self.steps_per_epoch)
                set_lr(self.optimizer, lr)
            x, y = x.to(self.info.device, non_blocking=True), y.to(self.info.device, non_blocking=True)
            if self.mixup is not None:
                x, y = self.mixup(x, y)
            last_micro = (it + 1) % self.accum == 0
            no_sync = isinstance(self.ddp, DistributedDataParallel) and not last_micro
            with self.ddp.no_sync() if no_sync else contextlib.nullcontext():
                with self.amp:
                    loss = self.criterion(self.ddp(x), y)
                (loss / self.accum).backward()
            micro_losses.append(loss.detach())
            if not last_micro:
                continue
            step_loss = torch.stack(micro_losses).float().mean().item()
            micro_losses = []
            preempted = self.optimizer_step(step_loss)
            if math.isfinite(step_loss):
                total, n = total + step_loss, n + 1
            if self.run.log_every and self.step % self.run.log_every == 0:
                log({"step": self.step, "loss": step_loss, "lr": lr})
                logger.info("epoch %d step %d loss %.4f lr %.3e (%.1fs)", epoch, self.step, step_loss, lr,
                            time.time() - start)
            if preempted:
                self.guard.leave(self.step, self.save())
            if self.run.save_every_steps and self.step % self.run.save_every_steps == 0 and not self.policy.in_row:
                self.save()
            if self.step % self.steps_per_epoch == 0:
                break
        return {"loss": total / max(n, 1), "lr": lr, "steps": self.steps_per_epoch - done,
                "seconds": time.time() - start, "skipped": self.policy.skipped}

    def optimizer_step(self, step_loss: float) -> bool:
        finite, stop = agree(math.isfinite(step_loss), self.guard is not None and self.guard.requested, self.info)
        try:
            if self.policy.check(finite, self.step + 1, self.last_good):
                if self.clip > 0:
                    torch.nn.utils.clip_grad_norm_([p for g in self.optimizer.param_groups for p in g["params"]],
                                                   self.clip)
                self.optimizer.step()
                if self.ema is not None:
                    self.ema.update(self.model)
        finally:
            self.optimizer.zero_grad(set_to_none=True)
        self.step += 1
        return stop


@torch.no_grad()
def evaluate(model: nn.Module, loader, device: torch.device, num_classes: int,
             precision: str = "fp32") -> tuple[dict, torch.Tensor]:
    """-> (metrics {"top1", "top5", "loss", "per_class", ...}, confusion [C, C]), summed over all processes."""
    model.eval()
    cm = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=device)
    counts = torch.zeros(2, dtype=torch.float64, device=device)   # [top-5 hits, loss sum]
    for x, y in loader:
        x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ValueError(f"evaluation label {int(y.max())} outside 0..{num_classes - 1}")
        with autocast(device, precision):
            logits = model(x).float()
        add_to_confusion(cm, logits.argmax(1), y)
        counts[0] += topk_correct(logits, y, (5,))[0]
        counts[1] += F.cross_entropy(logits, y, reduction="sum").item()
    all_reduce_sum(cm)
    all_reduce_sum(counts)
    return summarize(cm.cpu(), int(counts[0].item()), counts[1].item()), cm.cpu()
