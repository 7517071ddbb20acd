"""The test suite's own figures (count, wall time, slowest tests) as a result file; see tools/record_test_run.py."""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.engine.metrics_log import run_context

SUMMARY = re.compile(r"(\d+) (passed|failed|skipped|deselected|errors?|xfailed|xpassed)")
DURATION = re.compile(r"^([\d.]+)s (call|setup|teardown)\s+(\S+)")


def parse(output: str) -> dict:
    """pytest's closing line and its --durations table -> {"counts": {...}, "slowest": [[seconds, test], ...]}."""
    last = [line for line in output.splitlines() if SUMMARY.search(line)][-1:]
    counts = {kind: int(n) for n, kind in SUMMARY.findall(last[0])} if last else {}
    slowest = [[float(m.group(1)), m.group(3)] for m in map(DURATION.match, output.splitlines()) if m]
    return {"counts": counts, "slowest": slowest}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="run the test suite and record its figures")
    p.add_argument("--output", default="docs/results/test_suite.json")
    p.add_argument("pytest_args", nargs="*", help="extra pytest arguments (after --)")
    a = p.parse_args(argv)
    before = run_context()
    t0 = time.time()
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--durations", "15", "tests",
           *a.pytest_args]
    r = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    sys.stdout.write(r.stdout[-4000:])
    record = {"command": "python tools/record_test_run.py " + " ".join(a.pytest_args), "returncode": r.returncode,
              "wall_s": round(wall, 1), **parse(r.stdout), "machine": before,
              "loadavg_after": run_context()["loadavg"]}
    atomic_write_json(record, Path(a.output))
    return r.returncode
