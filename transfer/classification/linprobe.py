"""Linear probing of a frozen encoder, ``linprobe.mode`` the solver of ``probe.py`` (named as "solver" in the
metrics): the paper's protocol ('full': augmented images every epoch, BatchNorm without affine + Linear, LARS,
lr = blr * batch / 256, wd 0, warmup + cosine), on features cached once without augmentation ('fast': several lrs at
once, lr chosen on held-out training images; 'lbfgs': logistic regression on standardised features) and k-NN."""
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from mae_core.config import ConfigError, to_dict
from mae_core.engine.distributed import DistInfo
from mae_core.engine.run_state import LAST, PreemptionGuard, check_world, resolve_precision
from transfer.classification.features import extract_features

from .common import (
    build_datasets,
    epoch_data,
    eval_loader,
    eval_transform,
    find_resume,
    log_json,
    probe_transform,
    restore_run,
    save_run_checkpoint,
)
from .config import ClassificationConfig
from .distributed import init_distributed, is_main
from .engine import Schedule, StepLoop, evaluate
from .lars import LARS
from .metrics import save_metrics
from .model import LinearProbe, build_probe_encoder
from .probe import ProbeOptions, knn_probe, linear_probe

logger = logging.getLogger(__name__)


def run_linprobe(cfg: ClassificationConfig, data_path: str, output_dir: str, pretrained: str | None = None,
                 resume: bool | str | None = True, eval_only: bool = False) -> dict:
    """Runs ``linprobe.mode`` and writes ``metrics.json`` (top1, top5, per-class) -> the metrics. 'full' follows the
    pretraining engine's run state and resume rule (``resume`` as in :func:`run_finetune`), and its preemption."""
    lp, out = cfg.linprobe, Path(output_dir)
    info = init_distributed(cfg.train.dist_timeout_min)
    world, device = info.world_size, info.device
    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(lp.seed)
    encoder = build_probe_encoder(cfg, pretrained).to(device)
    t0 = time.time()
    if lp.mode == "full":
        metrics = _full(cfg, encoder, data_path, out, info, resume, eval_only)
    else:
        if world > 1:
            raise RuntimeError(f"linprobe.mode={lp.mode} runs in one process (features are cached once)")
        metrics = _cached(cfg, encoder, data_path, out, device)
    metrics["seconds"] = time.time() - t0
    metrics["solver"] = lp.mode
    cm, classes = metrics.pop("_confusion"), metrics.pop("_classes")
    if is_main():
        save_metrics(out, {**metrics, "mode": lp.mode, "pretrained": pretrained, "config": to_dict(cfg)}, cm, classes)
    return metrics


def _full(cfg: ClassificationConfig, encoder: nn.Module, data_path: str, out: Path, info: DistInfo,
          resume: bool | str | None, eval_only: bool) -> dict:
    lp, r = cfg.linprobe, cfg.train
    rank, world, device = info.rank, info.world_size, info.device
    precision = resolve_precision(r.precision, device, dim=encoder.embed_dim)
    train_ds, val_ds, classes = build_datasets(cfg, data_path, probe_transform(cfg.data), eval_only)
    model = LinearProbe(encoder, len(classes), lp.pool).to(device)
    val_loader = eval_loader(val_ds, lp.batch_size, rank, world, cfg.data.num_workers)
    found = find_resume(resume, out)
    if eval_only:
        if not found:
            raise FileNotFoundError(f"linear probe --eval-only needs a probe run's checkpoint: none in {out}, and no "
                             "--resume CHECKPOINT given")
        restore_run(*found, model)
        metrics, cm = evaluate(model, val_loader, device, len(classes), precision)
        return {**metrics, "_confusion": cm, "_classes": classes}
    data = epoch_data(train_ds, lp.batch_size, rank, world, lp.seed, cfg.data.num_workers)
    lr = lp.blr * lp.batch_size * world / 256
    optimizer = LARS(model.head.parameters(), lr=lr, weight_decay=lp.weight_decay, momentum=lp.momentum)
    step = 0
    if found:
        check_world(found[0], found[1], world, lp.batch_size, 1)
        step = restore_run(*found, model, optimizer)
    ddp = DistributedDataParallel(model) if world > 1 else model

    def save(at_step: int, rotate: bool):
        return save_run_checkpoint(out, model, optimizer, at_step, cfg, world, lp.batch_size, 1, precision,
                                   rotate=rotate) if is_main() else None

    loop = StepLoop(model, ddp, optimizer, nn.CrossEntropyLoss(), Schedule(lr, 0.0, lp.warmup_epochs, lp.epochs),
                    data, r, precision, info, save, seed=lp.seed + rank)
    loop.step, loop.last_good = step, found[1] if found else None
    loop.rotate = not found or found[1].name == LAST      # never keep a damaged last checkpoint as the previous one
    logger.info("linear probe (%s features): %d epochs, batch %d, lr %.3e, %s", lp.pool, lp.epochs,
                lp.batch_size * world, lr, precision)
    metrics, cm = {}, None
    with PreemptionGuard() as loop.guard:
        while loop.step < lp.epochs * loop.steps_per_epoch:
            epoch = loop.step // loop.steps_per_epoch
            stats = loop.train_epoch(lambda rec: log_json(out, rec) if is_main() else None)
            loop.save()
            metrics, cm = evaluate(model, val_loader, device, len(classes), precision)
            logger.info("epoch %d: loss %.4f, val top1 %.2f", epoch, stats["loss"], metrics["top1"])
            if is_main():
                log_json(out, {"epoch": epoch, "step": loop.step, **stats, "top1": metrics["top1"],
                               "top5": metrics["top5"]})
    if cm is None:
        metrics, cm = evaluate(model, val_loader, device, len(classes), precision)
    return {**metrics, "lr": lr, "epochs": lp.epochs, "step": loop.step, "precision": precision,
            "_confusion": cm, "_classes": classes}


def _cached(cfg: ClassificationConfig, encoder: nn.Module, data_path: str, out: Path, device: torch.device) -> dict:
    """'fast', 'lbfgs' and 'knn': features of both splits extracted once with the augmentation-free transform."""
    lp = cfg.linprobe
    if cfg.data.train_shards:
        raise ConfigError(f"linprobe.mode={lp.mode} caches the features of every training image once, from image "
                          "files; data.train_shards streams for linprobe.mode=full and fine-tuning")
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
        metrics, cm = knn_probe(tf, tl, vf, vl, lp.knn_k, lp.knn_temperature, num_classes=c)
        return {**metrics, "extract_seconds": extract_s, "_confusion": cm, "_classes": classes}
    opts = ProbeOptions(solver=lp.mode, val_fraction=lp.val_fraction, seed=lp.seed,
                        weight_decays=lp.lbfgs_weight_decays, max_iter=lp.lbfgs_max_iter,
                        tolerance_grad=lp.lbfgs_tolerance_grad, blrs=lp.fast_blrs, epochs=lp.epochs,
                        batch_size=lp.batch_size, warmup_epochs=lp.warmup_epochs, weight_decay=lp.weight_decay,
                        momentum=lp.momentum)
    metrics, cm, classifier = linear_probe(tf, tl, vf, vl, opts, num_classes=c)
    torch.save({"solver": lp.mode, "classifier": classifier.state_dict()}, out / "head.pth")
    return {**metrics, "extract_seconds": extract_s, "_confusion": cm, "_classes": classes}
