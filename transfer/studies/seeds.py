"""Several seeds of the target study: one study per seed in ``OUT/seed<k>/``, then one table of mean +- standard
deviation over the seeds (``OUT/table7.json`` / ``.md``), the difference row computed per seed first."""
from __future__ import annotations

import json
import math
from pathlib import Path


def seed_argv(argv: list[str], seed: int, out: Path) -> list[str]:
    """The study's arguments for one seed: ``--seeds`` removed, ``--seed`` and ``--output-dir`` set (argparse keeps
    the last occurrence of an option)."""
    rest, skip = [], False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--seeds":
            skip = True
            continue
        if not a.startswith("--seeds="):
            rest.append(a)
    return [*rest, "--seed", str(seed), "--output-dir", str(out / f"seed{seed}")]


def _mean_std(values: list[float]) -> tuple[float, float]:
    m = sum(values) / len(values)
    sd = math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
    return round(m, 2), round(sd, 2)


def merge_tables(tables: list[dict]) -> dict:
    """Per-seed tables (``build_table``'s) -> one table whose cells are {"mean", "std", "n", "values"} over the
    seeds that have the cell (None where none has it)."""
    first = tables[0]
    rows = []
    for i, row in enumerate(first["rows"]):
        merged = {"target": row["target"], "label": row["label"]}
        for col in first["columns"]:
            vals = [t["rows"][i][col["key"]] for t in tables if t["rows"][i][col["key"]] is not None]
            merged[col["key"]] = None if not vals else dict(zip(("mean", "std"), _mean_std(vals)), n=len(vals),
                                                            values=vals)
        rows.append(merged)
    return {"rows": rows, "columns": first["columns"], "scale": first["scale"],
            "seeds": [t["budget"]["seed"] for t in tables],
            "budget": {k: v for k, v in first["budget"].items() if k != "seed"}, "note": first["note"]}


def markdown_mean(table: dict) -> str:
    """The merged table in the paper's layout: ``mean ± std`` per cell (signed in the difference row)."""
    cols = table["columns"]
    lines = [f"| target (seeds {', '.join(map(str, table['seeds']))}) | " + " | ".join(c["name"] for c in cols)
             + " |", "| --- |" + " ---: |" * len(cols)]
    for r in table["rows"]:
        cells = []
        for c in cols:
            v = r[c["key"]]
            sign = "+" if r["target"] == "difference" else ""
            cells.append("-" if v is None else f"{v['mean']:{sign}.1f} ± {v['std']:.1f}")
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def read_seed_tables(out: Path, seeds: list[int]) -> list[dict]:
    return [json.loads((out / f"seed{s}" / "table7.json").read_text()) for s in seeds
            if (out / f"seed{s}" / "table7.json").exists()]
