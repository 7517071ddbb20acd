"""Full and partial fine-tuning: layer-wise lr decay, drop path, RandAugment, mixup/cutmix, label smoothing, random
erasing, optional EMA, AdamW with warmup + cosine per step, bf16 autocast, accumulation, torchrun DDP, resume."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from timm.data import Mixup
from timm.loss import LabelSmoothingCrossEntropy, SoftTargetCrossEntropy
from timm.utils import ModelEmaV3
from torch.nn.parallel import DistributedDataParallel

from mae_core.config import to_dict
from mae_core.engine.lr_decay import param_groups_lrd

from .common import (
    build_datasets,
    eval_loader,
    finetune_transform,
    load_run_checkpoint,
    log_json,
    resolve_resume,
    save_run_checkpoint,
    set_epoch,
    train_loader,
)
from .config import ClassificationConfig
from .distributed import init_distributed, is_main
from .engine import Schedule, evaluate, train_one_epoch
from .metrics import save_metrics
from .model import build_classifier, set_trainable_blocks

logger = logging.getLogger(__name__)


def criterion_for(cfg: ClassificationConfig) -> torch.nn.Module:
    f = cfg.finetune
    if f.mixup > 0 or f.cutmix > 0:
        return SoftTargetCrossEntropy()        # mixup builds smoothed soft targets
    return LabelSmoothingCrossEntropy(f.smoothing) if f.smoothing > 0 else torch.nn.CrossEntropyLoss()


def run_finetune(cfg: ClassificationConfig, data_path: str, output_dir: str, pretrained: str | None = None,
                 resume: str | None = None, eval_only: bool = False) -> dict:
    """Fine-tunes (or, with ``eval_only``, evaluates) and writes ``metrics.json`` -> the final metrics."""
    f, out = cfg.finetune, Path(output_dir)
    rank, world, device = init_distributed()
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(f.seed)
    train_ds, val_ds, classes = build_datasets(cfg, data_path, finetune_transform(cfg.data), eval_only)
    num_classes = len(classes)
    resume = resolve_resume(resume, out)
    # with --resume, --pretrained (if any) only fixes the architecture; the weights then come from the run checkpoint
    model = build_classifier(cfg, num_classes, pretrained, keep_head=eval_only and not resume)
    set_trainable_blocks(model, f.trainable_blocks)
    model.to(device)
    val_loader = eval_loader(val_ds, f.batch_size, rank, world, cfg.data.num_workers)
    if eval_only:
        if resume:
            load_run_checkpoint(resume, model)
        metrics, cm = evaluate(model, val_loader, device, num_classes, f.bf16)
        if is_main():
            save_metrics(out, {**metrics, "checkpoint": resume or pretrained}, cm, classes)
        logger.info("eval-only: top1 %.2f top5 %.2f on %d images", metrics["top1"], metrics["top5"], len(val_ds))
        return metrics

    loader = train_loader(train_ds, f.batch_size, rank, world, f.seed, cfg.data.num_workers)
    eff_batch = f.batch_size * f.accum_iter * world
    lr = f.blr * eff_batch / 256
    groups = param_groups_lrd(model, f.weight_decay, f.layer_decay, skip_names=model.no_weight_decay())
    optimizer = torch.optim.AdamW(groups, lr=lr)
    ema = ModelEmaV3(model, decay=f.ema_decay) if f.ema else None
    start_epoch = load_run_checkpoint(resume, model, optimizer, ema) if resume else 0
    ddp = DistributedDataParallel(model) if world > 1 else model
    mixup = None
    if f.mixup > 0 or f.cutmix > 0:
        mixup = Mixup(mixup_alpha=f.mixup, cutmix_alpha=f.cutmix, prob=f.mixup_prob, switch_prob=f.mixup_switch_prob,
                      label_smoothing=f.smoothing, num_classes=num_classes)
    schedule = Schedule(lr, f.min_lr, f.warmup_epochs, f.epochs)
    logger.info("fine-tuning %d epochs, effective batch %d, lr %.3e (blr %.2e), layer decay %.2f, %d steps/epoch",
                f.epochs, eff_batch, lr, f.blr, f.layer_decay, len(loader) // f.accum_iter)
    metrics, cm, t0 = {}, None, time.time()
    for epoch in range(start_epoch, f.epochs):
        set_epoch(loader, epoch, f.seed + rank)
        stats = train_one_epoch(ddp, loader, optimizer, criterion_for(cfg), schedule, epoch, device, f.accum_iter,
                                mixup, ema, f.clip_grad, f.bf16)
        if is_main():
            save_run_checkpoint(out / "checkpoint.pth", model, optimizer, epoch, cfg, ema)
        metrics, cm = evaluate(model, val_loader, device, num_classes, f.bf16)
        if ema is not None:
            ema_metrics, _ = evaluate(ema.module, val_loader, device, num_classes, f.bf16)
            metrics.update(top1_ema=ema_metrics["top1"], top5_ema=ema_metrics["top5"])
        logger.info("epoch %d: train loss %.4f, val top1 %.2f top5 %.2f", epoch, stats["loss"], metrics["top1"],
                    metrics["top5"])
        if is_main():
            log_json(out, {"epoch": epoch, **stats, **{k: v for k, v in metrics.items() if k != "per_class"}})
        if f.stop_after and epoch + 1 - start_epoch >= f.stop_after and epoch + 1 < f.epochs:
            logger.info("finetune.stop_after=%d: leaving after epoch %d; continue with --resume", f.stop_after, epoch)
            return metrics
    if cm is None:  # nothing left to train (resumed after the last epoch)
        metrics, cm = evaluate(model, val_loader, device, num_classes, f.bf16)
    if is_main():
        save_metrics(out, {**metrics, "epochs": f.epochs, "train_seconds_this_run": time.time() - t0,
                           "world_size": world, "config": to_dict(cfg)}, cm, classes)
    return metrics
