"""The work of each transfer-study cell: the scenes, the arms' starting checkpoints, the three transfers.

Each transfer runs into the cell's folder, so that a rerun resumes it: detection and segmentation through the shared
transfers of :mod:`transfer.studies.transfers` (the library entry points of ``tools/train_coco.py`` and
``tools/train_ade20k.py``), classification through ``tools/finetune.py``'s ``run_finetune``, its figures read back
from the run's ``metrics.json``. detectron2 and mmseg are imported only inside their cells.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path


def run_data(args, root: Path) -> dict:
    from transfer.studies.scenes import make_scenes
    t0 = time.time()
    classes = tuple(int(c) for c in args.classes.split(",")) if args.classes and not args.items else None
    res = make_scenes(root, args.num_train, args.num_val, args.size, seed=0, items_dir=args.items, classes=classes,
                      num_unlabelled=args.num_unlabelled,
                      unlabelled_items_per_scene=args.unlabelled_items_per_scene)
    return {"data": res, "wall_s": round(time.time() - t0, 1)}


# ------------------------------------------------------------------------------------------------- the arms
def in_domain_overrides(args, seed: int, size: int | None = None, steps: int | None = None) -> dict:
    """The study's pretraining recipe at the study's patch and `size` (default: the transfer resolution), `steps`
    (default `--pretrain-steps`) at `--pretrain-batch`, on the labelled train scenes' images, or with
    `--num-unlabelled` N on N more train scenes (no labels)."""
    images = args.num_unlabelled or args.num_train
    data_dir = Path(args.output_dir) / "data" / ("unlabelled" if args.num_unlabelled else "coco/train")
    steps = steps or args.pretrain_steps
    steps_per_epoch = max(1, images // args.pretrain_batch)
    epochs = math.ceil(steps / steps_per_epoch)
    over = {"model.img_size": size or args.size, "model.patch_size": args.patch_size,
            "train.batch_size": args.pretrain_batch, "train.epochs": epochs, "train.max_steps": steps,
            "train.seed": seed,
            "optim.warmup_epochs": max(epochs * 0.05, 1 / steps_per_epoch),
            "train.vis_every_steps": max(1, steps // 2),
            "data.path": str(data_dir)}
    if args.pretrain_blr:
        over["optim.base_lr"] = args.pretrain_blr
    return {**over, **precision_override(args)}


def precision_override(args) -> dict:
    """``--precision`` when given; else the pretraining config's own (auto in the shipped configs)."""
    return {"train.precision": args.precision} if args.precision else {}


def in_domain_start(args, seed: int) -> dict:
    """The in-domain MAE's starting weights: random ({}), or with ``--in-domain-init demo`` the seed's demo MAE at
    the study's patch and grid (its cell's checkpoint), from which it continues pretraining on the scenes."""
    if args.in_domain_init != "demo":
        return {}
    from transfer.studies.cells import read_result
    return {"train.init_from": read_result(Path(args.output_dir), f"pretrain_mae_demo_s{seed}")["checkpoint"]}


def to_study_grid(args, checkpoint: str, work: Path) -> str:
    """An MAE of another patch or grid (the demo's patch 4 at 28 px, an in-domain MAE of `--pretrain-size`) as an
    encoder of the study's patch and grid: patch embedding resampled by the pseudo-inverse resize (when the patch
    differs), position table resampled, decoder dropped (mae_core.checkpoint.convert)."""
    from mae_core.checkpoint.convert import convert_file
    dst = work / f"encoder-patch{args.patch_size}.pth"
    convert_file(checkpoint, dst, src="ours", dst="ours", patch_size=args.patch_size, img_size=(args.size, args.size))
    return str(dst)


def finetuned_start(args, seed: int, work: Path) -> dict:
    """The ``mae_finetuned`` arm's start: the seed's in-domain MAE encoder (at the study's grid) with the blocks,
    patch embedding and class token of its fine-tuning on the item crops (the classification cell the study chose);
    the position table stays the MAE's, of the scenes' grid (the classifier's is of the 48 px crops' grid)."""
    from mae_core.checkpoint.io import atomic_save, load_weights, read_checkpoint, read_state_dict
    from mae_core.checkpoint.pretrained import load_encoder
    from mae_core.errors import CheckpointMismatchError
    from transfer.studies.cells import cell_dir, read_result
    from transfer.studies.transfer_study import finetuned_source
    out = Path(args.output_dir)
    source = finetuned_source(args, seed)
    classifier = cell_dir(out, source) / "work" / "checkpoint-last.pth"
    mae_path = read_result(out, f"pretrain_mae_in_domain_s{seed}")["checkpoint"]
    vit, _ = load_encoder(mae_path)
    weights, _ = read_state_dict(classifier)
    try:   # the one loader, strict: every encoder tensor but the position table (and the norm a pooled head drops)
        report = load_weights(vit, {k: v for k, v in weights.items() if k != "pos_embed"},
                              allow_missing=("pos_embed", "norm.*"), allow_unexpected=("head.*", "fc_norm.*"),
                              source=str(classifier))
    except CheckpointMismatchError as e:
        raise ValueError(f"{classifier}: not a fine-tuning of the in-domain MAE's ViT ({e})") from None
    dst = work / f"encoder-finetuned-patch{args.patch_size}.pth"
    work.mkdir(parents=True, exist_ok=True)
    atomic_save({"model": vit.state_dict(), "manifest": {**read_checkpoint(mae_path).get("manifest", {}),
                                                         "source": str(classifier),
                                                         "note": "blocks of the crop fine-tuning, position table of "
                                                                 "the MAE"}}, dst)
    made = read_result(out, source) or {}
    return {"checkpoint": str(dst), "source_checkpoint": str(classifier), "source_cell": source,
            "steps": made.get("steps"), "batch": made.get("batch"),
            "keys_taken": len(vit.state_dict()) - len(report.missing),
            "note": "in-domain MAE fine-tuned on the crops (its steps and batch)"}


def run_pretrain(args, arm: str, seed: int, work: Path) -> dict:
    """-> {"checkpoint", "steps", "batch", "wall_s", ...} of the arm's starting weights."""
    from mae_core.config import load_config, shipped_config
    from mae_core.engine.trainer import pretrain, save_initial_checkpoint
    t0 = time.time()
    if arm == "mae_finetuned":
        return {**finetuned_start(args, seed, work), "wall_s": round(time.time() - t0, 1)}
    if arm == "scratch":   # the same model as the in-domain arm, at its (seeded) initialisation
        cfg = load_config(args.pretrain_config, in_domain_overrides(args, seed))
        return {"checkpoint": save_initial_checkpoint(cfg, work / "checkpoint-init.pth", seed), "steps": 0,
                "batch": 0, "wall_s": round(time.time() - t0, 1), "note": "random init"}
    if arm == "mae_demo":
        if args.demo_checkpoint:   # made once for every seed: its steps and batch from its manifest
            from mae_core.checkpoint.io import read_checkpoint
            made = read_checkpoint(args.demo_checkpoint).get("manifest", {})
            res = {"checkpoint": str(Path(args.demo_checkpoint).resolve()), "steps": made.get("step"),
                   "batch": made.get("config", {}).get("train", {}).get("batch_size"),
                   "note": "given by --demo-checkpoint (made once, its wall time not counted here)"}
        else:
            over = {"train.seed": seed, **precision_override(args)}
            if args.demo_steps:
                over["train.max_steps"] = args.demo_steps
            cfg = load_config(shipped_config("pretrain/demo.py"), over)
            got = pretrain(cfg, work)
            res = {"checkpoint": got["checkpoint"], "steps": got["step"], "batch": cfg.train.batch_size,
                   "final_loss": got.get("final_loss"), "precision": got.get("precision"),
                   "precision_choice": got.get("precision_choice")}
        return {**res, "source_checkpoint": res["checkpoint"],
                "checkpoint": to_study_grid(args, res["checkpoint"], work), "wall_s": round(time.time() - t0, 1)}
    over = {**in_domain_overrides(args, seed, args.pretrain_size), **in_domain_start(args, seed)}
    cfg = load_config(args.pretrain_config, over)
    res = pretrain(cfg, work)
    grid = {}
    if args.pretrain_full_steps:   # a second phase at the transfers' grid: the transfers take its checkpoint
        grid = full_resolution_phase(args, seed, res["checkpoint"], work / FULL_PHASE)
    elif cfg.model.img_size != args.size:   # its position table resampled to the transfers' grid (as ViTDet does)
        grid = {"source_checkpoint": res["checkpoint"], "checkpoint": to_study_grid(args, res["checkpoint"], work)}
    return {"checkpoint": res["checkpoint"], **grid, "steps": res["step"], "batch": cfg.train.batch_size,
            "final_loss": res.get("final_loss"), "precision": res.get("precision"),
            "precision_choice": res.get("precision_choice"), "peak_lr": res.get("peak_lr"),
            "img_size": cfg.model.img_size, "patch_size": cfg.model.patch_size,
            "init": over.get("train.init_from", "random"),
            "wall_s": round(time.time() - t0, 1)}


FULL_PHASE = "full_resolution"   # the second phase's folder inside the pretraining cell's work folder


def full_resolution_phase(args, seed: int, checkpoint: str, work: Path) -> dict:
    """``--pretrain-full-steps`` N: after the ``--pretrain-size`` phase, N more MAE steps at the transfers'
    resolution (their grid, token count and item scale), started from that phase's weights (encoder and decoder,
    position tables resampled; a fresh warmup and cosine schedule, as continued pretraining) -> the cell's result
    keys: its checkpoint (the transfers take it as it is, no resampling), "source_checkpoint" (the first phase's),
    "full_resolution" (its steps, final loss, peak lr, wall time)."""
    from mae_core.config import load_config
    from mae_core.engine.trainer import pretrain
    t0 = time.time()
    over = {**in_domain_overrides(args, seed, args.size, args.pretrain_full_steps), "train.init_from": checkpoint}
    cfg = load_config(args.pretrain_config, over)
    res = pretrain(cfg, work)
    return {"source_checkpoint": checkpoint, "checkpoint": res["checkpoint"],
            "full_resolution": {"steps": res["step"], "img_size": cfg.model.img_size,
                                "final_loss": res.get("final_loss"), "peak_lr": res.get("peak_lr"),
                                "wall_s": round(time.time() - t0, 1)}}


# ---------------------------------------------------------------------------------------------- transfers
def run_precision(work: Path) -> dict:
    """The precision a transfer trained in and why, from the metrics.json its tool wrote in `work` (detectron2,
    mmseg and the fine-tuning record both) -> {"precision", "precision_choice"}, as a pretraining cell records them."""
    m = json.loads((work / "metrics.json").read_text())
    return {"precision": m["precision"], "precision_choice": m["precision_choice"]}


def run_coco(args, arm: str, seed: int, lr_scale: float, work: Path, pre: dict, data: dict) -> dict:
    from transfer.studies.transfers import coco_files, coco_transfer
    files = coco_files(Path(args.output_dir) / "data" / "coco")
    # scratch: pre["checkpoint"] is the seeded random init of the same ViT
    r = coco_transfer(args.coco_config, files, work, pre["checkpoint"], args.coco_iters, seed, lr_scale)
    return {"metrics": {"bbox_AP": r["bbox_AP"], "segm_AP": r["segm_AP"]},
            **{k: r[k] for k in ("lr", "steps", "batch", "wall_s")}, **run_precision(work)}


def run_ade(args, arm: str, seed: int, lr_scale: float, work: Path, pre: dict, data: dict) -> dict:
    from transfer.studies.transfers import ade_transfer
    options = list(args.ade_options)
    r = ade_transfer(args.ade_config, str(Path(args.output_dir) / "data" / "ade"), len(data["data"]["classes"]),
                     work, pre["checkpoint"], args.ade_iters, seed, lr_scale, options)
    return {"metrics": {"mIoU": r["mIoU"]}, **{k: r[k] for k in ("lr", "steps", "batch", "wall_s")},
            **run_precision(work), **({"ade_options": options} if options else {})}


def run_cls(args, arm: str, seed: int, lr_scale: float, work: Path, pre: dict, data: dict) -> dict:
    """Fine-tuning on the item crops (OUT/data/folders) with the study's recipe, about `--ft-steps` steps (whole
    epochs); the steps reported are those the run took (its metrics.json)."""
    from mae_core.config import load_config
    from transfer.classification.finetune import run_finetune
    n_train = data["data"]["counts"]["train"]["crops"]
    batch = min(args.ft_batch, n_train)
    epochs = max(1, round(args.ft_steps * batch / n_train))
    blr = load_config(args.ft_config).finetune.blr * lr_scale
    over = {"data.dataset": "folder", "data.num_classes": len(data["data"]["classes"]), "finetune.epochs": epochs,
            "finetune.batch_size": batch, "finetune.blr": blr, "finetune.seed": seed,
            "finetune.warmup_epochs": min(1.0, epochs * 0.1)}
    if args.ft_size:
        over["data.input_size"] = args.ft_size
    t0 = time.time()
    # scratch: pre["checkpoint"] is the seeded random init of the same ViT
    run_finetune(load_config(args.ft_config, over), str(Path(args.output_dir) / "data" / "folders"), str(work),
                 pre["checkpoint"])
    m = json.loads((work / "metrics.json").read_text())
    return {"metrics": {"top1": round(float(m["top1"]), 2)}, "lr": blr * batch / 256, "steps": m["step"],
            "batch": batch, "wall_s": round(time.time() - t0, 1), **run_precision(work)}


def run_patch_probe(args, arm: str, seed: int, lr_scale: float, work: Path, pre: dict, data: dict) -> dict:
    """The arm's starting weights, frozen: a linear probe of their patch features on the scenes' labels
    (transfer.studies.patch_probe; no training of the encoder, so no lr choice)."""
    from transfer.studies.patch_probe import probe_checkpoint
    r = probe_checkpoint(pre["checkpoint"], Path(args.output_dir) / "data" / "ade", len(data["data"]["classes"]),
                         args.size, seed)
    return {"metrics": {"patch_acc": r["patch_acc"], "pos_share": r["pos_share"]}, "per_block": r["per_block"],
            "patches": r["patches"], "steps": 0, "batch": 0, "wall_s": r["wall_s"]}


RUNNERS = {"data": run_data, "pretrain": run_pretrain, "coco": run_coco, "ade20k": run_ade, "classification": run_cls,
           "patch_probe": run_patch_probe}
