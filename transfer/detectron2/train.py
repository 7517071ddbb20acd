"""Train / evaluate a LazyConfig Mask R-CNN with detectron2's own trainer, hooks, checkpointer and COCOEvaluator.

Results go to ``{output_dir}/metrics.json``: {"bbox": {"AP": .., "AP50": .., ...}, "segm": {...}} with
detectron2's keys, plus the iteration count and wall time of training.
"""
# Adapted from: detectron2's tools/lazyconfig_train_net.py (the trainer + hooks layout), written for this project.
from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import instantiate
from detectron2.engine import AMPTrainer, SimpleTrainer, hooks
from detectron2.engine.defaults import create_ddp_model
from detectron2.evaluation import COCOEvaluator, inference_on_dataset
from detectron2.utils import comm
from detectron2.utils.events import CommonMetricPrinter, JSONWriter, TensorboardXWriter

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.engine.run_state import precision_choice
from mae_core.overrides import ConfigError, apply_tree_overrides

from . import compat
from .data import CocoCheck, CocoDataError, register_coco
from .weights import load_pretrained

logger = logging.getLogger(__name__)


def apply_overrides(cfg, overrides, where: str = "LazyConfig"):
    """The project's one override grammar (:mod:`mae_core.overrides`) on a LazyConfig: ``key=value`` strings from a
    command line or a dict of typed values from code; an unknown key is a ConfigError naming the nearest."""
    return apply_tree_overrides(cfg, overrides, where)


def setup_data(cfg, train_json: str | None, train_images: str | None, val_json: str | None, val_images: str | None,
               output_dir: str) -> CocoCheck:
    """Checks and registers the sets, points the loaders at them, sets num_classes from their categories."""
    from detectron2.data import MetadataCatalog
    names = {}
    for split, js, im in (("train", train_json, train_images), ("val", val_json, val_images)):
        loader = cfg.dataloader.train if split == "train" else cfg.dataloader.test
        if bool(js) != bool(im):
            raise ConfigError(f"--{split}-json and --{split}-images go together")
        if js:
            name = f"user_coco_{split}"
            loader.dataset.names = name
        else:
            name = loader.dataset.names
            meta = MetadataCatalog.get(name)
            js, im = getattr(meta, "json_file", None), getattr(meta, "image_root", None)
            if js is None:
                raise ConfigError(f"data set {name!r} is not registered with a COCO json; give --data-path or "
                                  f"--{split}-json/-images")
        names[split] = (name, register_coco(name, js, im, work_dir=output_dir))
    train_check, val_check = names["train"][1], names["val"][1]
    if [c["id"] for c in train_check.categories] != [c["id"] for c in val_check.categories]:
        raise CocoDataError(f"train and val categories differ: {train_check.json_file} vs {val_check.json_file}")
    num_classes = len(train_check.categories)
    if cfg.model.roi_heads.num_classes != num_classes:
        logger.info("num_classes %d -> %d (from %s)", cfg.model.roi_heads.num_classes, num_classes,
                    train_check.json_file)
    cfg.model.roi_heads.num_classes = num_classes
    mapper = cfg.dataloader.train.mapper
    if train_check.has_rle and mapper.get("instance_mask_format", "polygon") == "polygon":
        logger.info("%s has RLE masks: instance_mask_format -> bitmask", train_check.json_file)
        mapper.instance_mask_format = "bitmask"
    return train_check


def evaluate(cfg, model, output_dir: str) -> dict:
    """COCOEvaluator (bbox, segm; pycocotools path where the compiled evaluator is missing) on dataloader.test."""
    name = cfg.dataloader.test.dataset.names
    evaluator = COCOEvaluator(name, tasks=("bbox", "segm"), output_dir=str(Path(output_dir) / "inference"),
                              use_fast_impl=compat.has_compiled_ops())
    results = inference_on_dataset(model, instantiate(cfg.dataloader.test), evaluator)
    return {k: {m: float(v) for m, v in d.items()} for k, d in results.items()}


def build_model(cfg, pretrained: str | None = None) -> torch.nn.Module:
    model = instantiate(cfg.model)
    if pretrained:
        load_pretrained(model, pretrained)
    return model.to(cfg.train.device)


def write_metrics(output_dir: str, results: dict, **extra) -> Path:
    path = Path(output_dir) / "metrics.json"
    if comm.is_main_process():
        atomic_write_json({**results, **extra}, path)
        logger.info("wrote %s: bbox AP %.2f, segm AP %.2f", path, results.get("bbox", {}).get("AP", float("nan")),
                    results.get("segm", {}).get("AP", float("nan")))
    return path


class CpuBf16Trainer(SimpleTrainer):
    """detectron2's SimpleTrainer with each step under CPU bf16 autocast (its AMPTrainer is CUDA's fp16 with a grad
    scaler, which bf16 does not need): convs, linears and attention in bf16; weights, grads, optimizer state and the
    losses autocast keeps in fp32 (cross-entropy, box regression, mask BCE) stay fp32; RoIAlign casts to fp32."""

    def run_step(self):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            super().run_step()


def training_precision(cfg) -> dict:
    """The trainer ``train.amp`` asks for on ``train.device`` -> {"trainer": class, "precision": 'fp16' | 'bf16' |
    'fp32', "chosen_by": ..., "bf16_speedup": ...}: off -> SimpleTrainer in fp32; on with CUDA -> AMPTrainer (fp16);
    on the CPU -> bf16 autocast where ``train.amp.precision`` ('auto' by default; 'bf16' / 'fp32' force it) finds it
    the faster (:func:`mae_core.engine.run_state.precision_choice`: AMX, or AVX-512 bf16 and measured), else fp32."""
    amp, device = cfg.train.amp, torch.device(cfg.train.device)
    if not amp.enabled:
        return {"trainer": SimpleTrainer, "precision": "fp32", "chosen_by": "train.amp.enabled=False",
                "bf16_speedup": None}
    if device.type == "cuda":
        return {"trainer": AMPTrainer, "precision": "fp16", "chosen_by": "cuda", "bf16_speedup": None}
    choice = precision_choice(amp.get("precision", "auto"), device, "train.amp.precision")
    return {"trainer": CpuBf16Trainer if choice["precision"] == "bf16" else SimpleTrainer, **choice}


def train(cfg, output_dir: str, resume: bool = False, pretrained: str | None = None) -> dict:
    """Trains with detectron2's SimpleTrainer (AMPTrainer when ``train.amp.enabled`` on CUDA, CPU bf16 autocast
    when enabled on a CPU that runs it faster: :func:`training_precision`), then evaluates in fp32."""
    model = build_model(cfg, None if resume and _has_checkpoint(output_dir) else pretrained)
    cfg.optimizer.params.model = model
    optim = instantiate(cfg.optimizer)
    train_loader = instantiate(cfg.dataloader.train)
    model = create_ddp_model(model, **cfg.train.ddp)
    choice = training_precision(cfg)
    logger.info("training precision %s (%s)", choice["precision"], choice["chosen_by"])
    trainer = choice.pop("trainer")(model, train_loader, optim)
    checkpointer = DetectionCheckpointer(model, output_dir, trainer=trainer)
    state: dict = {}
    start_time = time.perf_counter()

    def final_eval():
        state["results"] = evaluate(cfg, model, output_dir)
        return state["results"]

    trainer.register_hooks([
        hooks.IterationTimer(),
        hooks.LRScheduler(scheduler=instantiate(cfg.lr_multiplier)),
        hooks.PeriodicCheckpointer(checkpointer, **cfg.train.checkpointer) if comm.is_main_process() else None,
        hooks.EvalHook(cfg.train.eval_period, final_eval),
        hooks.PeriodicWriter(writers(output_dir, cfg.train.max_iter), period=cfg.train.log_period)
        if comm.is_main_process() else None,
    ])
    checkpointer.resume_or_load(cfg.train.init_checkpoint, resume=resume)
    start_iter = trainer.iter + 1 if resume and checkpointer.has_checkpoint() else 0
    trainer.train(start_iter, cfg.train.max_iter)
    wall = time.perf_counter() - start_time
    results = state.get("results") or {}
    write_metrics(output_dir, results, iterations=cfg.train.max_iter, batch=cfg.dataloader.train.total_batch_size,
                  train_wall_s=round(wall, 1), pretrained=pretrained, resumed_from=start_iter,
                  precision=choice["precision"], precision_choice=choice)
    return results


def writers(output_dir: str, max_iter: int) -> list:
    """Console, JSON lines (``train_log.json``: unsmoothed losses per logged iteration) and TensorBoard; the
    ``metrics.json`` name is kept for the evaluation results."""
    return [CommonMetricPrinter(max_iter), JSONWriter(str(Path(output_dir) / "train_log.json"), window_size=1),
            TensorboardXWriter(output_dir)]


def _has_checkpoint(output_dir: str) -> bool:
    return (Path(output_dir) / "last_checkpoint").is_file()


def eval_only(cfg, output_dir: str, pretrained: str | None = None) -> dict:
    """Evaluates ``train.init_checkpoint`` (or the output folder's last checkpoint) with COCOEvaluator."""
    model = build_model(cfg, pretrained)
    model = create_ddp_model(model)
    checkpointer = DetectionCheckpointer(model, output_dir)
    if cfg.train.init_checkpoint:
        checkpointer.load(cfg.train.init_checkpoint)
    elif checkpointer.has_checkpoint():
        checkpointer.load(checkpointer.get_checkpoint_file())
    else:
        logger.warning("--eval-only without train.init_checkpoint or a checkpoint in %s: evaluating %s", output_dir,
                       "the pretrained backbone with untrained heads" if pretrained else "random weights")
    results = evaluate(cfg, model, output_dir)
    write_metrics(output_dir, results)
    return results
