"""Ablation rows: one Python config file per row, each defining ``config`` (the paper's scale: ViT-L, 800 epochs,
from ``mae_vit_large_800ep.py``) and ``small`` (Fashion-MNIST, the demo ViT, from ``demo.py``), both derived from
the base config with ``key=value`` changes."""
from __future__ import annotations

import runpy
from dataclasses import dataclass
from pathlib import Path

from mae_core.config import ConfigError, apply_overrides, shipped_config
from mae_core.engine.pretrain_config import PretrainConfig

TABLES = {"a": "decoder depth", "b": "decoder width", "c": "mask token", "d": "reconstruction target",
          "e": "data augmentation", "f": "mask sampling"}


def derive(row_file: str, base: str, changes: list[str]) -> PretrainConfig:
    """The config file `base` (next to the ablations folder, e.g. 'demo.py') with `changes` applied; not validated
    here (``load_config`` and the engine validate the one that is used). Every row crops its images the per-image
    way (``data.tensor_augmentation`` off, as the demo had it when the small tables were measured): Table 1(e)'s
    rows compare augmentations, which only the per-image path has all of."""
    path = Path(row_file).resolve().parent.parent / base
    cfg = runpy.run_path(str(path))["config"]
    return apply_overrides(cfg, ["data.tensor_augmentation=false", *changes])


@dataclass
class Row:
    table: str
    key: str            # file stem, e.g. 'd1_pixel'
    label: str          # the paper's row name
    path: Path
    baseline: bool      # the paper's default setting (gray row)
    paper: tuple        # (ft, lin) of the paper (ViT-L, 800 epochs, IN-1k) or ()

    def load(self, scale: str = "small") -> PretrainConfig:
        ns = runpy.run_path(str(self.path))
        name = {"small": "small", "full": "config"}[scale]
        if name not in ns:
            raise ConfigError(f"{self.path} defines no {name!r}")
        return ns[name]


def default_rows_dir() -> Path:
    return shipped_config("pretrain/ablations")


def find_rows(table: str, rows_dir: str | Path | None = None) -> list[Row]:
    """Rows of one table ('a'..'f'), in file-name order."""
    if table not in TABLES:
        raise ConfigError(f"unknown ablation table {table!r}; known: {', '.join(TABLES)}")
    rows_dir = Path(rows_dir or default_rows_dir())
    rows = []
    for path in sorted(rows_dir.glob(f"{table}[0-9]*_*.py")):
        ns = runpy.run_path(str(path), run_name="ablation_row_header")
        rows.append(Row(table, path.stem, ns.get("ROW", path.stem), path, bool(ns.get("BASELINE", False)),
                        tuple(ns.get("PAPER", ()))))
    if not rows:
        raise ConfigError(f"no row configs for table {table!r} in {rows_dir}")
    return rows
