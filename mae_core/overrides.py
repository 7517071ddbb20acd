"""The one override grammar: ``key=value`` on a command line, ``{key: value}`` from code, for every kind of config.

- A key is dotted (``train.epochs``, ``param_scheduler.1.end``: a number indexes a list); a bare leaf name that
  names exactly one leaf is accepted (``epochs=3``); ``+key=value`` adds a key whose parent exists (dict-tree
  configs only).
- A text value is parsed for the type the key has: a dataclass field's annotation, or for a dict-tree config (a
  detectron2 LazyConfig, an mmengine Config) the type of the value it replaces. Booleans are ``true/false/yes/no/
  on/off/1/0``, sequences ``(1, 2)`` or ``1,2``, ``none``/``null`` where None is allowed.
- A value from code (not a string) is type-checked the same way, never turned into text and parsed back.
- An unknown key is a :class:`ConfigError` naming the nearest valid keys; a bad value names the key and the text.
"""
from __future__ import annotations

import ast
import difflib
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any

Overrides = typing.Union[Mapping[str, Any], Sequence[str], None]
_NUMBER = typing.Union[int, float]


class ConfigError(ValueError):
    """A config file, key or value is not valid; the message names it."""


def split_overrides(items: Overrides) -> dict[str, Any]:
    """``["a.b=1", "+c=x"]`` -> ``{"a.b": "1", "+c": "x"}`` (a mapping is returned as a dict, values untouched)."""
    if items is None:
        return {}
    if isinstance(items, Mapping):
        return {str(k).strip(): v for k, v in items.items()}
    if isinstance(items, str):
        raise ConfigError(f"overrides must be a list of key=value strings or a mapping, got the string {items!r}")
    out: dict[str, Any] = {}
    for item in items:
        key, sep, text = str(item).partition("=")
        if not sep or not key.strip().lstrip("+"):
            raise ConfigError(f"override {item!r} is not of the form key=value")
        out[key.strip()] = text
    return out


def nearest_key_error(key: str, known: Sequence[str], where: str = "config") -> ConfigError:
    """The error for an unknown key: names the key, where it was looked up and the nearest valid keys."""
    near = difflib.get_close_matches(key, list(known), n=3, cutoff=0.5)
    if not near:  # a typo in the last part only: compare leaf names under the same parent
        parent, _, leaf = key.rpartition(".")
        siblings = [k for k in known if k.rpartition(".")[0] == parent]
        near = difflib.get_close_matches(key, siblings, n=3, cutoff=0.0) if siblings and leaf else []
    hint = f"; did you mean {', '.join(repr(k) for k in near)}?" if near else ""
    return ConfigError(f"unknown config key {key!r} in {where}{hint}")


def resolve_key(key: str, known: Sequence[str], where: str = "config") -> str:
    """``key`` itself when known, else the one known key whose last part it is, else :func:`nearest_key_error`."""
    if key in known:
        return key
    matches = [k for k in known if k.rpartition(".")[2] == key]
    if len(matches) == 1:
        return matches[0]
    raise nearest_key_error(key, known, where)


def parse_value(text: str, typ: Any, key: str) -> Any:
    """Parses the command-line text of ``key`` as ``typ`` (bool, int, float, str, tuple/list, Optional, Union, Any)."""
    text = text.strip()
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if typ is Any:
        return _literal_or_text(text)
    if origin in (typing.Union, types.UnionType):
        if text.lower() in ("none", "null") and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is not type(None):
                try:
                    return parse_value(text, a, key)
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
        return check_value(value, typ, key, text)
    if typ is str:
        return text
    if origin in (tuple, list) or typ in (tuple, list):
        try:
            value = ast.literal_eval(text if text.startswith(("(", "[")) else f"({text},)")
        except (ValueError, SyntaxError):
            raise ConfigError(f"{key}: expected a sequence like (1, 2), got {text!r}") from None
        return check_value(value, typ, key, text)
    if origin in (dict, Mapping) or typ is dict:
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ConfigError(f"{key}: expected a dict like {{'a': 1}}, got {text!r}") from None
        return check_value(value, typ, key, text)
    raise ConfigError(f"{key}: values of type {typ} cannot be overridden")


def check_value(value: Any, typ: Any, key: str, shown: Any = None) -> Any:
    """``value`` (from code, or parsed) converted to ``typ`` where lossless (int -> float, list -> tuple), else a
    ConfigError naming the key and the value."""
    shown = value if shown is None else shown
    origin, args = typing.get_origin(typ), typing.get_args(typ)
    if typ is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is not type(None):
                try:
                    return check_value(value, a, key, shown)
                except ConfigError:
                    pass
        raise ConfigError(f"{key}: expected {_name(typ)}, got {shown!r}")
    if typ is bool:
        if isinstance(value, bool):
            return value
    elif typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif typ is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif typ is str:
        if isinstance(value, str):
            return value
    elif origin in (tuple, list) or typ in (tuple, list):
        if isinstance(value, Sequence) and not isinstance(value, str):
            inner = args[0] if args else Any
            items = [check_value(v, inner, key, shown) for v in value]
            return (origin or typ)(items)
    elif origin in (dict, Mapping) or typ is dict:
        if isinstance(value, Mapping):
            return dict(value)
    elif isinstance(typ, type) and isinstance(value, typ):
        return value
    raise ConfigError(f"{key}: expected {_name(typ)}, got {shown!r}")


def _name(typ: Any) -> str:
    return getattr(typ, "__name__", None) or str(typ).replace("typing.", "")


def _literal_or_text(text: str) -> Any:
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def coerce(value: Any, typ: Any, key: str) -> Any:
    """Text (from a command line) is parsed for ``typ``; any other value is type-checked against it."""
    return parse_value(value, typ, key) if isinstance(value, str) else check_value(value, typ, key)


# ---- dict-tree configs (detectron2 LazyConfig / OmegaConf, mmengine Config) ----

def _is_mapping(node: Any) -> bool:
    return hasattr(node, "keys") and hasattr(node, "__getitem__") and not isinstance(node, type)


def _is_list(node: Any) -> bool:
    return isinstance(node, Sequence) and not isinstance(node, (str, bytes))


def _children(node: Any) -> list[tuple[str, Any]]:
    if _is_mapping(node):
        out = []
        for k in list(node.keys()):
            try:
                out.append((str(k), node[k]))
            except Exception:  # noqa: BLE001 - a value that cannot be read (a missing OmegaConf value) is a leaf
                out.append((str(k), None))
        return out
    if _is_list(node):
        return [(str(i), v) for i, v in enumerate(node)]
    return []


def tree_keys(root: Any, prefix: str = "") -> list[str]:
    """Every dotted key of a nested dict / list config, sections included."""
    out = []
    for k, v in _children(root):
        out.append(prefix + k)
        out += tree_keys(v, f"{prefix}{k}.")
    return out


def _leaf_type(value: Any) -> Any:
    """The type an override of ``value`` must have: what a dict-tree config declares by example."""
    if isinstance(value, bool):
        return bool
    if isinstance(value, (int, float)):
        return _NUMBER
    if isinstance(value, str):
        return str
    if _is_mapping(value):
        return dict
    if _is_list(value):
        return tuple if isinstance(value, tuple) else list
    return Any  # None, or an object (a LazyConfig ``_target_``): any value


def _get(node: Any, part: str) -> Any:
    return node[int(part)] if _is_list(node) else node[part]


def _set(node: Any, part: str, value: Any) -> None:
    if _is_list(node):
        node[int(part)] = value
    else:
        node[part] = value


def apply_tree_overrides(root: Any, overrides: Overrides, where: str = "config") -> Any:
    """Applies overrides in place to a nested dict / list config (OmegaConf DictConfig, mmengine ConfigDict, dict)."""
    items = split_overrides(overrides)
    if not items:
        return root
    known = tree_keys(root)
    for raw_key, value in items.items():
        add = raw_key.startswith("+")
        key = raw_key.lstrip("+")
        if add:
            parent, _, leaf = key.rpartition(".")
            if parent and parent not in known:
                raise nearest_key_error(parent, known, where)
            node = root
            for part in parent.split(".") if parent else []:
                node = _get(node, part)
            if not _is_mapping(node):
                raise ConfigError(f"+{key}: {parent or 'the top level'} of {where} is not a section")
            if leaf in node.keys():
                raise ConfigError(f"+{key}: the key exists in {where}; drop the '+' to change it")
            _set(node, leaf, _literal_or_text(value) if isinstance(value, str) else value)
        else:
            key = resolve_key(key, known, where)
            parts = key.split(".")
            node = root
            for part in parts[:-1]:
                node = _get(node, part)
            old = _get(node, parts[-1])
            typ = _leaf_type(old)
            if typ is dict and isinstance(value, str):
                sub = [k for k in known if k.rpartition(".")[0] == key][:8]
                raise ConfigError(f"{key} in {where} is a section; set one of its keys ({', '.join(sub)}) or give "
                                  f"a mapping from code")
            _set(node, parts[-1], coerce(value, typ, key))
        known = tree_keys(root)
    return root
