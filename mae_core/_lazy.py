"""Package attributes imported on first use (PEP 562), so that a light submodule (``mae_core.config``,
``mae_core.checkpoint.atomic``) can be imported without torch and timm: a study's scheduler or a tool that stops on a
bad flag starts in a fraction of a second instead of the ~5 s the model stack takes to import."""
from __future__ import annotations

import importlib
from collections.abc import Callable


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """-> (``__getattr__``, ``__dir__``) for `package`, where ``exports`` maps a public name to the submodule
    (relative, e.g. ``".models"``) that defines it."""
    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name], package), name)
        setattr(importlib.import_module(package), name, value)      # resolved once
        return value

    def __dir__() -> list[str]:
        return sorted(set(vars(importlib.import_module(package))) | set(exports))
    return __getattr__, __dir__
