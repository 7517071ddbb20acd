"""Shared fixtures: small real-image folders written from Fashion-MNIST, micro models, golden numbers.

Tests name repository files relative to the repository root (``configs/...``, ``tools/...``); the session runs from
there whatever directory pytest was started in, so the suite passes from any working directory.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image


def write_fashion_folder(root: Path, n_per_class: int = 8, classes: int = 3, split: str = "train",
                         size: int = 32) -> Path:
    """Writes real Fashion-MNIST items as PNGs in class sub-folders (ImageNet layout)."""
    from mae_core.data.datasets import read_fashion_mnist
    images, labels = read_fashion_mnist(split)
    for c in range(classes):
        d = root / f"class_{c}"
        d.mkdir(parents=True, exist_ok=True)
        idx = np.flatnonzero(labels == c)[:n_per_class]
        for i in idx:
            Image.fromarray(images[i]).resize((size, size), Image.BICUBIC).save(d / f"{i}.png")
    return root


@pytest.fixture
def fashion_folder(tmp_path: Path) -> Path:
    return write_fashion_folder(tmp_path / "fashion")


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
    yield


ROOT = Path(__file__).resolve().parents[1]
GOLDEN_FILE = Path(__file__).resolve().parent / "expected" / "golden_losses.json"
GOLDEN_REL_TOL = 1e-3
"""Relative tolerance of a golden loss: one fixed-seed fp32 step on a CPU. Float kernels differ between CPUs and
thread counts by about 1e-6 relative; a change to the model, its initialisation, the data pipeline or the loss
moves the number by far more than 1e-3."""


@pytest.fixture(scope="session", autouse=True)
def _run_from_repository_root():
    previous = os.getcwd()
    os.chdir(ROOT)
    yield
    os.chdir(previous)


def check_golden(name: str, values: dict[str, float]) -> None:
    """Compares `values` with ``tests/expected/golden_losses.json[name]`` (relative tolerance GOLDEN_REL_TOL).

    ``MAE_ACCEPT_GOLDEN=1 pytest ...`` writes the current values instead (review the diff of the file, then commit).
    """
    golden = json.loads(GOLDEN_FILE.read_text()) if GOLDEN_FILE.exists() else {}
    values = {k: float(v) for k, v in values.items()}
    if os.environ.get("MAE_ACCEPT_GOLDEN") == "1":
        golden[name] = values
        GOLDEN_FILE.parent.mkdir(exist_ok=True)
        GOLDEN_FILE.write_text(json.dumps(golden, indent=1, sort_keys=True) + "\n")
        return
    if name not in golden:
        pytest.fail(f"{GOLDEN_FILE} has no entry {name!r}; run once with MAE_ACCEPT_GOLDEN=1 to record it")
    expected = golden[name]
    assert set(values) == set(expected), f"{name}: keys {sorted(values)} != golden {sorted(expected)}"
    for k, v in values.items():
        assert v == pytest.approx(expected[k], rel=GOLDEN_REL_TOL), (
            f"{name}.{k} = {v!r}, golden {expected[k]!r} (rel tol {GOLDEN_REL_TOL}; MAE_ACCEPT_GOLDEN=1 to accept)")


def run_main(capsys, main, *args: str):
    """A tool's ``main(argv)`` (all its script does) run in this process -> a CompletedProcess with its return code,
    stdout and stderr: no interpreter start and model-stack import per call. An exception that escapes the tool's
    error contract shows as a traceback in stderr with return code 1, as the script would print it."""
    import logging
    import subprocess
    import sys
    import traceback

    from mae_core.cli import remove_logging
    level = logging.getLogger().level
    capsys.readouterr()
    try:
        code = main([str(a) for a in args])
    except Exception as e:  # noqa: BLE001
        code = 1
        sys.stderr.write("Traceback (most recent call last):\n" + "".join(traceback.format_exception(e)))
    finally:
        remove_logging()                  # its handler writes to this test's captured stderr, closed after it
        logging.getLogger().setLevel(level)
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out.out, out.err)
