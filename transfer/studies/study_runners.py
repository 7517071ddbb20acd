"""The work of each transfer-study cell: the scenes, the three arms' starting checkpoints, the three transfers.

Each transfer goes through the tool a user would run (``tools/train_coco.py``, ``tools/train_ade20k.py``,
``tools/finetune.py``: their ``main(argv)``), into the cell's folder, so that a rerun resumes it; the figures are
read back from the tool's ``metrics.json``. detectron2 and mmseg are imported only inside their cells.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path


def _check(code: int, tool: str, work: Path) -> dict:
    f = work / "metrics.json"
    if code != 0 or not f.exists():
        raise RuntimeError(f"{tool} failed (exit {code}); its output is in {work} and the cell's log.txt")
    return json.loads(f.read_text())


def _finite(v) -> float:
    """detectron2 reports AP as NaN when nothing is scored: counted as 0.0."""
    v = float("nan") if v is None else float(v)
    return 0.0 if math.isnan(v) else round(v, 2)


def _device() -> str:
    import torch
    return "cuda" if torch.cuda.is_available() else "cpu"


def run_data(args, root: Path) -> dict:
    from transfer.studies.scenes import make_scenes
    t0 = time.time()
    res = make_scenes(root, args.num_train, args.num_val, args.size, seed=0, items_dir=args.items)
    return {"data": res, "wall_s": round(time.time() - t0, 1)}


# ------------------------------------------------------------------------------------------------- the arms
def in_domain_overrides(args, seed: int) -> list[str]:
    """The demo recipe on the train scenes at the transfer resolution, `--pretrain-steps` at `--pretrain-batch`."""
    steps_per_epoch = max(1, args.num_train // args.pretrain_batch)
    epochs = math.ceil(args.pretrain_steps / steps_per_epoch)
    return [f"model.img_size={args.size}", f"train.batch_size={args.pretrain_batch}", f"train.epochs={epochs}",
            f"train.max_steps={args.pretrain_steps}", f"train.seed={seed}", f"optim.base_lr={args.pretrain_blr}",
            f"optim.warmup_epochs={max(epochs * 0.05, 1 / steps_per_epoch)}", f"train.precision={args.precision}",
            "data.num_workers=1", f"train.vis_every_steps={max(1, args.pretrain_steps // 2)}",
            "train.log_every=10"]


def run_pretrain(args, arm: str, seed: int, work: Path) -> dict:
    """-> {"checkpoint", "steps", "batch", "wall_s", ...} of the arm's starting weights."""
    from mae_core.config import load_config
    from mae_core.engine.trainer import pretrain, save_initial_checkpoint
    data = Path(args.output_dir) / "data" / "coco" / "train"
    t0 = time.time()
    if arm == "scratch":   # the same model as the in-domain arm, at its (seeded) initialisation
        cfg = load_config(args.pretrain_config, in_domain_overrides(args, seed) + [f"data.path={data}"])
        return {"checkpoint": save_initial_checkpoint(cfg, work / "checkpoint-init.pth", seed), "steps": 0,
                "batch": 0, "wall_s": round(time.time() - t0, 1), "note": "random init"}
    if arm == "mae_demo" and args.demo_checkpoint:
        return {"checkpoint": str(Path(args.demo_checkpoint).resolve()), "steps": None, "batch": None,
                "wall_s": 0.0, "note": "given by --demo-checkpoint"}
    if arm == "mae_demo":
        over = [f"train.seed={seed}", f"train.precision={args.precision}"]
        if args.demo_steps:
            over.append(f"train.max_steps={args.demo_steps}")
    else:
        over = in_domain_overrides(args, seed) + [f"data.path={data}"]
    cfg = load_config(args.pretrain_config, over)
    res = pretrain(cfg, work)
    return {"checkpoint": res["checkpoint"], "steps": res["step"], "batch": cfg.train.batch_size,
            "final_loss": res.get("final_loss"), "peak_lr": res.get("peak_lr"), "img_size": cfg.model.img_size,
            "wall_s": round(time.time() - t0, 1)}


# ---------------------------------------------------------------------------------------------- transfers
def run_coco(args, arm: str, seed: int, lr_scale: float, work: Path, pre: dict, data: dict) -> dict:
    from transfer.detectron2 import compat
    compat.apply()
    from detectron2.config import LazyConfig

    from transfer.detectron2.cli import main
    cfg = LazyConfig.load(args.coco_config)
    lr, batch = float(cfg.optimizer.lr) * lr_scale, int(cfg.dataloader.train.total_batch_size)
    iters = args.coco_iters
    if iters < 3:
        raise ValueError(f"--coco-iters must be >= 3 (the schedule drops the lr at 80%), got {iters}")
    argv = ["--config", args.coco_config, "--data-path", str(Path(args.output_dir) / "data" / "coco"),
            "--output-dir", str(work), f"train.max_iter={iters}", f"train.seed={seed}", f"optimizer.lr={lr}",
            f"train.device={_device()}", f"lr_multiplier.warmup_iters={max(1, min(30, iters // 10))}",
            f"train.checkpointer.period={max(1, min(iters, 50))}"]
    argv += ["--pretrained", pre["checkpoint"]]   # scratch: the seeded random init of the same ViT
    t0 = time.time()
    m = _check(main(argv), "train_coco", work)
    return {"metrics": {"bbox_AP": _finite(m.get("bbox", {}).get("AP")),
                        "segm_AP": _finite(m.get("segm", {}).get("AP"))},
            "lr": lr, "steps": iters, "batch": batch, "wall_s": round(time.time() - t0, 1)}


def run_ade(args, arm: str, seed: int, lr_scale: float, work: Path, pre: dict, data: dict) -> dict:
    from mmengine.config import Config

    from transfer.mmseg.cli import main
    base = Config.fromfile(args.ade_config)
    lr, batch, iters = float(base.optim_wrapper.optimizer.lr) * lr_scale, int(base.train_dataloader.batch_size), \
        args.ade_iters
    warm = max(1, min(10, iters // 2))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "ade_config.py"   # the recipe with this budget's schedule, lr and seed
    config.write_text(
        f"_base_ = [{str(Path(args.ade_config).resolve())!r}]\n"
        f"max_iters = {iters}\nrandomness = dict(seed={seed})\n"
        f"optim_wrapper = dict(optimizer=dict(lr={lr}))\n"
        f"param_scheduler = [dict(type='LinearLR', start_factor=1e-3, by_epoch=False, begin=0, end={warm})"
        + (f", dict(type='PolyLR', eta_min=0.0, power=1.0, begin={warm}, end={iters}, by_epoch=False)"
           if iters > warm else "") + "]\n"
        f"train_cfg = dict(type='IterBasedTrainLoop', max_iters={iters}, val_interval={iters})\n"
        f"default_hooks = dict(checkpoint=dict(type='CheckpointHook', by_epoch=False, "
        f"interval={max(1, min(iters, 50))}, max_keep_ckpts=1))\n")
    num_classes = len(data["data"]["classes"])
    argv = ["--config", str(config), "--data-path", str(Path(args.output_dir) / "data" / "ade"),
            "--num-classes", str(num_classes), "--output-dir", str(work)]
    argv += ["--pretrained", pre["checkpoint"]]   # scratch: the seeded random init of the same ViT
    t0 = time.time()
    m = _check(main(argv), "train_ade20k", work)
    return {"metrics": {"mIoU": _finite(m["mIoU"])}, "lr": lr, "steps": iters, "batch": batch,
            "wall_s": round(time.time() - t0, 1)}


def run_cls(args, arm: str, seed: int, lr_scale: float, work: Path, pre: dict, data: dict) -> dict:
    """Fine-tuning on the item crops (OUT/data/folders) with the smoke recipe, no mixup / cutmix / erasing (they
    pay off only over long schedules), `--ft-steps` steps at most."""
    from mae_core.config import load_config
    from transfer.classification.cli import finetune_main
    n_train = data["data"]["counts"]["train"]["crops"]
    batch = min(args.ft_batch, n_train)
    epochs = max(1, round(args.ft_steps * batch / n_train))
    base = load_config(args.ft_config)
    blr = base.finetune.blr * lr_scale
    argv = ["--config", args.ft_config, "--data-path", str(Path(args.output_dir) / "data" / "folders"),
            "--output-dir", str(work), "data.dataset=folder", f"data.num_classes={len(data['data']['classes'])}",
            f"data.input_size={args.ft_size}", "data.auto_augment=", "data.reprob=0.0", "finetune.mixup=0.0",
            "finetune.cutmix=0.0", f"finetune.epochs={epochs}", f"finetune.batch_size={batch}",
            f"finetune.blr={blr}", f"finetune.seed={seed}", f"finetune.warmup_epochs={min(1, epochs * 0.1)}"]
    argv += ["--pretrained", pre["checkpoint"]]   # scratch: the seeded random init of the same ViT
    t0 = time.time()
    m = _check(finetune_main(argv), "finetune", work)
    return {"metrics": {"top1": round(float(m["top1"]), 2)}, "lr": blr * batch / 256,
            "steps": epochs * math.ceil(n_train / batch), "batch": batch, "wall_s": round(time.time() - t0, 1)}


RUNNERS = {"data": run_data, "pretrain": run_pretrain, "coco": run_coco, "ade20k": run_ade, "classification": run_cls}
