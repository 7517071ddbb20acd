"""Command line of tools/ablate.py."""
from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

from mae_core.cli import parse_overrides, setup_logging, tool_main
from mae_core.config import ConfigError
from transfer.studies.ablation.rows import TABLES, find_rows
from transfer.studies.ablation.runner import SmallBudget, random_init_reference, run_table


@tool_main
def main(argv: list[str] | None = None) -> int:
    """``mae-ablate``: the rows of one table (or all), small scale or the paper's configs."""
    p = argparse.ArgumentParser(description="MAE pretraining ablations (paper Table 1)")
    p.add_argument("--table", required=True, choices=[*TABLES, "all"])
    p.add_argument("--scale", choices=("small", "full"), default="small")
    p.add_argument("--output-dir", default="runs/ablations")
    p.add_argument("--seeds", default="0", help="comma-separated seeds (small scale)")
    p.add_argument("--data-path", default="", help="full scale: the ImageNet train folder")
    p.add_argument("--rows", default="", help="only these rows, e.g. d1,d3 (default: all rows of the table)")
    for f in dataclasses.fields(SmallBudget):
        p.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default,
                       help=f"small-scale budget (default {f.default})")
    p.add_argument("--reference", action="store_true",
                   help="small scale: also evaluate the untrained model (the floor for ft / lin / k-NN)")
    p.add_argument("overrides", nargs="*", help="full scale: config overrides, section.key=value")
    a = p.parse_args(argv)
    setup_logging()
    budget = SmallBudget(**{f.name: getattr(a, f.name) for f in dataclasses.fields(SmallBudget)})
    seeds = tuple(int(s) for s in a.seeds.split(",") if s.strip())
    if a.scale == "full" and not a.data_path:
        raise ConfigError("--scale full needs --data-path (the ImageNet train folder)")
    overrides = parse_overrides(a.overrides)
    for t in (TABLES if a.table == "all" else [a.table]):
        only = tuple(r for r in a.rows.split(",") if r.strip().startswith(t))
        if a.rows and not only:
            continue
        run_table(t, a.output_dir, a.scale, seeds, budget, a.data_path, overrides, only=only)
    if a.reference and a.scale == "small":
        ref = [random_init_reference(find_rows("d")[0], Path(a.output_dir), s, budget) for s in seeds]
        print("untrained model (same evaluation):", json.dumps(ref))
    return 0
