"""Linear probing of a frozen encoder: the paper's protocol ('full': augmented images every epoch, BatchNorm without
affine + Linear, LARS, lr = blr * batch / 256, wd 0, warmup + cosine), a cached-feature mode ('fast': features
extracted once without augmentation, several lrs at once, lr chosen on held-out training images) and k-NN ('knn')."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel

from mae_core.config import to_dict
from transfer.classification.features import extract_features

from .common import (
    build_datasets,
    eval_loader,
    eval_transform,
    load_run_checkpoint,
    log_json,
    probe_transform,
    resolve_resume,
    save_run_checkpoint,
    set_epoch,
    train_loader,
)
from .config import ClassificationConfig
from .distributed import init_distributed, is_main
from .engine import Schedule, evaluate, train_one_epoch
from .fastprobe import fast_probe, logits_of
from .knn import knn_metrics
from .lars import LARS
from .metrics import confusion_matrix, save_metrics, summarize, topk_correct
from .model import LinearProbe, build_probe_encoder

logger = logging.getLogger(__name__)


def run_linprobe(cfg: ClassificationConfig, data_path: str, output_dir: str, pretrained: str | None = None,
                 resume: str | None = None, eval_only: bool = False) -> dict:
    """Runs ``linprobe.mode`` and writes ``metrics.json`` (top1, top5, per-class) -> the metrics."""
    lp, out = cfg.linprobe, Path(output_dir)
    rank, world, device = init_distributed()
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(lp.seed)
    encoder = build_probe_encoder(cfg, pretrained).to(device)
    t0 = time.time()
    if lp.mode == "full":
        metrics = _full(cfg, encoder, data_path, out, rank, world, device, resume, eval_only)
    else:
        if world > 1:
            raise RuntimeError(f"linprobe.mode={lp.mode} runs in one process (features are cached once)")
        metrics = _cached(cfg, encoder, data_path, out, device)
    metrics["seconds"] = time.time() - t0
    cm, classes = metrics.pop("_confusion"), metrics.pop("_classes")
    if is_main():
        save_metrics(out, {**metrics, "mode": lp.mode, "pretrained": pretrained, "config": to_dict(cfg)}, cm, classes)
    return metrics


def _full(cfg: ClassificationConfig, encoder: nn.Module, data_path: str, out: Path, rank: int, world: int,
          device: torch.device, resume: str | None, eval_only: bool) -> dict:
    lp = cfg.linprobe
    train_ds, val_ds, classes = build_datasets(cfg, data_path, probe_transform(cfg.data), eval_only)
    model = LinearProbe(encoder, len(classes), lp.pool).to(device)
    val_loader = eval_loader(val_ds, lp.batch_size, rank, world, cfg.data.num_workers)
    resume = resolve_resume(resume, out)
    if eval_only:
        if not resume:
            raise ValueError("linear probe --eval-only needs --resume CHECKPOINT (a probe run's checkpoint.pth)")
        load_run_checkpoint(resume, model)
        metrics, cm = evaluate(model, val_loader, device, len(classes))
        return {**metrics, "_confusion": cm, "_classes": classes}
    loader = train_loader(train_ds, lp.batch_size, rank, world, lp.seed, cfg.data.num_workers)
    lr = lp.blr * lp.batch_size * world / 256
    optimizer = LARS(model.head.parameters(), lr=lr, weight_decay=lp.weight_decay, momentum=lp.momentum)
    start = load_run_checkpoint(resume, model, optimizer) if resume else 0
    ddp = DistributedDataParallel(model) if world > 1 else model
    schedule = Schedule(lr, 0.0, lp.warmup_epochs, lp.epochs)
    logger.info("linear probe (%s features): %d epochs, batch %d, lr %.3e", lp.pool, lp.epochs,
                lp.batch_size * world, lr)
    metrics, cm = {}, None
    for epoch in range(start, lp.epochs):
        set_epoch(loader, epoch, lp.seed + rank)
        stats = train_one_epoch(ddp, loader, optimizer, nn.CrossEntropyLoss(), schedule, epoch, device)
        if is_main():
            save_run_checkpoint(out / "checkpoint.pth", model, optimizer, epoch, cfg)
        metrics, cm = evaluate(model, val_loader, device, len(classes))
        logger.info("epoch %d: loss %.4f, val top1 %.2f", epoch, stats["loss"], metrics["top1"])
        if is_main():
            log_json(out, {"epoch": epoch, **stats, "top1": metrics["top1"], "top5": metrics["top5"]})
    if cm is None:
        metrics, cm = evaluate(model, val_loader, device, len(classes))
    return {**metrics, "lr": lr, "epochs": lp.epochs, "_confusion": cm, "_classes": classes}


def _cached(cfg: ClassificationConfig, encoder: nn.Module, data_path: str, out: Path, device: torch.device) -> dict:
    """'fast' and 'knn': features of both splits extracted once with the augmentation-free transform."""
    lp = cfg.linprobe
    train_ds, val_ds, classes = build_datasets(cfg, data_path, eval_transform(cfg.data))
    c = len(classes)
    t0 = time.time()
    tf, tl = extract_features(encoder, eval_loader(train_ds, lp.batch_size, 0, 1, cfg.data.num_workers), lp.pool,
                              device)
    vf, vl = extract_features(encoder, eval_loader(val_ds, lp.batch_size, 0, 1, cfg.data.num_workers), lp.pool,
                              device)
    extract_s = time.time() - t0
    logger.info("features: train %s, val %s in %.1fs", tuple(tf.shape), tuple(vf.shape), extract_s)
    if lp.mode == "knn":
        metrics, cm = knn_metrics(tf, tl, vf, vl, c, lp.knn_k, lp.knn_temperature)
        return {**metrics, "k": lp.knn_k, "temperature": lp.knn_temperature, "extract_seconds": extract_s,
                "_confusion": cm, "_classes": classes}
    batch = min(lp.batch_size, len(tf))
    lrs = [b * batch / 256 for b in lp.fast_blrs]
    res = fast_probe(tf, tl, c, lrs, lp.epochs, batch, lp.warmup_epochs, lp.val_fraction, lp.weight_decay,
                     lp.momentum, lp.seed)
    logits = logits_of(res["bn"], res["head"], vf)
    cm = confusion_matrix(logits.argmax(1), vl, c)
    metrics = summarize(cm, topk_correct(logits, vl, (5,))[0], nn.functional.cross_entropy(logits, vl, reduction="sum")
                        .item())
    torch.save({"bn": res["bn"].state_dict(), "head": res["head"].state_dict(), "lr": res["lr"]}, out / "head.pth")
    return {**metrics, "lr": res["lr"], "blr": res["lr"] * 256 / batch,
            "heldout_top1_by_blr": {f"{k * 256 / batch:g}": v for k, v in res["heldout_top1"].items()},
            "extract_seconds": extract_s,
            "_confusion": cm, "_classes": classes}
