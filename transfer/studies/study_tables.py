"""The transfer study's result file and table, from its cells' result.json files (see transfer_study.py)."""
from __future__ import annotations

import math
import os
from pathlib import Path

from mae_core.engine.metrics_log import run_context
from transfer.studies.cells import read_result
from transfer.studies.tables import markdown as markdown_table
from transfer.studies.tables import stat, write_table

METRICS = {"coco": ("bbox_AP", "segm_AP"), "ade20k": ("mIoU",), "classification": ("top1",),
           "patch_probe": ("patch_acc", "pos_share")}
FROZEN = ("patch_probe",)   # measured on the starting weights as they are: no training, so no lr to choose
ARMS = ("mae_in_domain", "mae_demo", "mae_finetuned", "scratch")
# The in-domain MAE after its fine-tuning on the item crops (a supervised start, as BEiT's intermediate fine-tuning
# before ADE20K): made from the in-domain arm's classification cells, so it has no classification figure of its own.
FINETUNED = "mae_finetuned"
LRS = ("recipe", "large")


def mean_std(values: list[float]) -> dict:
    """Statistics cell of the one table module (std None for one value)."""
    return stat(values)


def score(task: str, metrics: dict) -> float:
    """What the lr choice maximises: the mean of the task's metrics (NaN counts as 0)."""
    vals = [metrics.get(m) for m in METRICS[task]]
    return sum(0.0 if v is None or math.isnan(v) else v for v in vals) / len(vals)


def pick_lr(task: str, runs: dict[str, dict]) -> str:
    """The better of the runs {lr: result} by :func:`score`; a tie keeps the recipe's lr."""
    return max(runs, key=lambda lr: (score(task, runs[lr]["metrics"]), lr == "recipe"))


def portable(value):
    """An absolute path inside the working directory -> relative to it (result files name no machine's folders)."""
    if isinstance(value, str) and os.path.isabs(value):
        rel = os.path.relpath(value)
        return value if rel.startswith("..") else rel
    return value


def build_results(out: Path, spec: dict[str, dict], state: dict[str, str], args: dict) -> dict:
    """-> {"cells": one entry per figure, "lr_runs", "summary", "differences", "budget", "scenes" (the data cell's
    counts: scenes, crops, the share of pixels the items cover), "state", "args"}."""
    figures, lr_runs, budget = [], [], []
    for name in spec:
        r = read_result(out, name)
        if r is not None:
            budget.append({"cell": name, "seed": spec[name].get("seed"), "steps": r.get("steps"),
                           "batch": r.get("batch"), "wall_s": r.get("cell_wall_s"), "load_avg": r.get("load_avg"),
                           **{k: r[k] for k in ("final_loss", "precision", "precision_choice", "note",
                                                "full_resolution", "ran_at", "imported_from")
                              if r.get(k) is not None}})
    chosen: dict[tuple[str, str, int], dict] = {}
    for name, s in spec.items():
        if s["kind"] not in METRICS:
            continue
        task, arm, seed = s["kind"], s["arm"], s["seed"]
        if s["lr"] is not None and s["lr"] == s["lrs"][0]:   # first seed: its runs and the choice
            runs = {lr: read_result(out, f"{task}_{arm}_s0_{lr}") for lr in s["lrs"]}
            if any(v is None for v in runs.values()):
                continue
            pick = pick_lr(task, runs)
            lr_runs.append({"task": task, "arm": arm, "seed": 0, "chosen": pick,
                            "runs": {lr: {k: runs[lr].get(k) for k in ("lr", "metrics", "steps", "batch", "wall_s")}
                                     for lr in runs}})
            chosen[(task, arm, seed)] = {**runs[pick], "cell": f"{task}_{arm}_s0_{pick}"}
        elif s["lr"] is None and (r := read_result(out, name)) is not None:
            chosen[(task, arm, seed)] = r
    for (task, arm, seed), r in sorted(chosen.items(), key=lambda kv: (kv[0][2], kv[0][0], kv[0][1])):
        missing = [m for m in METRICS[task] if m not in r["metrics"]]
        if missing:
            raise ValueError(f"{out}/cells/{r.get('cell')}/result.json has no {', '.join(missing)} (an older version "
                             f"of the study wrote it): delete that cell's folder to measure it again")
        by_block = r.get("per_block") or {}
        for metric in METRICS[task]:
            figures.append({"task": task, "arm": arm, "seed": seed, "metric": metric, "value": r["metrics"][metric],
                            "lr": r.get("lr"), "lr_choice": r.get("lr_choice"), "steps": r.get("steps"),
                            "batch": r.get("batch"), "wall_s": r.get("cell_wall_s"), "load_avg": r.get("load_avg"),
                            "cell": r.get("cell"), **({"per_block": by_block[metric]} if metric in by_block else {})})
    summary: dict = {}
    for f in figures:
        summary.setdefault(f["task"], {}).setdefault(f["metric"], {}).setdefault(f["arm"], []).append(f["value"])
    summary = {t: {m: {a: mean_std(v) for a, v in arms.items()} for m, arms in ms.items()} for t, ms in summary.items()}
    value = {(f["task"], f["metric"], f["arm"], f["seed"]): f["value"] for f in figures}
    diffs: dict = {}
    for (task, metric, arm, seed), v in sorted(value.items()):
        if arm == "scratch" or (task, metric, "scratch", seed) not in value:
            continue
        d = round(v - value[(task, metric, "scratch", seed)], 2)
        diffs.setdefault(arm, {}).setdefault(task, {}).setdefault(metric, {"per_seed": {}})["per_seed"][seed] = d
    for arm in diffs.values():
        for ms in arm.values():
            for entry in ms.values():
                entry.update({k: v for k, v in mean_std(list(entry["per_seed"].values())).items() if k != "values"})
    data = read_result(out, "data") or {}
    return {"cells": figures, "lr_runs": lr_runs, "summary": summary, "differences": diffs, "budget": budget,
            "seed_wall": seed_wall(budget), "scenes": data.get("data", {}).get("counts"), "state": state,
            "args": {k: portable(v) for k, v in args.items() if k != "run_cell"},
            "machine": run_context()}


def seed_wall(budget: list[dict]) -> list[dict]:
    """The wall time of each seed's finished cells -> [{"seed", "cells", "wall_s", "pretrain_wall_s"}], the first
    seed's including the cells no seed owns (the scenes), as running that seed alone takes them too. Each cell counts
    the time its result.json records: a cell linked from another study, the time it took there; a cell that resumed
    an earlier run, only the steps it had left."""
    seeds = sorted({b["seed"] for b in budget if b.get("seed") is not None})
    rows = []
    for seed in seeds:
        mine = [b for b in budget if b.get("seed") == seed or (b.get("seed") is None and seed == seeds[0])]
        rows.append({"seed": seed, "cells": len(mine), "wall_s": round(sum(b["wall_s"] or 0 for b in mine), 1),
                     "pretrain_wall_s": round(sum(b["wall_s"] or 0 for b in mine
                                                  if b["cell"].startswith("pretrain_")), 1)})
    return rows


def markdown(res: dict) -> str:
    """The study's Markdown: mean ± std per arm, MAE - scratch per seed, the lr choice, the budget of every cell
    (each a table of the one table module)."""
    cols = [{"key": f"{t} {m}", "name": f"{t} {m}"} for t, ms in METRICS.items() for m in ms if t in res["summary"]]
    rows = [{"arm": arm, **{c["key"]: res["summary"][c["key"].split()[0]][c["key"].split()[1]].get(arm) for c in cols}}
            for arm in ARMS]
    parts = [markdown_table(cols, [r for r in rows if any(r[c["key"]] for c in cols)], label="arm",
                            label_header="arm", title="## mean ± std over seeds")]
    for arm, tasks in res["differences"].items():
        seeds = sorted({s for ms in tasks.values() for e in ms.values() for s in e["per_seed"]})
        dcols = [{"key": s, "name": f"seed {s}"} for s in seeds] + [{"key": "all", "name": "mean ± std"}]
        drows = [{"figure": f"{task} {metric}", "signed": True, **e["per_seed"], "all": e}
                 for task, ms in tasks.items() for metric, e in ms.items()]
        parts.append(markdown_table(dcols, drows, label="figure", label_header="figure",
                                    title=f"## {arm} - scratch, per seed"))
    lcols = [{"key": k, "name": n} for k, n in (("arm", "arm"), ("recipe_lr", "recipe lr"), ("recipe_score", "its score"),
                                                ("large_lr", "second lr (x recipe)"), ("large_score", "its score"),
                                                ("chosen", "chosen"))]
    lrows = [{"task": r["task"], "arm": r["arm"], "chosen": r["chosen"],
              **{f"{lr}_{k}": "-" for lr in LRS for k in ("lr", "score")},
              **{k: v for lr, run in r["runs"].items()
                 for k, v in ((f"{lr}_lr", _lr(run["lr"], r["runs"])), (f"{lr}_score", _fmt(run["metrics"])))}}
             for r in res["lr_runs"]]
    parts.append(markdown_table(lcols, lrows, label="task", label_header="task",
                                title="## learning rate choice (seed 0; kept for the other seeds)"))
    bcols = [{"key": k, "name": n} for k, n in (("steps", "steps"), ("batch", "batch"), ("wall_s", "wall s"),
                                                ("load", "load avg mean / max"), ("loss", "final loss"),
                                                ("ran_at", "ran at"))]
    brows = [{**{k: _v(b[k]) for k in ("cell", "steps", "batch", "wall_s")},
              "load": f"{_v((b['load_avg'] or {}).get('mean'))} / {_v((b['load_avg'] or {}).get('max'))}",
              "loss": _loss(b.get("final_loss")), "ran_at": _ran_at(b), **_full_phase(b)}
             for b in res["budget"]]
    parts.append(markdown_table(bcols, brows, label="cell", label_header="cell", title="## budget of every cell"))
    wcols = [{"key": k, "name": n} for k, n in (("cells", "cells"), ("minutes", "wall min"),
                                                ("pretrain", "of which pretraining"))]
    wrows = [{"seed": f"seed {w['seed']}", "cells": str(w["cells"]), "minutes": f"{w['wall_s'] / 60:.1f}",
              "pretrain": f"{w['pretrain_wall_s'] / 60:.1f}"} for w in res.get("seed_wall", [])]
    parts.append(markdown_table(wcols, wrows, label="seed", label_header="seed",
                                title="## wall time per seed (the first seed's includes the scenes)"))
    return "\n".join(parts)


def _full_phase(b: dict) -> dict:
    """A pretraining with a phase at the transfer resolution: steps and final loss as 'first + second phase'."""
    full = b.get("full_resolution")
    if not full:
        return {}
    return {"steps": f"{_v(b['steps'])} + {full['steps']} at {full['img_size']} px",
            "loss": f"{_loss(b.get('final_loss'))} / {_loss(full.get('final_loss'))}"}


def _ran_at(b: dict) -> str:
    """The commit a cell ran at (its first 7 characters, '+' when the tree had changes), and 'imported' for a cell
    imported from a published study; '-' for a cell of an older version, which did not record it."""
    commit = (b.get("ran_at") or {}).get("commit")
    said = "-" if not commit else commit[:7] + ("+" if commit.endswith("+changes") else "")
    return f"{said}, imported" if b.get("imported_from") else said


def _loss(x) -> str:
    return "-" if x is None else f"{x:.3f}"


def _lr(lr: float, runs: dict) -> str:
    """An lr, and for a second lr its factor over the recipe's run: '6.00e-04 (x0.5)'."""
    recipe = (runs.get("recipe") or {}).get("lr")
    return f"{lr:.2e}" if not recipe or lr == recipe else f"{lr:.2e} (x{lr / recipe:.3g})"


def _fmt(metrics: dict) -> str:
    return ", ".join(f"{k} {v:.1f}" for k, v in metrics.items())


def _v(x) -> str:
    return "-" if x is None else str(x)


def write_outputs(out: Path, results: dict, md: str, echo: bool = True) -> None:
    """OUT/transfer_study.json and OUT/transfer_study.md, both atomically; the Markdown is printed (`echo`)."""
    write_table(out, "transfer_study", results, md)
    if echo:
        print(md, end="")
