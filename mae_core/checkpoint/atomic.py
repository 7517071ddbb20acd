"""Atomic file writes: a temporary file in the same folder, fsync, then rename, so that a kill never leaves half a
file and a reader never sees one. Imports nothing heavy (no torch), so light processes (study schedulers, result
tables) write through it too; ``io.atomic_save`` is the checkpoint (``torch.save``) form of the same write."""
from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO


def atomic_write(path: str | os.PathLike, write: Callable[[IO], None], binary: bool = True,
                 keep_previous: str | os.PathLike | None = None) -> Path:
    """``write(f)`` into a temporary file beside `path`, fsync, then rename onto `path`. ``keep_previous``: a path
    the existing file is first renamed to (e.g. checkpoint-prev.pth), so a good previous copy always sits beside the
    new one. Returns `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if binary else "w") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        if keep_previous is not None and path.exists():
            os.replace(path, keep_previous)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(text: str, path: str | os.PathLike) -> Path:
    """`text` written atomically to `path`; returns the path."""
    return atomic_write(path, lambda f: f.write(text), binary=False)


def atomic_write_json(obj: object, path: str | os.PathLike, indent: int | None = 2) -> Path:
    """json.dumps written atomically (the JSON twin of ``io.atomic_save``). Values JSON cannot hold (paths, numpy
    scalars, ...) are written as ``str``; returns the path written."""
    return atomic_write_text(json.dumps(obj, indent=indent, default=str), path)
