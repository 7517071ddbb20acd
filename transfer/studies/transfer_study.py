"""Does the MAE transfer? MAE vs scratch on detection, segmentation and classification, with seeds, in one command.

For every seed, the arms give the same ViT (the demo's encoder size, 192 x 6, at ``--patch-size`` 8) its starting
weights: ``mae_in_domain`` (pretrained as an MAE on the train scenes' images at the transfer resolution,
configs/pretrain/transfer_study.py), ``mae_demo`` (the demo recipe on 28 px Fashion-MNIST items, patch 4: its patch
embedding and position table are resampled to the study's patch and grid), ``scratch`` (random init) and, when asked
for, ``mae_finetuned`` (the in-domain MAE after its classification cell's fine-tuning on the item crops: a supervised
start, which shows how much a better start can give each dense task at the study's budget);
``--in-domain-init demo`` starts the in-domain MAE from the seed's demo MAE instead of random weights. Each arm is
transferred with the same recipes: ViTDet Mask R-CNN (detectron2), UperNet (mmseg) and fine-tuning on the item
crops; and, before any training, the ``patch_probe``: a linear probe of the frozen starting weights' patch features
on the scenes' labels (transfer/studies/patch_probe.py), what each start knows. Fair learning rates: on the first
seed every (task, arm) runs at the recipe's lr and at ``--lr-factor`` times it; the better one (mean of the task's
metrics) is kept for the other seeds (the probe trains no encoder and has no lr to choose).

Every piece of work is a cell of :mod:`transfer.studies.cells` (``OUT/cells/<name>/``): a rerun skips finished cells
and an unfinished one resumes from its checkpoints. Output: ``OUT/transfer_study.json`` (``cells``: one entry per
measured figure; ``lr_runs``: both first-seed runs and the choice; ``budget``: steps, batch, wall time and load
average of every cell, the precision a pretraining ran in) and ``OUT/transfer_study.md``.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from mae_core.cli import int_range, tool_main
from mae_core.config import shipped_config
from mae_core.errors import ConfigError
from transfer.studies import cell_exchange
from transfer.studies import cells as cells_lib
from transfer.studies.cells import study_start
from transfer.studies.study_tables import (ARMS, FINETUNED, FROZEN, LRS, METRICS, build_results, markdown, pick_lr,
                                          write_outputs)

TASKS = tuple(METRICS)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description="MAE (in domain, demo) vs scratch, transferred to detection, "
                                            "segmentation and classification, over seeds")
    p.add_argument("--output-dir", default="runs/transfer_study")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (the lr choice is made on seed 0)")
    p.add_argument("--items", help="your items: DIR/train/<class>/* and DIR/val/<class>/* (default: Fashion-MNIST)")
    p.add_argument("--classes", default="", help="Fashion-MNIST labels to compose from, e.g. 0,1,7,8 (default: all)")
    p.add_argument("--size", type=int, default=128, help="scene side = transfer resolution (px)")
    p.add_argument("--patch-size", type=int, default=8,
                   help="the study's ViT patch (the demo checkpoint's patch 4 is resampled to it)")
    p.add_argument("--num-train", type=int, default=300, help="labelled train scenes (the transfers train on them)")
    p.add_argument("--num-val", type=int, default=100, help="val scenes")
    p.add_argument("--num-unlabelled", type=int, default=0,
                   help="pretrain the in-domain MAE on this many more train scenes, without labels, instead of the "
                        "labelled ones (items of the train split only)")
    p.add_argument("--unlabelled-items-per-scene", type=int_range, metavar="MIN,MAX",
                   help="items in each unlabelled scene (default: as many as the labelled scenes', 2,5); more put "
                        "more items and less background in each pretraining crop")
    p.add_argument("--arms", default=",".join(a for a in ARMS if a != FINETUNED),
                   help=f"of {', '.join(ARMS)} ({FINETUNED}: the in-domain arm's pretraining and crop fine-tuning "
                        "run too, whatever --arms and --tasks say)")
    p.add_argument("--tasks", default=",".join(TASKS))
    p.add_argument("--pretrain-steps", type=int, default=600, help="in-domain MAE steps")
    p.add_argument("--pretrain-batch", type=int, default=64)
    p.add_argument("--pretrain-size", type=int,
                   help="in-domain MAE resolution (px, default --size): a smaller one pretrains on a smaller grid of "
                        "the same patch (fewer tokens per image, so more images per minute), its position table "
                        "resampled to the transfers' grid")
    p.add_argument("--pretrain-full-steps", type=int, default=0,
                   help="after the --pretrain-size phase, this many more in-domain MAE steps at the transfer "
                        "resolution (--size), from its weights; the transfers take this phase's checkpoint")
    p.add_argument("--pretrain-blr", type=float, help="in-domain MAE base lr (lr = blr * batch/256; default: the "
                                                      "config's)")
    p.add_argument("--demo-steps", type=int, default=0, help="demo MAE steps (0: the demo recipe's 3 epochs)")
    p.add_argument("--demo-checkpoint", help="use this demo MAE checkpoint for every seed instead of pretraining")
    p.add_argument("--in-domain-init", choices=("random", "demo"), default="random",
                   help="the in-domain MAE starts from random weights, or from the seed's demo MAE (resampled to the "
                        "study's patch and grid; its cost paid once with --demo-checkpoint) and continues on the scenes")
    p.add_argument("--coco-iters", type=int, default=300)
    p.add_argument("--ade-iters", type=int, default=300)
    p.add_argument("--ft-steps", type=int, default=200)
    p.add_argument("--ft-batch", type=int, default=64)
    p.add_argument("--ft-size", type=int, help="classification input size (default: the config's)")
    p.add_argument("--lr-factor", type=float, default=3.0,
                   help="the second lr ('large' in cell names) = recipe lr x this (below 1: a smaller one)")
    p.add_argument("--task-lr-factor", nargs="+", default=[], metavar="TASK=FACTOR",
                   help="a task's own second-lr factor instead of --lr-factor's, e.g. coco=0.5 (the detector "
                        "fine-tunes an MAE best below its recipe's lr, UperNet above)")
    p.add_argument("--lrs", default=",".join(LRS),
                   help="the lrs the first seed runs for each (task, arm), the better kept for the other seeds: "
                        "recipe,large (default), or one of them (no choice: every seed runs at it)")
    p.add_argument("--precision", default=None,
                   help="pretraining precision, auto | fp32 | bf16 (default: the pretraining config's, auto in the "
                        "shipped ones: the fastest on this machine; each cell records which and why)")
    p.add_argument("--pretrain-config", default=str(shipped_config("pretrain/transfer_study.py")))
    p.add_argument("--coco-config", default=str(shipped_config("coco/transfer_study.py")))
    p.add_argument("--ade-config", default=str(shipped_config("ade20k/transfer_study.py")))
    p.add_argument("--ade-options", nargs="+", default=[], metavar="KEY=VALUE",
                   help="overrides of the UperNet recipe for every arm, checked at start (mmseg config keys, e.g. "
                        "optim_wrapper.paramwise_cfg.layer_decay_rate=1.0; iterations and lr stay --ade-iters' and "
                        "the lr choice's); each cell records them, and a finished one run with others stops the "
                        "study: give a variant its own --output-dir")
    p.add_argument("--ft-config", default=str(shipped_config("classification/transfer_study.py")))
    p.add_argument("--publish", help="also write transfer_study.json / .md here (e.g. docs/results), and the finished "
                                     "cells' results (cell_results.json; no checkpoints, no cells/)")
    p.add_argument("--import-cells", metavar="DIR",
                   help="a folder written by --publish: its finished cells count as this study's (its settings must "
                        "be this study's; the scenes are composed again and checked), so a study goes on with more "
                        "seeds on another machine (transfer.studies.cell_exchange)")
    p.add_argument("--rerun-tasks", default="", metavar="TASK,...",
                   help="with --import-cells: run these tasks' cells here instead of importing them, with this "
                        "study's recipe for them (--ade-config, --ft-config, ... may differ), from the imported "
                        "pretrainings' checkpoints, which must be on this machine")
    p.add_argument("--report-only", action="store_true",
                   help="run nothing: write the result files from the cells finished so far (a study run in parts)")
    cells_lib.add_cell_flags(p)
    return p


def _list(value: str, known: tuple[str, ...], flag: str) -> list[str]:
    got = [v for v in value.split(",") if v]
    bad = sorted(set(got) - set(known))
    if bad or not got:
        raise SystemExit(f"{flag}: unknown or empty {bad or value!r}; known: {', '.join(known)}")
    return got


# ----------------------------------------------------------------------------------------------- the cells
def cells(args) -> dict[str, dict]:
    """{name: spec} in run order; spec: kind, arm, seed, task, lr ('recipe' | 'large' | None = chosen), lrs (those
    the first seed runs), deps."""
    if args.seeds < 1:
        raise SystemExit(f"--seeds must be >= 1, got {args.seeds}")
    arms, tasks = _list(args.arms, ARMS, "--arms"), _list(args.tasks, TASKS, "--tasks")
    if args.pretrain_full_steps < 0 or (args.pretrain_full_steps and (args.pretrain_size or args.size) >= args.size):
        raise SystemExit(f"--pretrain-full-steps {args.pretrain_full_steps}: a second phase at the transfer "
                         f"resolution (--size {args.size}) needs a first one at a smaller --pretrain-size "
                         f"(got {args.pretrain_size}) and a step count >= 0")
    lrs = study_lrs(args)
    lr_factors(args)   # checked before any cell runs
    out: dict[str, dict] = {"data": {"kind": "data", "deps": ()}}
    finetuned = FINETUNED in arms   # needs the in-domain MAE and its classification cells, whatever --arms/--tasks say
    base = [a for a in arms if a != FINETUNED]
    if finetuned and "mae_in_domain" not in base:
        base.insert(0, "mae_in_domain")
    from_demo = args.in_domain_init == "demo" and "mae_in_domain" in base   # the demo MAE is made first
    pretrained = ("mae_demo", *(a for a in base if a != "mae_demo")) if from_demo else base
    for seed in range(args.seeds):   # seed by seed: a study stopped early has whole seeds
        for arm in pretrained:
            deps = ("data", f"pretrain_mae_demo_s{seed}") if arm == "mae_in_domain" and from_demo else ("data",)
            out[f"pretrain_{arm}_s{seed}"] = {"kind": "pretrain", "arm": arm, "seed": seed, "deps": deps}
        for task in tasks:
            for arm in (a for a in base if a in arms):
                out.update(transfer_cells(task, arm, seed, lrs))
        if finetuned:
            source = transfer_cells("classification", "mae_in_domain", seed, lrs)
            out.update({k: v for k, v in source.items() if k not in out})
            out[f"pretrain_{FINETUNED}_s{seed}"] = {"kind": "pretrain", "arm": FINETUNED, "seed": seed,
                                                    "deps": (f"pretrain_mae_in_domain_s{seed}", *source)}
            for task in tasks:
                if task != "classification":
                    out.update(transfer_cells(task, FINETUNED, seed, lrs))
    return out


def transfer_cells(task: str, arm: str, seed: int, lrs: tuple[str, ...]) -> dict[str, dict]:
    """The cells of one (task, arm, seed): the frozen probe once; on the first seed one run per lr of `lrs`; on a
    later seed one run at the lr chosen on the first (it waits for those runs)."""
    pre = f"pretrain_{arm}_s{seed}"
    if task in FROZEN:
        return {f"{task}_{arm}_s{seed}": {"kind": task, "arm": arm, "seed": seed, "lr": None, "lrs": (),
                                          "deps": (pre,)}}
    if seed == 0:
        return {f"{task}_{arm}_s0_{lr}": {"kind": task, "arm": arm, "seed": 0, "lr": lr, "lrs": lrs, "deps": (pre,)}
                for lr in lrs}
    return {f"{task}_{arm}_s{seed}": {"kind": task, "arm": arm, "seed": seed, "lr": None, "lrs": lrs,
                                      "deps": (pre, *(f"{task}_{arm}_s0_{lr}" for lr in lrs))}}


def lr_factors(args) -> dict[str, float]:
    """{task: the factor of its second lr}: ``--lr-factor`` for every task, ``--task-lr-factor TASK=FACTOR`` where
    given; a bad task or value stops the study before any cell, naming it."""
    out = {t: args.lr_factor for t in TASKS}
    for item in args.task_lr_factor:
        task, _, value = item.partition("=")
        try:
            factor = float(value)
        except ValueError:
            factor = 0.0
        if task not in TASKS or not factor > 0:
            raise ConfigError(f"--task-lr-factor {item!r}: expected TASK=FACTOR with TASK one of {', '.join(TASKS)} "
                             f"and FACTOR > 0")
        out[task] = factor
    if not args.lr_factor > 0:
        raise ConfigError(f"--lr-factor must be > 0, got {args.lr_factor}")
    return out


def study_lrs(args) -> tuple[str, ...]:
    """The lrs of ``--lrs`` in LRS order (the first seed runs each)."""
    return tuple(lr for lr in LRS if lr in _list(args.lrs, LRS, "--lrs"))


def finetuned_source(args, seed: int) -> str:
    """The classification cell the ``mae_finetuned`` arm of `seed` starts from: the in-domain MAE's crop fine-tuning
    of that seed, on the first seed the run at the lr the study chose."""
    if seed:
        return f"classification_mae_in_domain_s{seed}"
    lr = chosen_lr(Path(args.output_dir), "classification", "mae_in_domain", study_lrs(args))
    return f"classification_mae_in_domain_s0_{lr}"


def chosen_lr(out: Path, task: str, arm: str, lrs: tuple[str, ...] = LRS) -> str:
    """The better lr of the first seed's runs of (task, arm) at `lrs`; a tie keeps the recipe's."""
    runs = {lr: cells_lib.read_result(out, f"{task}_{arm}_s0_{lr}") for lr in lrs}
    missing = [lr for lr, r in runs.items() if r is None]
    if missing:
        raise RuntimeError(f"lr choice of {task}/{arm}: first-seed run(s) {missing} have no result in {out}/cells")
    return pick_lr(task, runs)


def run_cell(args, name: str) -> dict:
    """Runs cell `name` in this process and writes its result.json (skipped when it exists)."""
    from transfer.studies import study_runners as runners
    spec = cells(args)[name]
    out = Path(args.output_dir)

    def work(wdir: Path) -> dict:
        if spec["kind"] == "data":
            return runners.RUNNERS["data"](args, out / "data")
        if spec["kind"] == "pretrain":
            return {"arm": spec["arm"], "seed": spec["seed"],
                    **runners.RUNNERS["pretrain"](args, spec["arm"], spec["seed"], wdir)}
        task, arm, seed = spec["kind"], spec["arm"], spec["seed"]
        lr = spec["lr"] or (chosen_lr(out, task, arm, spec["lrs"]) if spec["lrs"] else None)
        pre = cells_lib.read_result(out, f"pretrain_{arm}_s{seed}")
        data = cells_lib.read_result(out, "data")
        res = runners.RUNNERS[task](args, arm, seed, lr_factors(args)[task] if lr == "large" else 1.0, wdir, pre, data)
        return {"task": task, "arm": arm, "seed": seed, "lr_choice": lr,
                "lr_chosen_on_seed0": spec["lr"] is None and bool(spec["lrs"]), **res}
    return cells_lib.run_cell(out, name, work)


def check_finished_cells(args, out: Path) -> None:
    """Before any cell runs: ``--ade-options`` apply to the UperNet recipe (a bad key or value is a ConfigError
    naming it), and every finished cell in `out` ran as this study would run it (else its figure would be reused
    under other settings): the UperNet cells with the same ``--ade-options``, and a cell at the second lr at this
    task's factor over the recipe's lr (the ratio of its recorded lr to that of seed 0's recipe cell of its arm)."""
    if args.ade_options and "ade20k" in _list(args.tasks, TASKS, "--tasks"):
        from transfer.studies.transfers import ade_recipe
        ade_recipe(args.ade_config, args.ade_options)
    factors = lr_factors(args)
    for name, spec in cells(args).items():
        done = cells_lib.read_result(out, name) if spec["kind"] in TASKS else None
        if done is None:
            continue
        if spec["kind"] == "ade20k" and done.get("ade_options", []) != list(args.ade_options):
            raise ConfigError(f"{out}/cells/{name} ran with --ade-options {done.get('ade_options', [])}, not "
                              f"{list(args.ade_options)}: give this variant its own --output-dir")
        recipe = cells_lib.read_result(out, f"{spec['kind']}_{spec['arm']}_s0_recipe")
        if done.get("lr_choice") == "large" and recipe and recipe.get("lr") and done.get("lr"):
            ran = done["lr"] / recipe["lr"]
            if abs(ran - factors[spec["kind"]]) > 1e-6 * ran:
                raise ConfigError(f"{out}/cells/{name} ran its second lr at {ran:.4g} x the recipe's, not "
                                  f"{factors[spec['kind']]:g} (--lr-factor / --task-lr-factor): give this variant "
                                  f"its own --output-dir")


def cell_command(argv: list[str], name: str) -> list[str]:
    """The subprocess of one cell: this module with the study's arguments and ``--run-cell``."""
    return [sys.executable, "-m", "transfer.studies.transfer_study", *argv, "--run-cell", name]


def schedule(args, argv: list[str], only: tuple[str, ...] = ()) -> dict[str, str]:
    """Runs the study's unfinished cells (those of `only` when given) -> {cell: state}."""
    todo = [(name, spec["deps"]) for name, spec in cells(args).items() if not only or name in only]
    here = (lambda name: run_cell(args, name)) if args.in_process else None
    return cells_lib.schedule(Path(args.output_dir), todo, lambda name: cell_command(argv, name),
                              cells_lib.gpu_count(), run_here=here)


@tool_main
def main(argv: list[str] | None = None) -> int:
    started = study_start(argv, build_parser(), run_cell)
    if started is None:
        return 0
    argv, args, out = started
    if args.import_cells:
        rerun = tuple(_list(args.rerun_tasks, TASKS, "--rerun-tasks")) if args.rerun_tasks else ()
        theirs = argparse.Namespace(**{**vars(build_parser().parse_args([])),
                                       **cell_exchange.published(args.import_cells)[0].get("args", {})})
        imported = cell_exchange.import_cells(args.import_cells, cells(args), out, vars(args), rerun,
                                              (lr_factors(theirs), lr_factors(args)))
        logging.getLogger(__name__).info("imported %d finished cells from %s", len(imported), args.import_cells)
    elif args.rerun_tasks:
        raise ConfigError("--rerun-tasks: only with --import-cells (the tasks of the imported study to run here)")
    check_finished_cells(args, out)
    if args.import_cells and not args.report_only:   # the scenes first, checked before any other cell runs
        if schedule(args, argv, only=("data",))["data"] in ("done", "skipped"):
            cell_exchange.check_scenes(args.import_cells, out)
    if args.report_only:
        state = {name: "done" if cells_lib.read_result(out, name) is not None else "not run" for name in cells(args)}
    else:
        state = schedule(args, argv)
    results = build_results(out, cells(args), state, vars(args))
    write_outputs(out, results, markdown(results))
    if args.publish:
        Path(args.publish).mkdir(parents=True, exist_ok=True)
        write_outputs(Path(args.publish), results, markdown(results), echo=False)
        cell_exchange.publish_cells(out, cells(args), Path(args.publish))
    return cells_lib.unfinished(state, out)

if __name__ == "__main__":
    sys.exit(main())
