"""Several seeds of the target study: one study per seed in ``OUT/seed<k>/``, then one table of mean +- standard
deviation over the seeds (``OUT/table7.json`` / ``.md``), the difference row computed per seed first."""
from __future__ import annotations

import json
from pathlib import Path

from transfer.studies.tables import markdown, merge_seed_tables


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


def merge_tables(tables: list[dict]) -> dict:
    """Per-seed tables (``build_table``'s) -> one table whose cells are {"mean", "std", "n", "values"} over the
    seeds that have the cell (None where none has it); the difference row is merged from the per-seed differences."""
    first = tables[0]
    for t in tables:   # the target study's difference row, in the tables module's terms
        for r in t["rows"]:
            r.setdefault("signed", r.get("target") == "difference")
    return {"rows": merge_seed_tables(tables), "columns": first["columns"],
            "scale": first["scale"], "seeds": [t["budget"]["seed"] for t in tables],
            "budget": {k: v for k, v in first["budget"].items() if k != "seed"}, "note": first["note"]}


def markdown_mean(table: dict) -> str:
    """The merged table in the paper's layout: ``mean ± std`` per cell (signed in the difference row)."""
    seeds = ", ".join(map(str, table["seeds"]))
    return markdown(table["columns"], table["rows"], label_header=f"target (seeds {seeds})")


def read_seed_tables(out: Path, seeds: list[int]) -> list[dict]:
    return [json.loads((out / f"seed{s}" / "table7.json").read_text()) for s in seeds
            if (out / f"seed{s}" / "table7.json").exists()]
