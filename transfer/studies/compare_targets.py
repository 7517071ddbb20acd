"""The paper's Table 7 on your data in one command: the same MAE pretrained with three reconstruction targets
(pixel w/o norm, pixel w/ norm, dVAE token with this project's tokenizer), each transferred to classification
fine-tuning, COCO-format detection (box / mask AP) and ADE20K-format segmentation (mIoU).

Every cell (one pretraining per target, one transfer per target x task) is a separate job in its own folder
``OUT/cells/<task>_<target>/`` whose ``result.json`` is written atomically: a rerun skips finished cells, and an
unfinished one resumes from its folder (the trainers resume from their checkpoints). Cells run as subprocesses:
one per GPU in parallel (``CUDA_VISIBLE_DEVICES``) when several GPUs are visible, one at a time otherwise.
detectron2 and mmseg are imported only inside the cells that need them.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from mae_core.config import shipped_config
from transfer.studies import cells as cells_lib
from transfer.studies import tables
from transfer.studies.cells import study_start, write_atomic


# (key, the paper's row label, ablation row config of Table 1(d))
TARGETS = (("pixel", "pixel (w/o norm)", "d1_pixel"),
           ("norm_pixel", "pixel (w/ norm)", "d2_norm_pixel"),
           ("dvae_token", "dVAE token", "d4_dvae_token"))
# the optional floor (--with-scratch): the same encoder, randomly initialised (the norm-pixel row's config, no steps)
SCRATCH = ("scratch", "random init (no pretraining)", "d2_norm_pixel")
TASKS = ("cls", "coco", "ade")
# (task, result key, column name); the paper's columns are IN1K top-1, COCO AP^box / AP^mask, ADE20K mIoU
COLUMNS = (("cls", "top1", "classification top-1"), ("coco", "box_ap", "COCO-format AP^box"),
           ("coco", "mask_ap", "COCO-format AP^mask"), ("ade", "miou", "ADE20K-format mIoU"))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="Table 7: pixel vs normalised pixel vs dVAE token targets, transferred "
                                            "to classification, COCO detection and ADE20K segmentation")
    p.add_argument("--output-dir", default="runs/compare_targets")
    p.add_argument("--scale", choices=["small"], default="small",
                   help="small: Fashion-MNIST, the demo ViT and the smoke transfer configs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--seeds", help="several seeds, e.g. 0,1: one study per seed in OUT/seed<k>/, then the table of "
                                   "mean ± std over them in OUT/")
    p.add_argument("--pretrain-steps", type=int, default=300)
    p.add_argument("--pretrain-batch", type=int, default=64)
    p.add_argument("--tokenizer-steps", type=int, default=300, help="training steps of the dVAE tokenizer")
    p.add_argument("--ft-steps", type=int, default=300)
    p.add_argument("--ft-batch", type=int, default=64)
    p.add_argument("--ft-blr", type=float, default=1e-2,
                   help="fine-tuning base lr (lr = blr * batch / 256); measured on a 300-step pixel MAE at this "
                        "budget: 1e-2 gave 62.1%% after 100 steps, 5e-3 60.1%%, 2e-3 48.0%%, 3e-2 47.1%%")
    p.add_argument("--ft-test-images", type=int, default=2000,
                   help="fine-tuning evaluation: this many test images, the same number from every class")
    p.add_argument("--coco-iters", type=int, default=300)
    p.add_argument("--ade-iters", type=int, default=150)
    p.add_argument("--data", default="fashion-mnist",
                   help="pretraining data (data.path): 'fashion-mnist', an IDX folder or an image folder")
    p.add_argument("--coco-train-json"), p.add_argument("--coco-train-images")
    p.add_argument("--coco-val-json"), p.add_argument("--coco-val-images")
    p.add_argument("--ade-root", help="ADE20K-layout root (default: generated from Fashion-MNIST)")
    p.add_argument("--ade-classes", type=int, default=10)
    p.add_argument("--synthetic-sizes", default="300,100,400,100",
                   help="generated sets when none is given: COCO train,val and ADE train,val image counts")
    p.add_argument("--tasks", default=",".join(TASKS), help="subset of cls,coco,ade")
    p.add_argument("--coco-config", default=str(shipped_config("coco/smoke.py")))
    p.add_argument("--ade-config", default=str(shipped_config("ade20k/smoke.py")))
    p.add_argument("--with-scratch", action="store_true",
                   help="also a row of the same encoder randomly initialised (no pretraining), transferred alike")
    cells_lib.add_cell_flags(p)
    return p


# ----------------------------------------------------------------------------------------------- cells
def cell_dir(out: Path, task: str, target: str) -> Path:
    return cells_lib.cell_dir(out, f"{task}_{target}")


def targets(args) -> tuple[tuple[str, str, str], ...]:
    """(key, row label, Table 1(d) row config) of the table's rows, the scratch floor last when asked for."""
    return TARGETS + ((SCRATCH,) if getattr(args, "with_scratch", False) else ())


def _pretrain_cfg(args, target: str):
    from mae_core.config import apply_overrides
    from transfer.studies.ablation.rows import default_rows_dir, find_rows
    from transfer.studies.ablation.runner import SmallBudget, prepare_tokenizer
    row = {r.key: r for r in find_rows("d", default_rows_dir())}[dict((t, k) for t, _, k in targets(args))[target]]
    budget = SmallBudget(pretrain_steps=args.pretrain_steps, batch_size=args.pretrain_batch)
    over = {**budget.overrides(args.seed), "data.path": args.data}
    cfg = apply_overrides(row.load("small"), over)
    prepare_tokenizer(cfg, Path(args.output_dir), steps=args.tokenizer_steps)
    cfg.validate()
    return cfg


def run_pretrain(args, target: str, work: Path) -> dict:
    from mae_core.engine.trainer import pretrain
    cfg = _pretrain_cfg(args, target)
    if target == SCRATCH[0]:   # the floor: the same model at its initialisation, no steps
        from mae_core.engine.trainer import save_initial_checkpoint
        return {"checkpoint": save_initial_checkpoint(cfg, work / "checkpoint-init.pth", args.seed),
                "final_loss": None, "wall_s": 0.0, "target": "none (random init)", "target_args": ""}
    t0 = time.time()
    pre = pretrain(cfg, work)
    return {"checkpoint": pre["checkpoint"], "final_loss": pre.get("final_loss"), "wall_s": round(time.time() - t0, 1),
            "target": cfg.model.target, "target_args": cfg.model.target_args}


def _checkpoint(args, target: str) -> str:
    res = json.loads((cell_dir(Path(args.output_dir), "pretrain", target) / "result.json").read_text())
    return res["checkpoint"]


def run_cls(args, target: str, work: Path) -> dict:
    from transfer.classification.short_finetune import short_finetune
    if args.data != "fashion-mnist":
        raise NotImplementedError("the small-scale classification cell fine-tunes on Fashion-MNIST; for other data "
                                  "use the classification transfer (tools/finetune.py) on the pretrain checkpoints")
    cfg = _pretrain_cfg(args, target)
    t0 = time.time()
    ft = short_finetune(_checkpoint(args, target), work, cfg.model.img_size, cfg.data.mean, cfg.data.std,
                        steps=args.ft_steps, batch_size=args.ft_batch, base_lr=args.ft_blr,
                        test_per_class=args.ft_test_images // 10, seed=args.seed)
    return {"top1": ft["top1"], "finetune": ft, "wall_s": round(time.time() - t0, 1)}


def run_coco(args, target: str, work: Path) -> dict:
    from transfer.studies.transfers import coco_transfer
    r = coco_transfer(args.coco_config, _coco_data(args), work, _checkpoint(args, target), args.coco_iters, args.seed)
    return {"box_ap": r["bbox_AP"], "mask_ap": r["segm_AP"], "metrics": r["metrics"], "resumed": r["resumed"]}


def run_ade(args, target: str, work: Path) -> dict:
    from transfer.studies.transfers import ade_transfer
    root = args.ade_root or str(Path(args.output_dir) / "data" / "ade")
    r = ade_transfer(str(args.ade_config), root, args.ade_classes, work, _checkpoint(args, target), args.ade_iters,
                     args.seed)
    return {"miou": r["mIoU"], "metrics": r["metrics"]}


def _coco_data(args) -> dict[str, tuple[str, str]]:
    if args.coco_train_json:
        return {"train": (args.coco_train_json, args.coco_train_images),
                "val": (args.coco_val_json, args.coco_val_images)}
    from transfer.studies.transfers import coco_files
    return coco_files(Path(args.output_dir) / "data" / "coco")


RUNNERS = {"pretrain": run_pretrain, "cls": run_cls, "coco": run_coco, "ade": run_ade}


def run_cell(args, name: str) -> dict:
    """Runs one cell in this process ('<task>_<target>') and writes its result.json atomically."""
    task, target = name.split("_", 1)
    return cells_lib.run_cell(Path(args.output_dir), name, lambda work: {
        "task": task, "target": target, **RUNNERS[task](args, target, work)})


# ------------------------------------------------------------------------------------------- scheduler
def prepare_data(args) -> None:
    """Small scale: the generated COCO / ADE20K-format sets from Fashion-MNIST, unless the user names theirs."""
    tasks = args.tasks.split(",")
    n = [int(x) for x in args.synthetic_sizes.split(",")]
    out = Path(args.output_dir) / "data"
    if "coco" in tasks and not args.coco_train_json and not (out / "coco" / "done").exists():
        from transfer.studies.scenes import make_fashion_coco
        make_fashion_coco(out / "coco", num_train=n[0], num_val=n[1], seed=args.seed)
        (out / "coco" / "done").write_text("")
    if "ade" in tasks and not args.ade_root and not (out / "ade" / "done").exists():
        from transfer.studies.scenes import make_fashion_ade
        make_fashion_ade(out / "ade", num_train=n[2], num_val=n[3], seed=args.seed)
        (out / "ade" / "done").write_text("")


def cells(args) -> list[tuple[str, str | None]]:
    """(cell, the cell it waits for) in run order: pretrainings first, then the transfers."""
    tasks = [t for t in args.tasks.split(",") if t]
    bad = set(tasks) - set(TASKS)
    if bad:
        raise SystemExit(f"unknown tasks {sorted(bad)}; known: {', '.join(TASKS)}")
    out = [(f"pretrain_{t}", None) for t, _, _ in targets(args)]
    out += [(f"{task}_{t}", f"pretrain_{t}") for task in tasks for t, _, _ in targets(args)]
    return out


def _gpu_count() -> int:
    return cells_lib.gpu_count()


def cell_command(argv: list[str], name: str) -> list[str]:
    """The subprocess that runs one cell: this module with the study's arguments and ``--run-cell``."""
    return [sys.executable, "-m", "transfer.studies.compare_targets", *argv, "--run-cell", name]


def schedule(args, argv: list[str]) -> dict[str, str]:
    """Runs every unfinished cell (see :func:`transfer.studies.cells.schedule`)
    -> {cell: 'skipped' | 'done' | 'failed' | 'blocked'}."""
    here = (lambda name: run_cell(args, name)) if args.in_process else None
    return cells_lib.schedule(Path(args.output_dir), cells(args), lambda name: cell_command(argv, name),
                              _gpu_count(), run_here=here)


# ----------------------------------------------------------------------------------------------- table
def build_table(args) -> dict:
    """The table of the tasks run (`--tasks`): a row per target, the token - norm. pixel difference."""
    out = Path(args.output_dir)
    tasks = [t for t in str(getattr(args, "tasks", ",".join(TASKS))).split(",") if t]
    columns = [c for c in COLUMNS if c[0] in tasks]
    rows = []
    for target, label, _ in TARGETS:
        rows.append(_row(out, target, label, columns))
    diff = {"target": "difference", "label": "token - norm. pixel"}
    for task, key, _ in columns:
        a, b = rows[2][f"{task}_{key}"], rows[1][f"{task}_{key}"]
        diff[f"{task}_{key}"] = None if a is None or b is None else round(a - b, 2)
    rows.append(diff)
    if getattr(args, "with_scratch", False):   # the floor goes below the paper's rows
        rows.append(_row(out, *SCRATCH[:2], columns))
    return {"rows": rows, "columns": [{"key": f"{t}_{k}", "name": n} for t, k, n in columns],
            "scale": args.scale, "budget": {k: getattr(args, k) for k in (
                "seed", "pretrain_steps", "pretrain_batch", "tokenizer_steps", "ft_steps", "ft_batch", "ft_blr",
                "ft_test_images", "coco_iters", "ade_iters", "data")},
            "note": "small scale: classification is Fashion-MNIST fine-tuning, detection / segmentation the generated "
                    "Fashion-MNIST COCO / ADE20K-format sets; not comparable with the paper's numbers"}


def _row(out: Path, target: str, label: str, columns=COLUMNS) -> dict:
    row = {"target": target, "label": label}
    for task, key, _ in columns:
        f = cell_dir(out, task, target) / "result.json"
        row[f"{task}_{key}"] = json.loads(f.read_text()).get(key) if f.exists() else None
    return row


def markdown(table: dict) -> str:
    """The Table 7 layout (the difference row signed), through the one table module."""
    rows = [{**r, "signed": r["target"] == "difference"} for r in table["rows"]]
    return tables.markdown(table["columns"], rows, label_header="target")


def main(argv: list[str] | None = None) -> int:
    started = study_start(argv, build_parser(), run_cell)
    if started is None:
        return 0
    argv, args, out = started
    if args.seeds:
        return run_seeds(argv, out, [int(s) for s in args.seeds.split(",") if s.strip()])
    prepare_data(args)
    state = schedule(args, argv)
    table = build_table(args)
    table["cells"] = state
    write_outputs(out, table, markdown(table))
    return cells_lib.unfinished(state, out)

def write_outputs(out: Path, table: dict, md: str) -> None:
    """OUT/table7.json and OUT/table7.md (both atomically); the Markdown is printed."""
    write_atomic(out / "table7.json", table)
    tmp = out / "table7.md.tmp"
    tmp.write_text(md)
    os.replace(tmp, out / "table7.md")
    print(md, end="")


def run_seeds(argv: list[str], out: Path, seeds: list[int]) -> int:
    """One study per seed (OUT/seed<k>/, each resumable), then the mean ± std table in OUT/."""
    from transfer.studies.seeds import markdown_mean, merge_tables, read_seed_tables, seed_argv
    if not seeds:
        raise SystemExit("--seeds: give at least one seed, e.g. --seeds 0,1")
    codes = [main(seed_argv(argv, s, out)) for s in seeds]
    tables = read_seed_tables(out, seeds)
    if tables:
        merged = merge_tables(tables)
        write_outputs(out, merged, markdown_mean(merged))
    return max(codes)


if __name__ == "__main__":
    sys.exit(main())
