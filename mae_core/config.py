"""Configs as dataclasses: Python config files build them, ``key=value`` overrides are type-checked.

A config file is a Python file defining ``config`` (an instance). Overrides address ``section.field``; an unknown
key is an error naming the key and the nearest valid ones.
"""
from __future__ import annotations

import ast
import dataclasses
import difflib
import runpy
import types
import typing
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A config value or key is not valid; the message names it."""


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


def _parse(text: str, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (typing.Union, types.UnionType):
        if text.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _parse(text, a, key)
            except ConfigError as e:
                errors.append(str(e))
        raise ConfigError(errors[0] if errors else f"{key}: cannot parse {text!r}")
    if typ is bool:
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{key}: expected true/false, got {text!r}")
    if typ in (int, float):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ConfigError(f"{key}: expected {typ.__name__}, got {text!r}") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (typ is int and not isinstance(value, int)):
            raise ConfigError(f"{key}: expected {typ.__name__}, got {text!r}")
        return typ(value)
    if typ is str:
        return text
    if origin in (tuple, list):
        try:
            value = ast.literal_eval(text if text.strip().startswith(("(", "[")) else f"({text},)")
        except (ValueError, SyntaxError):
            raise ConfigError(f"{key}: expected a sequence like (1, 2), got {text!r}") from None
        inner = args[0] if args else Any
        if inner is not Any and not all(isinstance(v, (int, float) if inner is float else inner) for v in value):
            raise ConfigError(f"{key}: expected a sequence of {getattr(inner, '__name__', inner)}, got {text!r}")
        return origin(value)
    raise ConfigError(f"{key}: unsupported type {typ}")


def apply_overrides(cfg: Any, overrides: list[str]) -> Any:
    """Applies ``section.field=value`` strings in place; unknown keys and bad values raise ConfigError."""
    fields = flat_fields(cfg)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not of the form key=value")
        key, text = item.split("=", 1)
        key = key.strip().lstrip("-")
        if key not in fields:
            # also accept a unique bare field name ("epochs=3")
            matches = [k for k in fields if k.split(".")[-1] == key]
            if len(matches) == 1:
                key = matches[0]
            else:
                near = difflib.get_close_matches(key, list(fields), n=3, cutoff=0.5)
                hint = f"; did you mean {', '.join(near)}?" if near else ""
                raise ConfigError(f"unknown config key {key!r}{hint}")
        owner, name, typ = fields[key]
        setattr(owner, name, _parse(text, typ, key))
    return cfg


def load_config(path: str | Path, overrides: list[str] | None = None, name: str = "config") -> Any:
    """Runs the Python config file, takes its ``config`` object, applies overrides and validates it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    ns = runpy.run_path(str(path))
    if name not in ns:
        raise ConfigError(f"{path} defines no '{name}'")
    cfg = ns[name]
    apply_overrides(cfg, overrides or [])
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
