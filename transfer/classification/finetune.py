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

from mae_core.config import ConfigError, to_dict
from mae_core.engine.lr_decay import param_groups_lrd
from mae_core.engine.run_state import LAST, PreemptionGuard, check_world, precision_choice
from mae_core.engine.strategy import wrap_model

from .common import (
    build_datasets,
    epoch_data,
    eval_loader,
    find_resume,
    finetune_transform,
    log_json,
    restore_run,
    save_run_checkpoint,
)
from .config import ClassificationConfig
from .distributed import init_distributed, is_main
from .engine import Schedule, StepLoop, evaluate
from .metrics import save_metrics
from .model import build_classifier, set_trainable_blocks

logger = logging.getLogger(__name__)


def criterion_for(cfg: ClassificationConfig) -> torch.nn.Module:
    f = cfg.finetune
    if f.mixup > 0 or f.cutmix > 0:
        return SoftTargetCrossEntropy()        # mixup builds smoothed soft targets
    return LabelSmoothingCrossEntropy(f.smoothing) if f.smoothing > 0 else torch.nn.CrossEntropyLoss()


def run_finetune(cfg: ClassificationConfig, data_path: str, output_dir: str, pretrained: str | None = None,
                 resume: bool | str | None = True, eval_only: bool = False) -> dict:
    """Fine-tunes (or, with ``eval_only``, evaluates) and writes ``metrics.json`` -> the final metrics.

    ``resume``: True resumes from ``output_dir/checkpoint-last.pth`` when there is one (the pretraining engine's
    rule, mid-epoch, with RNG states); False starts over; a path resumes (or evaluates) that run checkpoint.
    SIGTERM / SIGUSR1 write the checkpoint at the next step boundary and leave with exit code 75."""
    f, r, out = cfg.finetune, cfg.train, Path(output_dir)
    info = init_distributed(r.dist_timeout_min)
    rank, world, device = info.rank, info.world_size, info.device
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(f.seed)
    train_ds, val_ds, classes = build_datasets(cfg, data_path, finetune_transform(cfg.data), eval_only)
    num_classes = len(classes)
    found = find_resume(resume, out)
    # when resuming, --pretrained (if any) only fixes the architecture; the weights then come from the run checkpoint
    model = build_classifier(cfg, num_classes, pretrained, keep_head=eval_only and not found)
    set_trainable_blocks(model, f.trainable_blocks)
    choice = precision_choice(r.precision, device, dim=model.embed_dim)
    precision = choice["precision"]
    model.to(device)
    val_loader = eval_loader(val_ds, f.batch_size, rank, world, cfg.data.num_workers)
    if eval_only:
        if found:
            restore_run(*found, model)
        metrics, cm = evaluate(model, val_loader, device, num_classes, precision)
        if is_main():
            save_metrics(out, {**metrics, "checkpoint": str(found[1]) if found else pretrained}, cm, classes)
        logger.info("eval-only: top1 %.2f top5 %.2f on %d images", metrics["top1"], metrics["top5"], len(val_ds))
        return metrics

    data = epoch_data(train_ds, f.batch_size, rank, world, f.seed, cfg.data.num_workers)
    eff_batch = f.batch_size * f.accum_iter * world
    lr = f.blr * eff_batch / 256
    if r.strategy == "fsdp" and f.ema:
        raise ConfigError("finetune.ema=true is not supported with train.strategy=fsdp (the EMA copy is not sharded)")
    # FSDP shards the parameters in place: wrap before the optimizer takes them
    ddp = wrap_model(model, r.strategy, world > 1, bf16=precision == "bf16")
    groups = param_groups_lrd(model, f.weight_decay, f.layer_decay, skip_names=model.no_weight_decay())
    optimizer = torch.optim.AdamW(groups, lr=lr)
    ema = ModelEmaV3(model, decay=f.ema_decay) if f.ema else None
    step = 0
    if found:
        check_world(found[0], found[1], world, f.batch_size, f.accum_iter)
        step = restore_run(*found, model, optimizer, ema)
    mixup = None
    if f.mixup > 0 or f.cutmix > 0:
        mixup = Mixup(mixup_alpha=f.mixup, cutmix_alpha=f.cutmix, prob=f.mixup_prob, switch_prob=f.mixup_switch_prob,
                      label_smoothing=f.smoothing, num_classes=num_classes)

    def save(at_step: int, rotate: bool):   # every rank calls it: under FSDP the state is gathered first
        return save_run_checkpoint(out, model, optimizer, at_step, cfg, world, f.batch_size, f.accum_iter, precision,
                                   ema, rotate=rotate)

    loop = StepLoop(model, ddp, optimizer, criterion_for(cfg), Schedule(lr, f.min_lr, f.warmup_epochs, f.epochs),
                    data, r, precision, info, save, f.accum_iter, mixup, ema, f.clip_grad, f.seed + rank)
    loop.step, loop.last_good = step, found[1] if found else None
    loop.rotate = not found or found[1].name == LAST      # never keep a damaged last checkpoint as the previous one
    total = f.epochs * loop.steps_per_epoch
    logger.info("fine-tuning %d epochs, effective batch %d, lr %.3e (blr %.2e), layer decay %.2f, %d steps/epoch, "
                "%s", f.epochs, eff_batch, lr, f.blr, f.layer_decay, loop.steps_per_epoch, precision)
    metrics, cm, t0, epochs_run = {}, None, time.time(), 0
    with PreemptionGuard() as loop.guard:
        while loop.step < total:
            epoch = loop.step // loop.steps_per_epoch
            stats = loop.train_epoch(lambda rec: log_json(out, rec) if is_main() else None)
            loop.save()
            metrics, cm = evaluate(model, val_loader, device, num_classes, precision)
            if ema is not None:
                ema_metrics, _ = evaluate(ema.module, val_loader, device, num_classes, precision)
                metrics.update(top1_ema=ema_metrics["top1"], top5_ema=ema_metrics["top5"])
            logger.info("epoch %d: train loss %.4f, val top1 %.2f top5 %.2f", epoch, stats["loss"], metrics["top1"],
                        metrics["top5"])
            if is_main():
                log_json(out, {"epoch": epoch, "step": loop.step, **stats,
                               **{k: v for k, v in metrics.items() if k != "per_class"}})
            epochs_run += 1
            if f.stop_after and epochs_run >= f.stop_after and loop.step < total:
                logger.info("finetune.stop_after=%d: leaving after epoch %d; run again to resume", f.stop_after, epoch)
                return metrics
    if cm is None:  # nothing left to train (resumed after the last epoch)
        metrics, cm = evaluate(model, val_loader, device, num_classes, precision)
    if is_main():
        save_metrics(out, {**metrics, "epochs": f.epochs, "step": loop.step, "skipped_steps": loop.policy.skipped,
                           "precision": precision, "precision_choice": choice,
                           "train_seconds_this_run": time.time() - t0, "world_size": world, "config": to_dict(cfg)},
                     cm, classes)
    return metrics
