"""The command line: every tool is a thin wrapper of a library ``main(argv)`` (and a console script), one override
grammar on the three kinds of config, one error contract (``error: ...`` and exit code 2), one logging set-up, one
atomic JSON writer, and no library call that sets a process-wide environment variable."""
import ast
import functools
import importlib
import inspect
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from conftest import run_main

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.cli import setup_logging
from mae_core.config import ConfigError, apply_overrides, load_config, shipped_config

ROOT = Path(__file__).resolve().parents[1]
SETUP_HELPERS = {"fetch_sdist.py", "patch_detectron2_setup.py"}   # run by setup_env.sh before the package exists
# set-and-restore of torch.distributed's variables inside a dedicated SLURM job process (env:// rendezvous)
ENV_ALLOWED = {"transfer/slurm/launcher.py"}


def _entry(tool: Path) -> tuple[str, str]:
    """(module, function) a tools/*.py file hands off to; fails unless it is docstring + imports + sys.exit(f())."""
    tree = ast.parse(tool.read_text())
    imports = [n for n in tree.body if isinstance(n, ast.ImportFrom)]
    assert len(imports) == 1 and len(imports[0].names) == 1, f"{tool.name}: expected one `from X import main`"
    guard = tree.body[-1]
    assert isinstance(guard, ast.If) and "__main__" in ast.unparse(guard.test), f"{tool.name}: no __main__ guard"
    call = ast.unparse(guard.body[0])
    fn = imports[0].names[0].name
    assert call == f"sys.exit({fn}())", f"{tool.name}: the guard must be sys.exit({fn}()), found {call}"
    assert len(tree.body) <= 5 and "sys.path" not in tool.read_text(), f"{tool.name}: not a thin wrapper"
    return imports[0].module, fn


def test_every_tool_is_a_thin_wrapper_of_a_library_main_and_a_console_script():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"].get("scripts", {})
    listed = {tuple(v.split(":")) for v in scripts.values()}
    for tool in sorted((ROOT / "tools").glob("*.py")):
        if tool.name in SETUP_HELPERS:
            continue
        module, fn = _entry(tool)
        main = getattr(importlib.import_module(module), fn)
        params = list(inspect.signature(main).parameters.values())
        assert params and params[0].name == "argv" and params[0].default is None, f"{module}.{fn}: main(argv=None)"
        assert (module, fn) in listed, f"{tool.name}: {module}:{fn} is not a [project.scripts] entry of pyproject.toml"
    for name, target in scripts.items():
        module, fn = target.split(":")
        assert callable(getattr(importlib.import_module(module), fn)), f"{name} = {target}: no such function"


# ---- one override grammar, the same malformed inputs on the three kinds of config ----

def _dataclass_cfg():
    return load_config(shipped_config("pretrain/smoke.py")), "train.batch_size", "train.batch_sise"


def _lazy_cfg():
    pytest.importorskip("detectron2")
    from detectron2.config import LazyConfig

    import transfer.detectron2  # noqa: F401  (compat before LazyConfig)
    return LazyConfig.load(str(shipped_config("coco/smoke.py"))), "train.max_iter", "train.max_itr"


def _mmengine_cfg():
    pytest.importorskip("mmseg")
    from mmengine.config import Config

    import transfer.mmseg  # noqa: F401
    cfg = Config.fromfile(str(shipped_config("ade20k/smoke.py")))._cfg_dict
    return cfg, "train_cfg.max_iters", "train_cfg.max_iter"


@pytest.mark.parametrize("make", [_dataclass_cfg, _lazy_cfg, _mmengine_cfg],
                         ids=["dataclass", "lazyconfig", "mmengine"])
def test_one_override_grammar_on_every_kind_of_config(make):
    cfg, key, typo = make()
    apply_overrides(cfg, [f"{key}=7"])
    assert _get(cfg, key) == 7
    apply_overrides(cfg, {key: 9})                                       # typed values from code, no strings
    assert _get(cfg, key) == 9
    with pytest.raises(ConfigError, match=rf"unknown config key '{typo}'.*did you mean '{key}'"):
        apply_overrides(cfg, [f"{typo}=3"])
    with pytest.raises(ConfigError, match="not of the form key=value"):
        apply_overrides(cfg, [key])
    with pytest.raises(ConfigError, match=rf"{key}: expected int, got 'three'"):
        apply_overrides(cfg, [f"{key}=three"])
    with pytest.raises(ConfigError, match=rf"{key}: expected .*got 'x'"):
        apply_overrides(cfg, {key: "x"})
    with pytest.raises(ConfigError, match=rf"{key}: expected .*True"):
        apply_overrides(cfg, {key: True})                                  # a bool is not a number
    assert _get(cfg, key) == 9                                           # nothing half-applied


def _get(cfg, key):
    for part in key.split("."):
        cfg = getattr(cfg, part) if not hasattr(cfg, "keys") else cfg[part]
    return cfg


def test_dataclass_overrides_parse_sequences_and_reject_additions():
    cfg = load_config(shipped_config("pretrain/smoke.py"), {"optim.betas": (0.9, 0.99), "data.mean": "0.5,0.4,0.3"})
    assert cfg.optim.betas == (0.9, 0.99) and cfg.data.mean == (0.5, 0.4, 0.3)
    with pytest.raises(ConfigError, match="keys cannot be added"):
        apply_overrides(cfg, ["+train.new=1"])


# ---- one error contract ----

def _tool(name: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "tools" / name), *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=300)


def _assert_one_line_error(r: subprocess.CompletedProcess, *needles: str) -> None:
    lines = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("error: ")]
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert all(n in lines[0] for n in needles), lines[0]


def test_error_contract_through_a_script(tmp_path):
    """The script level: the process prints one line and exits 2 (the other cases call the same mains in-process)."""
    _assert_one_line_error(_tool("pretrain.py", "--config", str(shipped_config("pretrain/smoke.py")), "--output-dir",
                                 str(tmp_path / "p"), "train.epochz=1"), "train.epochz", "train.epochs")


def test_error_contract_core_and_classification_tools(tmp_path, capsys):
    from mae_core.cli import convert_main, pretrain_main
    from mae_core.targets.tokenizers.cli import main as tokenizer_main
    from transfer.classification.cli import finetune_main
    from transfer.studies.ablation.cli import main as ablate_main
    from transfer.studies.demo import main as demo_main
    run = functools.partial(run_main, capsys)
    _assert_one_line_error(run(pretrain_main, "--config", str(shipped_config("pretrain/smoke.py")), "--data-path",
                               str(tmp_path / "missing"), "--output-dir", str(tmp_path / "p")), "missing")
    _assert_one_line_error(run(convert_main, "--to", "timm", str(tmp_path / "none.pth"), str(tmp_path / "out.pth")),
                           "none.pth")
    (tmp_path / "data" / "train" / "a").mkdir(parents=True)           # the case: no val/ folder
    _assert_one_line_error(run(finetune_main, "--config", str(shipped_config("classification/smoke_finetune.py")),
                               "--data-path", str(tmp_path / "data"), "--output-dir", str(tmp_path / "f")), "val")
    _assert_one_line_error(run(demo_main, "--output-dir", str(tmp_path / "d"), "model.mask_ratioo=0.5"),
                           "model.mask_ratio")
    _assert_one_line_error(run(tokenizer_main, "--steps", "1"), "--output-dir")
    _assert_one_line_error(run(ablate_main, "--table", "d", "--scale", "full"), "--data-path")


@pytest.mark.detectron2
@pytest.mark.mmseg
def test_error_contract_framework_tools(tmp_path, capsys):
    pytest.importorskip("detectron2")
    pytest.importorskip("mmseg")
    from transfer.detectron2.cli import main as coco_main
    from transfer.mmseg.cli import main as ade_main
    run = functools.partial(run_main, capsys)
    _assert_one_line_error(run(coco_main, "--config", str(shipped_config("coco/smoke.py")), "--data-path",
                               str(tmp_path), "--output-dir", str(tmp_path / "c")), "not a COCO root")
    _assert_one_line_error(run(ade_main, "--config", str(shipped_config("ade20k/smoke.py")), "--data-path",
                               str(tmp_path / "none"), "--num-classes", "10", "--output-dir", str(tmp_path / "a"),
                               "train_cfg.max_iter=3"), "did you mean 'train_cfg.max_iters'")


# ---- one logging set-up, one atomic JSON writer, no environment left set ----

def test_setup_logging_is_idempotent_and_quiet_off_rank_zero():
    root = logging.getLogger()
    before = list(root.handlers)
    try:
        setup_logging(0)
        setup_logging(0)
        ours = [h for h in root.handlers if h not in before]
        assert len(ours) == 1 and root.level == logging.INFO
        setup_logging(1)
        assert root.level == logging.WARNING and len([h for h in root.handlers if h not in before]) == 1
    finally:
        for h in [h for h in root.handlers if h not in before]:
            root.removeHandler(h)
        root.setLevel(logging.WARNING)


def test_atomic_write_json_replaces_whole_or_not_at_all(tmp_path):
    path = tmp_path / "sub" / "metrics.json"
    atomic_write_json({"top1": 1.5, "path": tmp_path}, path)
    assert json.loads(path.read_text()) == {"top1": 1.5, "path": str(tmp_path)}

    class Boom:
        def __str__(self):
            raise RuntimeError("cannot serialise")
    with pytest.raises(RuntimeError):
        atomic_write_json({"top1": 2.0, "bad": Boom()}, path)
    assert json.loads(path.read_text())["top1"] == 1.5                  # the old file, whole
    assert [p.name for p in path.parent.iterdir()] == ["metrics.json"]  # no temporary file left


def test_no_library_module_sets_environment_variables():
    offenders = []
    for pkg in ("mae_core", "transfer"):
        for f in (ROOT / pkg).rglob("*.py"):
            if str(f.relative_to(ROOT)) in ENV_ALLOWED:
                continue
            for node in ast.walk(ast.parse(f.read_text())):
                text = ast.unparse(node) if isinstance(node, (ast.Assign, ast.Call, ast.AugAssign)) else ""
                if "os.environ[" in text.split("=")[0] and isinstance(node, ast.Assign) or any(
                        s in text for s in ("os.environ.setdefault(", "os.environ.update(", "os.putenv(")):
                    offenders.append(f"{f.relative_to(ROOT)}:{node.lineno}")
    assert not offenders, offenders


@pytest.mark.mmseg
def test_runner_checkpoint_globals_allows_only_while_loading(tmp_path):
    pytest.importorskip("mmseg")
    import collections

    import numpy as np
    import torch

    from transfer.mmseg.train import runner_checkpoint_globals
    path = tmp_path / "iter_1.pth"
    torch.save({"meta": collections.OrderedDict(a=np.arange(3))}, path)
    env = dict(os.environ)
    with runner_checkpoint_globals(str(path)):
        assert torch.load(path, weights_only=True)["meta"]["a"].tolist() == [0, 1, 2]
    assert dict(os.environ) == env
    with pytest.raises(Exception):
        torch.load(path, weights_only=True)                           # the allowance ended with the block


def test_suite_record_reads_pytest_summary_and_durations():
    from transfer.studies.suite_record import parse
    out = parse("12.30s call     tests/test_a.py::test_x\n0.50s setup    tests/test_b.py::test_y\n"
                "1 failed, 446 passed, 2 skipped, 26 warnings in 1345.67s (0:22:25)\n")
    assert out["counts"] == {"failed": 1, "passed": 446, "skipped": 2}
    assert out["slowest"] == [[12.3, "tests/test_a.py::test_x"], [0.5, "tests/test_b.py::test_y"]]
