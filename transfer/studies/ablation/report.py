"""Ablation tables in the paper's layout (row, ft, lin) plus k-NN, relative pretraining FLOPs and wall time;
written as JSON and Markdown."""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict
from pathlib import Path

from transfer.studies.ablation.rows import TABLES


def _stat(values: list) -> tuple[float | None, float | None]:
    vals = [v for v in values if v is not None]
    if not vals:
        return None, None
    return round(statistics.mean(vals), 2), (round(statistics.stdev(vals), 2) if len(vals) > 1 else None)


def _fmt(mean: float | None, std: float | None) -> str:
    if mean is None:
        return "-"
    return f"{mean:.1f}" + (f" ± {std:.1f}" if std is not None else "")


def summarize(rows, results: list[dict]) -> list[dict]:
    """One line per row: mean (and std over seeds) of ft, lin, k-NN; FLOPs relative to the table's baseline row."""
    base = next((r for r in rows if r.baseline), rows[0])
    by_row = {r.key: [x for x in results if x["row"] == r.key] for r in rows}
    base_flops = by_row[base.key][0]["pretrain_flops_per_image"] if by_row[base.key] else None
    lines = []
    for r in rows:
        res = by_row[r.key]
        if not res:
            continue
        ft, lin, knn = (_stat([x[k] for x in res]) for k in ("ft", "lin", "knn"))
        flops = res[0]["pretrain_flops_per_image"]
        lines.append({"row": r.key, "label": r.label, "baseline": r.baseline, "seeds": len(res),
                      "ft": ft[0], "ft_std": ft[1], "lin": lin[0], "lin_std": lin[1], "knn": knn[0],
                      "knn_std": knn[1], "pretrain_gflops_per_image": round(flops / 1e9, 4),
                      "relative_flops": round(flops / base_flops, 2) if base_flops else None,
                      "pretrain_wall_s": round(statistics.mean(x["pretrain_wall_s"] for x in res), 1),
                      "paper_ft": r.paper[0] if r.paper else None, "paper_lin": r.paper[1] if r.paper else None})
    return lines


def markdown(table: str, lines: list[dict], scale: str) -> str:
    head = (f"Table 1({table}) {TABLES[table]} - {scale} scale\n\n"
            "| row | ft | lin | k-NN | pretrain FLOPs | pretrain wall (s) | seeds | paper ft / lin |\n"
            "|---|---|---|---|---|---|---|---|\n")
    body = ""
    for x in lines:
        label = f"**{x['label']}**" if x["baseline"] else x["label"]
        paper = f"{x['paper_ft']} / {x['paper_lin']}" if x["paper_ft"] is not None else "-"
        body += (f"| {label} | {_fmt(x['ft'], x['ft_std'])} | {_fmt(x['lin'], x['lin_std'])} | "
                 f"{_fmt(x['knn'], x['knn_std'])} | {x['relative_flops']}x | {x['pretrain_wall_s']} | "
                 f"{x['seeds']} | {paper} |\n")
    return head + body + "\n(bold: the paper's default setting; FLOPs per image relative to it)\n"


def write_table(table: str, rows, results: list[dict], out: Path, scale: str, budget=None) -> dict:
    lines = summarize(rows, results)
    doc = {"table": table, "name": TABLES[table], "scale": scale, "rows": lines, "runs": results,
           "budget": asdict(budget) if budget is not None else None}
    out.mkdir(parents=True, exist_ok=True)
    (out / f"table_{table}.json").write_text(json.dumps(doc, indent=1))
    md = markdown(table, lines, scale)
    (out / f"table_{table}.md").write_text(md)
    print(md)
    return doc
