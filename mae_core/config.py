"""Configs as dataclasses: Python config files build them, ``key=value`` overrides are type-checked.

A config file is a Python file defining ``config`` (an instance). Overrides address ``section.field``; an unknown
key is an error naming the key and the nearest valid ones.
"""
from __future__ import annotations

import dataclasses
import runpy
import typing
from pathlib import Path
from typing import Any

from mae_core.overrides import ConfigError, Overrides, apply_tree_overrides, coerce, resolve_key, split_overrides  # noqa: F401

__all__ = ["ConfigError", "apply_overrides", "apply_tree_overrides", "flat_fields", "from_dict", "load_config",
           "shipped_config", "split_overrides", "to_dict"]


def flat_fields(cfg: Any, prefix: str = "") -> dict[str, tuple[Any, str, Any]]:
    """{'section.field': (owner, field name, type)} for every leaf of a nested dataclass."""
    out = {}
    hints = typing.get_type_hints(type(cfg))
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            out.update(flat_fields(value, key + "."))
        else:
            out[key] = (cfg, f.name, hints[f.name])
    return out


def apply_overrides(cfg: Any, overrides: Overrides, where: str | None = None) -> Any:
    """Applies overrides in place: ``["section.field=text", ...]`` from a command line (parsed for the field's type)
    or ``{"section.field": value}`` from code (type-checked). Unknown keys and bad values raise ConfigError.

    A dataclass config goes field by field; any other config (a detectron2 LazyConfig, an mmengine Config's dict)
    goes through :func:`mae_core.overrides.apply_tree_overrides` with the same grammar. Returns ``cfg``.
    """
    where = where or type(cfg).__name__
    if not dataclasses.is_dataclass(cfg):
        return apply_tree_overrides(cfg, overrides, where)
    fields = flat_fields(cfg)
    for raw_key, value in split_overrides(overrides).items():
        if raw_key.startswith("+"):
            raise ConfigError(f"{raw_key}: {where} is a dataclass config; keys cannot be added, only changed")
        key = resolve_key(raw_key, list(fields), where)
        owner, name, typ = fields[key]
        setattr(owner, name, coerce(value, typ, key))
    return cfg


def load_config(path: str | Path, overrides: Overrides = None, name: str = "config") -> Any:
    """Runs the Python config file, takes its ``config`` object, applies overrides (key=value strings or a dict of
    typed values) and validates it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        ns = runpy.run_path(str(path))
    except (SyntaxError, NameError, ImportError, AttributeError, TypeError) as e:
        raise ConfigError(f"{path}: the config file does not run ({type(e).__name__}: {e})") from e
    if name not in ns:
        raise ConfigError(f"{path} defines no '{name}'")
    cfg = ns[name]
    apply_overrides(cfg, overrides, where=str(path))
    if hasattr(cfg, "validate"):
        cfg.validate()
    return cfg


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def from_dict(cls: type, data: dict) -> Any:
    """Rebuilds a nested dataclass from ``to_dict`` output (unknown keys are an error)."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    names = {f.name for f in dataclasses.fields(cls)}
    for k, v in data.items():
        if k not in names:
            raise ConfigError(f"{cls.__name__}: unknown key {k!r}")
        typ = hints[k]
        if dataclasses.is_dataclass(typ) and isinstance(v, dict):
            v = from_dict(typ, v)
        elif typing.get_origin(typ) is tuple and isinstance(v, list):
            v = tuple(v)
        kwargs[k] = v
    return cls(**kwargs)


def shipped_config(relative: str) -> Path:
    """The path of a recipe shipped with the package: ``shipped_config("pretrain/demo.py")`` -> .../configs/...

    The recipes under ``configs/`` install as the package ``mae_configs``, so this works from a checkout, an editable
    install and a wheel alike.
    """
    import importlib.resources

    path = Path(str(importlib.resources.files("mae_configs").joinpath(relative)))
    if not path.exists():
        raise ConfigError(f"no shipped config {relative!r} (looked in {path.parent})")
    return path
