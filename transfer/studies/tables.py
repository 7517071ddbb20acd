"""Result tables of the studies: rows of dicts -> Markdown and JSON, mean ± std over seeds, difference rows.

A table is ``{"columns": [{"key", "name"}, ...], "rows": [row, ...], ...}``; a row is a dict holding a label and,
for every column key, a number, a statistics cell ``{"mean", "std", "n", "values"}`` (:func:`stat`) or None
(shown as ``-``). A row with ``"signed": True`` (a difference row) prints its numbers with a sign. Used by the
ablation tables (``ablation/report.py``), the target study (``compare_targets.py``) and its seeds (``seeds.py``).
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable
from pathlib import Path

from mae_core.checkpoint.atomic import atomic_write_json, atomic_write_text


def stat(values: Iterable[float | None], digits: int = 2) -> dict | None:
    """Numbers (None skipped) -> {"mean", "std" (sample, None for one value), "n", "values"}; None if none."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    m = sum(vals) / len(vals)
    sd = math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1)) if len(vals) > 1 else None
    return {"mean": round(m, digits), "std": None if sd is None else round(sd, digits), "n": len(vals),
            "values": vals}


def mean_of(cell: float | dict | None) -> float | None:
    """The number of a cell: itself, the mean of a statistics cell, or None."""
    return cell["mean"] if isinstance(cell, dict) else cell


def difference_row(a: dict, b: dict, keys: Iterable[str], digits: int = 2, **fields) -> dict:
    """Row `a` minus row `b` for every key (None where either is missing), marked signed; `fields` (label, ...)
    are copied in. Of statistics cells the means are subtracted; for mean ± std of a difference over seeds,
    take the difference per seed first and merge those rows (:func:`merge_seed_tables`)."""
    row = {**fields, "signed": True}
    for k in keys:
        x, y = mean_of(a.get(k)), mean_of(b.get(k))
        row[k] = None if x is None or y is None else round(x - y, digits)
    return row


def group_runs(runs: list[dict], by: str, keys: Iterable[str], order: Iterable[str] | None = None) -> list[dict]:
    """Runs (one dict per seed) -> one row per value of ``run[by]`` (in `order`, else first-seen order) whose
    `keys` are statistics cells over its runs; rows without runs are left out."""
    keys = list(keys)
    groups: dict[str, list[dict]] = {k: [] for k in (order or [])}
    for r in runs:
        groups.setdefault(r[by], []).append(r)
    return [{by: name, "seeds": len(rs), **{k: stat(r.get(k) for r in rs) for k in keys}}
            for name, rs in groups.items() if rs]


def merge_seed_tables(tables: list[dict]) -> list[dict]:
    """Per-seed tables with the same rows and columns -> rows whose cells are statistics over the seeds (a
    difference row computed per seed thus gets the mean ± std of the per-seed differences); the other fields of a
    row (label, signed, ...) come from the first table."""
    first, keys = tables[0], [c["key"] for c in tables[0]["columns"]]
    for t in tables[1:]:
        if len(t["rows"]) != len(first["rows"]) or [c["key"] for c in t["columns"]] != keys:
            raise ValueError("seed tables differ in their rows or columns; they cannot be merged")
    rows = []
    for i, row in enumerate(first["rows"]):
        merged = {k: v for k, v in row.items() if k not in keys}
        merged.update({k: stat(t["rows"][i][k] for t in tables) for k in keys})
        rows.append(merged)
    return rows


def format_cell(cell: float | dict | str | None, signed: bool = False, digits: int = 1) -> str:
    """None -> '-', a number -> '81.3' (signed: '+1.2'), a statistics cell -> '81.3 ± 0.4' (no ± for one value)."""
    if cell is None:
        return "-"
    if isinstance(cell, str):
        return cell
    spec = f"{'+' if signed else ''}.{digits}f"
    if isinstance(cell, dict):
        sd = cell.get("std")
        return f"{cell['mean']:{spec}}" + ("" if sd is None else f" ± {sd:.{digits}f}")
    return f"{cell:{spec}}"


def markdown(columns: list[dict], rows: list[dict], label: str = "label", label_header: str = "row",
             title: str = "", note: str = "", bold: str = "") -> str:
    """Markdown table: one line per row, the `label` field first, then every column (``format_cell``); rows whose
    `bold` field is true print their label in bold; `title` above and `note` below the table."""
    lines = [title, ""] if title else []
    lines += ["| " + " | ".join([label_header, *(c["name"] for c in columns)]) + " |",
              "| --- |" + " ---: |" * len(columns)]
    for r in rows:
        name = f"**{r[label]}**" if bold and r.get(bold) else str(r[label])
        cells = [format_cell(r.get(c["key"]), bool(r.get("signed"))) for c in columns]
        lines.append("| " + " | ".join([name, *cells]) + " |")
    if note:
        lines += ["", note]
    return "\n".join(lines) + "\n"


def write_table(out_dir: str | os.PathLike, stem: str, doc: dict, md: str) -> tuple[Path, Path]:
    """OUT/<stem>.json and OUT/<stem>.md, each written atomically -> their paths."""
    out = Path(out_dir)
    return atomic_write_json(doc, out / f"{stem}.json", indent=1), atomic_write_text(md, out / f"{stem}.md")
