"""A study carried on elsewhere: its finished cells' results go with its published files, and a study on another
machine or day imports them, so it runs only the cells left (more seeds, say) and reports all of them.

``--publish DIR`` writes ``DIR/cell_results.json`` ({cell: its result.json, paths relative}) beside the study's
JSON; ``--import-cells DIR`` writes those results as this study's finished cells (each marked ``imported_from``)
where it has none, after checking that the published study ran with this study's settings. The scenes are not
imported: their files are composed again here (the scene cell is seeded) and their counts checked against the
published ones before any other cell runs. No checkpoint travels, so an imported pretraining serves only the
imported cells that used it; a cell left to run here needs its pretraining run here too.
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
NOT_SETTINGS = ("output_dir", "seeds", "publish", "report_only", "import_cells", "in_process", "run_cell")
SCENES = "data"


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


def check_settings(source: str, theirs: dict, ours: dict) -> None:
    """The published study's ``args`` against this one's: a setting both have and that differs is a ConfigError
    naming each such flag with both values (the flags of ``NOT_SETTINGS`` may differ)."""
    ours = json.loads(json.dumps(_portable(ours)))
    differ = [k for k in sorted(set(theirs) & set(ours)) if k not in NOT_SETTINGS and theirs[k] != ours[k]]
    if differ:
        said = "; ".join(f"--{k.replace('_', '-')} {theirs[k]!r} there, {ours[k]!r} here" for k in differ)
        raise ConfigError(f"--import-cells {source}: that study ran with other settings ({said}); run this one "
                          f"with its settings")


def import_cells(source: str, names, out: Path, args: dict) -> list[str]:
    """Writes the published results of `names` (not the scenes') that `out` has not finished as its cells' results,
    each with ``"imported_from": source`` (relative inside the working directory) -> the names imported. Checks the
    settings first (nothing is written when they differ)."""
    study, results = published(source)
    check_settings(source, study.get("args", {}), args)
    done = []
    for name in names:
        if name != SCENES and name in results and read_result(out, name) is None:
            write_atomic(cell_dir(out, name) / "result.json", {**results[name], "imported_from": portable(str(source))})
            done.append(name)
    return done


def check_scenes(source: str, out: Path) -> None:
    """The scenes composed here against the published study's counts (same scenes, crops and coverage): a
    difference is a ConfigError naming both, raised before any cell that uses the scenes runs."""
    study, _ = published(source)
    here = json.loads(json.dumps(((read_result(out, SCENES) or {}).get("data") or {}).get("counts")))
    if here != study.get("scenes"):
        raise ConfigError(f"--import-cells {source}: the scenes composed here ({here}) are not that study's "
                          f"({study.get('scenes')}): the scene composer or its inputs differ")
