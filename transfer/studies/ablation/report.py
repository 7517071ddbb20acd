"""Ablation tables in the paper's layout (row, ft, lin) plus k-NN, relative pretraining FLOPs and wall time;
written as JSON and Markdown through ``transfer.studies.tables``."""
from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path

from transfer.studies.ablation.rows import TABLES
from transfer.studies.tables import format_cell, group_runs
from transfer.studies.tables import markdown as table_markdown
from transfer.studies.tables import write_table as write_files

METRICS = ("ft", "lin", "knn")
COLUMNS = [{"key": "ft", "name": "ft"}, {"key": "lin", "name": "lin"}, {"key": "knn", "name": "k-NN"},
           {"key": "flops", "name": "pretrain FLOPs"}, {"key": "wall", "name": "pretrain wall (s)"},
           {"key": "seeds", "name": "seeds"}, {"key": "paper", "name": "paper ft / lin"}]


def summarize(rows, results: list[dict]) -> list[dict]:
    """One line per row: mean (and std over seeds) of ft, lin, k-NN; FLOPs relative to the table's baseline row;
    the lin column's solver."""
    base = next((r for r in rows if r.baseline), rows[0])
    grouped = {g["row"]: g for g in group_runs(results, "row", METRICS, [r.key for r in rows])}
    base_runs = [x for x in results if x["row"] == base.key]
    base_flops = base_runs[0]["pretrain_flops_per_image"] if base_runs else None
    lines = []
    for r in rows:
        if r.key not in grouped:
            continue
        g, res = grouped[r.key], [x for x in results if x["row"] == r.key]
        flops = res[0]["pretrain_flops_per_image"]
        line = {"row": r.key, "label": r.label, "baseline": r.baseline, "seeds": g["seeds"]}
        for m in METRICS:
            line[m], line[f"{m}_std"] = (g[m]["mean"], g[m]["std"]) if g[m] else (None, None)
        line.update({"lin_solver": res[0].get("lin_solver"),
                     "pretrain_gflops_per_image": round(flops / 1e9, 4),
                     "relative_flops": round(flops / base_flops, 2) if base_flops else None,
                     "pretrain_wall_s": round(statistics.mean(x["pretrain_wall_s"] for x in res), 1),
                     "paper_ft": r.paper[0] if r.paper else None, "paper_lin": r.paper[1] if r.paper else None})
        lines.append(line)
    return lines


def markdown(table: str, lines: list[dict], scale: str) -> str:
    rows = []
    for x in lines:
        row = {"label": x["label"], "baseline": x["baseline"], "seeds": str(x["seeds"]),
               "flops": f"{x['relative_flops']}x", "wall": str(x["pretrain_wall_s"]),
               "paper": f"{x['paper_ft']} / {x['paper_lin']}" if x["paper_ft"] is not None else "-"}
        for m in METRICS:
            row[m] = None if x[m] is None else format_cell({"mean": x[m], "std": x[f"{m}_std"]})
        rows.append(row)
    solvers = sorted({x["lin_solver"] for x in lines if x.get("lin_solver")})
    solver = f"; lin: linear probe, solver {', '.join(solvers)}" if solvers else ""
    return table_markdown(COLUMNS, rows, title=f"Table 1({table}) {TABLES[table]} - {scale} scale", bold="baseline",
                          note=f"(bold: the paper's default setting; FLOPs per image relative to it{solver})")


def write_table(table: str, rows, results: list[dict], out: Path, scale: str, budget=None) -> dict:
    lines = summarize(rows, results)
    doc = {"table": table, "name": TABLES[table], "scale": scale, "rows": lines, "runs": results,
           "budget": asdict(budget) if budget is not None else None}
    md = markdown(table, lines, scale)
    write_files(out, f"table_{table}", doc, md)
    print(md)
    return doc
