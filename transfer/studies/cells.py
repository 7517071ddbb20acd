"""The cell machinery of the studies (tools/compare_targets.py, tools/transfer_study.py): one job per cell in its
own folder ``OUT/cells/<name>/``, a ``result.json`` written atomically when it finishes, a rerun that skips finished
cells (an unfinished one resumes from its folder: the trainers resume from their checkpoints), and a scheduler that
runs cells as subprocesses once the cells they wait for are done: one per GPU in parallel
(``CUDA_VISIBLE_DEVICES``) when several GPUs are visible, one at a time otherwise; or, with a study's
``--in-process``, one after another in the study's own process (a debugger sees every cell; no process start-ups).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.engine.metrics_log import run_context

logger = logging.getLogger(__name__)

def cell_dir(out: Path, name: str) -> Path:
    return Path(out) / "cells" / name


def write_atomic(path: Path, obj: dict) -> None:
    """A cell's JSON, written atomically."""
    atomic_write_json(obj, path, indent=1)


def read_result(out: Path, name: str) -> dict | None:
    f = cell_dir(out, name) / "result.json"
    return json.loads(f.read_text()) if f.exists() else None


class LoadSampler:
    """Samples the 1-minute load average every `every` seconds in a thread -> {"start", "end", "mean", "max"}."""

    def __init__(self, every: float = 15.0) -> None:
        self.every, self.samples = every, [os.getloadavg()[0]]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join(timeout=1.0)
        self.samples.append(os.getloadavg()[0])
        s = self.samples
        return {"start": round(s[0], 2), "end": round(s[-1], 2), "mean": round(sum(s) / len(s), 2),
                "max": round(max(s), 2), "cpus": os.cpu_count()}


def run_cell(out: Path, name: str, fn: Callable[[Path], dict]) -> dict:
    """Runs ``fn(work_dir)`` for cell `name` unless its result exists; writes ``{"cell", **fn's result,
    "cell_wall_s", "load_avg", "ran_at": {"commit", "cpu"}}`` atomically to ``OUT/cells/<name>/result.json``
    -> that dict."""
    d = cell_dir(out, name)
    done = read_result(out, name)
    if done is not None:
        return done
    sampler, t0 = LoadSampler(), time.time()
    try:
        result = {"cell": name, **fn(d / "work")}
    finally:
        load = sampler.stop()
    result["cell_wall_s"] = round(time.time() - t0, 1)
    result["load_avg"] = load
    ctx = run_context()
    result["ran_at"] = {"commit": ctx["commit"], "cpu": ctx["cpu"]}
    write_atomic(d / "result.json", result)
    return result


def _deps(dep) -> tuple[str, ...]:
    if dep is None:
        return ()
    return (dep,) if isinstance(dep, str) else tuple(dep)


def _readiness(dep, state: dict[str, str]) -> str:
    """'blocked' (a cell it waits for failed or is blocked), 'wait' (one has not finished) or 'ready'."""
    deps = _deps(dep)
    if any(state.get(d) in ("failed", "blocked") for d in deps):
        return "blocked"
    return "wait" if any(state.get(d) not in ("done", "skipped") for d in deps) else "ready"


def _run_here(out: Path, todo: list[tuple[str, object]], run: Callable[[str], object],
              state: dict[str, str]) -> dict[str, str]:
    """Every cell of `todo` not in `state` in this process, in order (a cell comes after those it waits for); its log
    records also go to ``OUT/cells/<name>/log.txt``; a cell is 'done' when it wrote its result, else 'failed' (what it
    raised, ``SystemExit`` included, is logged)."""
    for name, dep in todo:
        if name in state:
            continue
        ready = _readiness(dep, state)
        if ready == "blocked":
            state[name] = "blocked"
            continue
        if ready == "wait":
            raise ValueError(f"cell {name} comes before the cells it waits for: {_deps(dep)}")
        d = cell_dir(out, name)
        d.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(d / "log.txt")
        logging.getLogger().addHandler(handler)
        logger.info("cell %s: started in this process (log %s)", name, d / "log.txt")
        try:
            run(name)
        except (Exception, SystemExit):  # as a cell subprocess that exits: its failure blocks its dependents only
            logger.exception("cell %s: raised", name)
        finally:
            logging.getLogger().removeHandler(handler)
            handler.close()
        state[name] = "done" if (d / "result.json").exists() else "failed"
        logger.info("cell %s: %s", name, state[name])
    return state


def schedule(out: Path, todo: list[tuple[str, object]], command: Callable[[str], list[str]], gpus: int = 0,
             poll_s: float = 1.0, run_here: Callable[[str], object] | None = None) -> dict[str, str]:
    """Runs every unfinished cell of `todo` ((name, the cell or cells it waits for)) as ``command(name)`` in a
    subprocess (log in ``OUT/cells/<name>/log.txt``), at most one per GPU at a time (one at a time without GPUs), or
    as ``run_here(name)`` in this process when given -> {cell: 'skipped' | 'done' | 'failed' | 'blocked'}; a cell
    whose dependency failed is 'blocked'. Stopping the scheduler (SIGTERM, Ctrl-C) stops its running cells."""
    out = Path(out)
    state: dict[str, str] = {}
    for name, _ in todo:
        if (cell_dir(out, name) / "result.json").exists():
            state[name] = "skipped"
            logger.info("cell %s: result exists, skipped", name)
    if run_here is not None:
        return _run_here(out, todo, run_here, state)
    running: dict[str, tuple[subprocess.Popen, int | None, object]] = {}
    previous = _exit_on_sigterm()
    try:
        return _run_subprocesses(out, todo, command, gpus, poll_s, state, running)
    finally:   # a stop (SIGTERM, Ctrl-C, an error) ends the running cells too: none is left behind, orphaned
        _stop_cells(running)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm():
    """SIGTERM raises SystemExit in the scheduler (so its cells are stopped) -> the previous handler, or None when
    this is not the main thread (no handler can be set there)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def stop(signum, frame):
        raise SystemExit(128 + signum)
    return signal.signal(signal.SIGTERM, stop)


def _stop_cells(running: dict, grace_s: float = 60.0) -> None:
    """SIGTERM to every running cell (a pretraining checkpoints at its next step and exits), SIGKILL after
    `grace_s`; the cells' results stay unwritten, so a rerun runs them again (resuming their own checkpoints)."""
    for name, (proc, _, log) in running.items():
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(grace_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            logger.info("cell %s: stopped with the study", name)
        log.close()
    running.clear()


def _run_subprocesses(out: Path, todo, command, gpus: int, poll_s: float, state: dict, running: dict) -> dict:
    slots: list[int | None] = list(range(gpus)) or [None]
    env_base = dict(os.environ)
    while True:
        for name, (proc, slot, log) in list(running.items()):
            if proc.poll() is not None:
                log.close()
                state[name] = "done" if proc.returncode == 0 and (cell_dir(out, name) / "result.json").exists() \
                    else "failed"
                logger.info("cell %s: %s (exit %d)", name, state[name], proc.returncode)
                slots.append(slot)
                del running[name]
        for name, dep in todo:
            if name in state or name in running:
                continue
            ready = _readiness(dep, state)
            if ready == "blocked":
                state[name] = "blocked"
                continue
            if ready == "wait":
                continue
            if not slots:
                break
            slot = slots.pop(0)
            env = dict(env_base)
            if slot is not None:
                env["CUDA_VISIBLE_DEVICES"] = str(slot)
            d = cell_dir(out, name)
            d.mkdir(parents=True, exist_ok=True)
            log = open(d / "log.txt", "a")  # noqa: SIM115 - open while the cell runs, closed when it ends
            logger.info("cell %s: started%s (log %s)", name, "" if slot is None else f" on GPU {slot}", d / "log.txt")
            proc = subprocess.Popen(command(name), env=env, stdout=log, stderr=subprocess.STDOUT, cwd=os.getcwd())
            running[name] = (proc, slot, log)
        if not running and all(name in state for name, _ in todo):
            return state
        time.sleep(poll_s)


def gpu_count() -> int:
    try:
        import torch
        return torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no usable torch.cuda: CPU only
        return 0


def add_cell_flags(parser) -> None:
    """The flags of a study's cells: ``--in-process`` and the hidden ``--run-cell NAME`` of a cell's subprocess."""
    parser.add_argument("--in-process", action="store_true",
                        help="run the cells one after another in this process instead of one subprocess each "
                             "(a debugger sees them; no GPU fan-out)")
    parser.add_argument("--run-cell", help=argparse.SUPPRESS)


def study_start(argv: list[str] | None, parser, run_cell: Callable) -> tuple[list[str], object, Path] | None:
    """The common start of a study's ``main``: parse `argv`, set up logging; a ``--run-cell NAME`` child runs that one
    cell and gets None; the scheduler gets (argv, args, its output folder, created)."""
    import sys

    from mae_core.cli import setup_logging
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    setup_logging()
    if args.run_cell:
        run_cell(args, args.run_cell)
        return None
    out = Path(args.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    return argv, args, out


def unfinished(state: dict[str, str], out: Path) -> int:
    """The exit code of a study: 1 (naming the cells) when a cell failed, was blocked or did not run, else 0."""
    left = sorted(k for k, v in state.items() if v in ("failed", "blocked", "not run"))
    if left:
        logger.error("cells not finished: %s (see %s/cells/<cell>/log.txt)", ", ".join(left), out)
        return 1
    return 0
