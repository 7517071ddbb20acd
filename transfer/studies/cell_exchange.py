"""A study carried on elsewhere: its finished cells' results go with its published files, and a study on another
machine or day imports them, so it runs only the cells left (more seeds, say) and reports all of them.

``--publish DIR`` writes ``DIR/cell_results.json`` ({cell: its result.json, paths relative}) beside the study's
JSON; ``--import-cells DIR`` writes those results as this study's finished cells (each marked ``imported_from``)
where it has none, after checking that the published study ran with this study's settings. The scenes are not
imported: their files are composed again here (the scene cell is seeded) and their counts checked against the
published ones before any other cell runs. No checkpoint travels, so an imported pretraining serves only the
imported cells that used it; a cell left to run here needs its pretraining run here too.

``--rerun-tasks TASK,...`` keeps a task's published cells out: they run here, with this study's recipe for that task
(the flags of ``TASK_FLAGS``, which may then differ), from the imported pretraining's checkpoints, which must be on
this machine (the published study ran here, or its run folder came along): a task's recipe is changed (its precision,
say) without pretraining again.
"""
from __future__ import annotations

import json
from pathlib import Path

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.errors import ConfigError
from transfer.studies.cells import cell_dir, read_result, write_atomic
from transfer.studies.study_tables import portable

CELLS_FILE = "cell_results.json"
STUDY_FILE = "transfer_study.json"
# flags that say how or where a study runs, not what it measures: they may differ between the two
NOT_SETTINGS = ("output_dir", "seeds", "publish", "report_only", "import_cells", "rerun_tasks", "in_process",
                "run_cell")
SCENES = "data"
# flags that set one task's recipe only: they may differ when that task is rerun here (--rerun-tasks)
TASK_FLAGS = {"coco": ("coco_config", "coco_iters"), "ade20k": ("ade_config", "ade_options", "ade_iters"),
              "classification": ("ft_config", "ft_steps", "ft_batch", "ft_size")}
LR_FLAGS = ("lr_factor", "task_lr_factor")   # compared as each task's factor (transfer_study.lr_factors)


def _portable(value):
    """`value` with every absolute path inside the working directory made relative (JSON types)."""
    if isinstance(value, dict):
        return {k: _portable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_portable(v) for v in value]
    return portable(value)


def publish_cells(out: Path, names, folder: Path) -> int:
    """``folder/cell_results.json``: the result of every finished cell of `names` in `out` -> how many."""
    results = {name: _portable(r) for name in names if (r := read_result(out, name)) is not None}
    atomic_write_json(results, Path(folder) / CELLS_FILE, indent=1)
    return len(results)


def published(source: str) -> tuple[dict, dict]:
    """A folder written by ``--publish`` (or a file in it) -> (its study's JSON, its cell results); a missing
    file is a ConfigError naming it."""
    folder = Path(source) if Path(source).is_dir() else Path(source).parent
    files = {name: folder / name for name in (STUDY_FILE, CELLS_FILE)}
    for name, f in files.items():
        if not f.is_file():
            raise ConfigError(f"--import-cells {source}: no {f} (a folder written by a study's --publish holds "
                              f"{STUDY_FILE} and {CELLS_FILE})")
    return json.loads(files[STUDY_FILE].read_text()), json.loads(files[CELLS_FILE].read_text())


def check_settings(source: str, theirs: dict, ours: dict, rerun: tuple[str, ...] = (),
                   factors: tuple[dict, dict] = ({}, {})) -> None:
    """The published study's ``args`` against this one's: a setting both have and that differs is a ConfigError
    naming each such flag with both values (the flags of ``NOT_SETTINGS`` may differ, and those of ``TASK_FLAGS``
    of the `rerun` tasks). The lr factors are compared per task (`factors`: theirs, ours; {task: factor})."""
    ours = json.loads(json.dumps(_portable(ours)))
    free = set(NOT_SETTINGS) | set(LR_FLAGS) | {f for t in rerun for f in TASK_FLAGS.get(t, ())}
    said = [f"--{k.replace('_', '-')} {theirs[k]!r} there, {ours[k]!r} here"
            for k in sorted(set(theirs) & set(ours)) if k not in free and theirs[k] != ours[k]]
    said += [f"the second lr of {t} at {factors[0][t]:g} x there, {factors[1][t]:g} x here (--lr-factor, "
             f"--task-lr-factor)" for t in sorted(set(factors[0]) & set(factors[1]))
             if t not in rerun and factors[0][t] != factors[1][t]]
    if said:
        raise ConfigError(f"--import-cells {source}: that study ran with other settings ({'; '.join(said)}); run this "
                          f"one with its settings" + ("" if rerun else ", or rerun that task here (--rerun-tasks)"))


def import_cells(source: str, specs: dict, out: Path, args: dict, rerun: tuple[str, ...] = (),
                 factors: tuple[dict, dict] = ({}, {})) -> list[str]:
    """Writes the published results of the cells of `specs` ({name: spec}; not the scenes', not those of the
    `rerun` tasks) that `out` has not finished as its cells' results, each with ``"imported_from": source``
    (relative inside the working directory) -> the names imported. Checks first (nothing is written when they
    fail): the settings (`factors`: {task: second-lr factor} of both studies, from their args), and, for a
    `rerun` task, that the checkpoints of the imported pretrainings its cells start from are here."""
    study, results = published(source)
    check_settings(source, study.get("args", {}), args, rerun, factors)
    take = [n for n, spec in specs.items() if n != SCENES and n in results and spec["kind"] not in rerun
            and read_result(out, n) is None]
    needed = {d for spec in specs.values() if spec["kind"] in rerun for d in spec["deps"] if d in take}
    missing = [f"{n}: {results[n].get('checkpoint')}" for n in sorted(needed)
               if not Path(str(results[n].get("checkpoint"))).is_file()]
    if missing:
        raise ConfigError(f"--import-cells {source} --rerun-tasks {','.join(rerun)}: the rerun cells start from "
                          f"pretrainings whose checkpoints are not on this machine ({'; '.join(missing)}): run those "
                          "here (a study without --import-cells), or bring their run folder")
    for name in take:
        write_atomic(cell_dir(out, name) / "result.json", {**results[name], "imported_from": portable(str(source))})
    return take


def check_scenes(source: str, out: Path) -> None:
    """The scenes composed here against the published study's counts (same scenes, crops and coverage): a
    difference is a ConfigError naming both, raised before any cell that uses the scenes runs."""
    study, _ = published(source)
    here = json.loads(json.dumps(((read_result(out, SCENES) or {}).get("data") or {}).get("counts")))
    if here != study.get("scenes"):
        raise ConfigError(f"--import-cells {source}: the scenes composed here ({here}) are not that study's "
                          f"({study.get('scenes')}): the scene composer or its inputs differ")
