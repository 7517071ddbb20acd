"""tools/transfer_study.py: cells and their dependencies, the fair lr choice, the table, resume after a kill.

The machinery runs with fake cell work (a script that swaps the runners); the real transfers at a micro budget are
the slow test at the end. Learning claims are measured by the study, not asserted here."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import run_main

from mae_core.engine.metrics_log import run_context
from transfer.studies import cells as cl
from transfer.studies import study_runners as R
from transfer.studies import study_tables as st
from transfer.studies import transfer_study as ts

REPO = Path(__file__).resolve().parents[1]

FAKE = r'''
import json, os, sys, time
from transfer.studies import study_runners as R, transfer_study as ts
# (arm, lr) -> the figure: scratch is better at the large lr, the in-domain MAE at the recipe's
BASE = {("mae_in_domain", "recipe"): 60, ("mae_in_domain", "large"): 55, ("mae_demo", "recipe"): 40,
        ("mae_demo", "large"): 45, ("scratch", "recipe"): 30, ("scratch", "large"): 50}
def trace(args, **kw):
    with open(os.path.join(args.output_dir, "trace.jsonl"), "a") as f:
        f.write(json.dumps(kw) + "\n")
def data(args, root):
    return {"data": {"classes": ["a", "b"], "counts": {}}}
def pretrain(args, arm, seed, work):
    trace(args, kind="pretrain", arm=arm, seed=seed)
    return {"checkpoint": f"{arm}{seed}.pth", "steps": 5, "batch": 4}
def task(name):
    def run(args, arm, seed, lr_scale, work, pre, data):
        time.sleep(float(os.environ.get("FAKE_SLEEP", "0")))
        lr = "recipe" if lr_scale == 1.0 else "large"
        trace(args, kind=name, arm=arm, seed=seed, lr=lr, checkpoint=pre["checkpoint"])
        v = BASE[(arm, lr)] + seed
        return {"metrics": {m: v + i for i, m in enumerate(ts.METRICS[name])}, "lr": 1e-3 * lr_scale, "steps": 3,
                "batch": 2}
    return run
R.RUNNERS.update(data=data, pretrain=pretrain, coco=task("coco"), ade20k=task("ade20k"),
                 classification=task("classification"))
ts.cell_command = lambda argv, name: [sys.executable, __file__, *argv, "--run-cell", name]
sys.exit(ts.main(sys.argv[1:]))
'''
SMALL = ["--tasks", "classification", "--arms", "mae_in_domain,scratch", "--seeds", "2"]


def _args(out, *extra):
    return ts.build_parser().parse_args(["--output-dir", str(out), *extra])


def test_cells_and_dependencies(tmp_path):
    spec = ts.cells(_args(tmp_path))
    assert ts.build_parser().parse_args([]).seeds == 3
    # data, 3 arms x 3 seeds pretrainings, seed 0: 3 tasks x 3 arms x 2 lrs, seeds 1-2: 3 x 3 each, and the frozen
    # patch probe of every arm and seed (no lr to choose: one cell each, after its pretraining only)
    assert len(spec) == 1 + 9 + 18 + 18 + 9
    assert spec["patch_probe_mae_in_domain_s1"] == {"kind": "patch_probe", "arm": "mae_in_domain", "seed": 1,
                                                    "lr": None, "lrs": (), "deps": ("pretrain_mae_in_domain_s1",)}
    assert "patch_probe_scratch_s0" in spec and "patch_probe_scratch_s0_recipe" not in spec
    assert spec["coco_scratch_s0_large"]["deps"] == ("pretrain_scratch_s0",)
    assert spec["ade20k_mae_demo_s2"]["deps"] == ("pretrain_mae_demo_s2", "ade20k_mae_demo_s0_recipe",
                                                  "ade20k_mae_demo_s0_large")
    names = list(spec)
    # seed by seed: a study stopped early has whole seeds
    assert names.index("classification_scratch_s0_large") < names.index("pretrain_mae_in_domain_s1")
    with pytest.raises(SystemExit, match="--arms.*'mae'"):
        ts.cells(_args(tmp_path, "--arms", "mae"))
    # --lrs recipe: no lr choice, the first seed runs once per (task, arm) and the later seeds depend on that run
    one = ts.cells(_args(tmp_path, "--lrs", "recipe"))
    assert len(one) == 1 + 9 + 9 + 18 + 9 and "coco_scratch_s0_large" not in one
    assert one["ade20k_mae_demo_s2"]["deps"] == ("pretrain_mae_demo_s2", "ade20k_mae_demo_s0_recipe")
    with pytest.raises(SystemExit, match="--lrs.*'best'"):
        ts.cells(_args(tmp_path, "--lrs", "best"))
    # the in-domain MAE continued from the seed's demo MAE: the demo start is made (not transferred) first
    cont = ts.cells(_args(tmp_path, "--arms", "mae_in_domain,scratch", "--in-domain-init", "demo"))
    assert cont["pretrain_mae_in_domain_s1"]["deps"] == ("data", "pretrain_mae_demo_s1")
    assert list(cont).index("pretrain_mae_demo_s1") < list(cont).index("pretrain_mae_in_domain_s1")
    assert not any(n.startswith(("coco_mae_demo", "ade20k_mae_demo")) for n in cont)
    assert ts.cells(_args(tmp_path))["pretrain_mae_in_domain_s0"]["deps"] == ("data",)


def test_finetuned_arm_cells_wait_for_the_in_domain_crop_fine_tuning(tmp_path):
    """mae_finetuned starts from the in-domain MAE's classification cells (made whatever --arms / --tasks say), has no
    classification figure of its own, and its start waits for every first-seed run the lr choice reads."""
    spec = ts.cells(_args(tmp_path, "--arms", "mae_finetuned,scratch", "--tasks", "ade20k", "--seeds", "2"))
    assert spec["pretrain_mae_finetuned_s0"]["deps"] == ("pretrain_mae_in_domain_s0",
                                                         "classification_mae_in_domain_s0_recipe",
                                                         "classification_mae_in_domain_s0_large")
    assert spec["pretrain_mae_finetuned_s1"]["deps"] == ("pretrain_mae_in_domain_s1", "classification_mae_in_domain_s1")
    assert spec["ade20k_mae_finetuned_s1"]["deps"] == ("pretrain_mae_finetuned_s1", "ade20k_mae_finetuned_s0_recipe",
                                                       "ade20k_mae_finetuned_s0_large")
    assert not any(n.startswith(("classification_mae_finetuned", "ade20k_mae_in_domain", "classification_scratch"))
                   for n in spec)
    names = list(spec)
    assert names.index("classification_mae_in_domain_s1") < names.index("pretrain_mae_finetuned_s1")
    assert ts.build_parser().parse_args([]).arms == "mae_in_domain,mae_demo,scratch"
    # the in-domain MAE it needs is continued from the demo MAE when asked, even without mae_in_domain in --arms
    cont = ts.cells(_args(tmp_path, "--arms", "mae_finetuned", "--in-domain-init", "demo", "--seeds", "1"))
    assert cont["pretrain_mae_in_domain_s0"]["deps"] == ("data", "pretrain_mae_demo_s0")


def test_finetuned_start_takes_the_classifiers_blocks_and_the_maes_position_table(tmp_path):
    import torch

    from mae_core.checkpoint.io import read_checkpoint
    from mae_core.checkpoint.pretrained import DECODER_PREFIXES
    from mae_core.config import load_config
    from mae_core.engine.trainer import save_initial_checkpoint
    args = _args(tmp_path, "--size", "64", "--patch-size", "8", "--arms", "mae_finetuned")
    enc = save_initial_checkpoint(load_config(args.pretrain_config, R.in_domain_overrides(args, 0)),
                                  tmp_path / "enc.pth", 0)
    cl.write_atomic(cl.cell_dir(tmp_path, "pretrain_mae_in_domain_s0") / "result.json", {"checkpoint": str(enc)})
    mae = read_checkpoint(enc)["model"]
    for lr, top1, shift in (("recipe", 70.0, 1.0), ("large", 80.0, 2.0)):   # the large lr's run is the better
        name = f"classification_mae_in_domain_s0_{lr}"
        sd = {k: v + shift for k, v in mae.items()
              if not k.startswith(DECODER_PREFIXES) and k not in ("pos_embed", "norm.weight", "norm.bias")}
        sd.update({"pos_embed": torch.zeros(1, 1 + 36, mae["pos_embed"].shape[-1]), "head.weight": torch.ones(4, 1)})
        (cl.cell_dir(tmp_path, name) / "work").mkdir(parents=True)
        torch.save({"model": sd}, cl.cell_dir(tmp_path, name) / "work" / "checkpoint-last.pth")
        cl.write_atomic(cl.cell_dir(tmp_path, name) / "result.json", {"metrics": {"top1": top1}, "steps": 7,
                                                                      "batch": 3})
    got = R.run_pretrain(args, "mae_finetuned", 0, tmp_path / "ft")
    assert got["source_cell"] == "classification_mae_in_domain_s0_large" and (got["steps"], got["batch"]) == (7, 3)
    start = read_checkpoint(got["checkpoint"])
    torch.testing.assert_close(start["model"]["blocks.0.attn.qkv.weight"], mae["blocks.0.attn.qkv.weight"] + 2.0)
    torch.testing.assert_close(start["model"]["pos_embed"], mae["pos_embed"])
    assert "head.weight" not in start["model"] and start["manifest"]["encoder"]["patch_size"] == 8
    # a classifier of another ViT is named, not loaded
    bad = cl.cell_dir(tmp_path, "classification_mae_in_domain_s1") / "work"
    bad.mkdir(parents=True)
    torch.save({"model": {"blocks.0.attn.qkv.weight": torch.zeros(3, 3)}}, bad / "checkpoint-last.pth")
    cl.write_atomic(cl.cell_dir(tmp_path, "pretrain_mae_in_domain_s1") / "result.json", {"checkpoint": str(enc)})
    with pytest.raises(ValueError, match="classification_mae_in_domain_s1.*not a fine-tuning"):
        R.run_pretrain(args, "mae_finetuned", 1, tmp_path / "ft1")


def _write(out, name, task, arm, seed, lr, value):
    cl.write_atomic(cl.cell_dir(out, name) / "result.json", {
        "cell": name, "task": task, "arm": arm, "seed": seed, "lr_choice": lr, "lr": 3e-3 if lr == "large" else 1e-3,
        "metrics": {m: value + i for i, m in enumerate(ts.METRICS[task])}, "steps": 10, "batch": 4,
        "cell_wall_s": 1.5, "load_avg": {"mean": 1.0, "max": 2.0}})


def test_lr_choice_results_and_table(tmp_path):
    args = _args(tmp_path, "--tasks", "coco", "--arms", "mae_in_domain,scratch", "--seeds", "2")
    spec = ts.cells(args)
    for arm, (rec, large) in {"mae_in_domain": (20.0, 18.0), "scratch": (10.0, 12.0)}.items():
        _write(tmp_path, f"coco_{arm}_s0_recipe", "coco", arm, 0, "recipe", rec)
        _write(tmp_path, f"coco_{arm}_s0_large", "coco", arm, 0, "large", large)
    assert ts.chosen_lr(tmp_path, "coco", "mae_in_domain") == "recipe"
    assert ts.chosen_lr(tmp_path, "coco", "scratch") == "large"
    _write(tmp_path, "coco_mae_in_domain_s1", "coco", "mae_in_domain", 1, "recipe", 24.0)
    _write(tmp_path, "coco_scratch_s1", "coco", "scratch", 1, "large", 13.0)
    res = st.build_results(tmp_path, spec, {}, vars(args))
    figs = {(c["arm"], c["seed"], c["metric"]): c for c in res["cells"]}
    assert len(res["cells"]) == 8 and figs[("scratch", 0, "bbox_AP")]["value"] == 12.0
    assert figs[("scratch", 0, "segm_AP")]["cell"] == "coco_scratch_s0_large"
    assert set(res["cells"][0]) >= {"task", "arm", "seed", "metric", "value", "steps", "batch", "wall_s", "load_avg"}
    s = res["summary"]["coco"]["bbox_AP"]
    assert s["mae_in_domain"]["mean"] == 22.0 and s["mae_in_domain"]["std"] == pytest.approx(2.83, abs=0.01)
    d = res["differences"]["mae_in_domain"]["coco"]["bbox_AP"]
    assert d["per_seed"] == {0: 8.0, 1: 11.0} and d["mean"] == 9.5
    choice = {r["arm"]: r for r in res["lr_runs"]}
    assert choice["scratch"]["chosen"] == "large" and choice["scratch"]["runs"]["recipe"]["metrics"]["bbox_AP"] == 10
    md = st.markdown(res)
    assert "| mae_in_domain | 22.0 ± 2.8 | 23.0 ± 2.8 |" in md
    assert "| coco bbox_AP | +8.0 | +11.0 | +9.5 ± 2.1 |" in md
    assert "| coco | scratch |" in md and md.count("| coco_") == 6
    json.dumps(res)
    # a study run in parts: --report-only writes the files from the finished cells and runs nothing
    argv = ["--output-dir", str(tmp_path), "--tasks", "coco", "--arms", "mae_in_domain,scratch", "--seeds", "3"]
    assert ts.main([*argv, "--report-only"]) == 1                      # seed 2 and the pretrainings: not run
    rep = json.loads((tmp_path / "transfer_study.json").read_text())
    assert rep["state"]["coco_scratch_s2"] == "not run" and rep["state"]["coco_scratch_s1"] == "done"
    assert len(rep["cells"]) == 8 and not list(tmp_path.glob("cells/pretrain_*"))


def test_wall_time_per_seed_counts_the_scenes_in_the_first_seed(tmp_path):
    args = _args(tmp_path, "--tasks", "coco", "--arms", "mae_in_domain,scratch", "--seeds", "2")
    for name, wall in {"data": 30.0, "pretrain_mae_in_domain_s0": 600.0, "pretrain_mae_in_domain_s1": 540.0}.items():
        cl.write_atomic(cl.cell_dir(tmp_path, name) / "result.json", {"cell": name, "cell_wall_s": wall,
                                                                      "load_avg": {"mean": 1.0, "max": 2.0}})
    for arm in ("mae_in_domain", "scratch"):
        for lr in ("recipe", "large"):
            _write(tmp_path, f"coco_{arm}_s0_{lr}", "coco", arm, 0, lr, 10.0)
        _write(tmp_path, f"coco_{arm}_s1", "coco", arm, 1, "recipe", 10.0)
    res = st.build_results(tmp_path, ts.cells(args), {}, vars(args))
    assert res["seed_wall"] == [{"seed": 0, "cells": 6, "wall_s": 636.0, "pretrain_wall_s": 600.0},
                                {"seed": 1, "cells": 3, "wall_s": 543.0, "pretrain_wall_s": 540.0}]
    md = st.markdown(res)
    assert "| seed 0 | 6 | 10.6 | 10.0 |" in md and "| seed 1 | 3 | 9.1 | 9.0 |" in md


def test_a_cell_without_a_metric_of_its_task_is_named(tmp_path):
    args = _args(tmp_path, "--tasks", "coco", "--arms", "scratch", "--seeds", "2")
    _write(tmp_path, "coco_scratch_s0_recipe", "coco", "scratch", 0, "recipe", 10.0)
    _write(tmp_path, "coco_scratch_s0_large", "coco", "scratch", 0, "large", 12.0)
    cl.write_atomic(cl.cell_dir(tmp_path, "coco_scratch_s1") / "result.json", {
        "cell": "coco_scratch_s1", "task": "coco", "arm": "scratch", "seed": 1, "metrics": {"bbox_AP": 3.0}})
    with pytest.raises(ValueError, match="coco_scratch_s1/result.json has no segm_AP"):
        st.build_results(tmp_path, ts.cells(args), {}, vars(args))


def _study(out, *extra, env=None):
    script = out.parent / "fake_study.py"
    script.write_text(FAKE)
    return [sys.executable, str(script), "--output-dir", str(out), *SMALL, *extra]


def test_a_task_lr_factor_sets_that_tasks_second_lr_only(tmp_path, capsys):
    out = tmp_path / "study"
    cmd = _study(out, "--tasks", "coco,classification", "--seeds", "1", "--lr-factor", "3",
                 "--task-lr-factor", "coco=0.5", "--in-process")
    run = subprocess.run(cmd, env=dict(os.environ, OMP_NUM_THREADS="1"), capture_output=True, text=True,
                         timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    res = json.loads((out / "transfer_study.json").read_text())
    second = {(r["task"], r["arm"]): r["runs"]["large"]["lr"] for r in res["lr_runs"]}
    assert second[("coco", "scratch")] == pytest.approx(5e-4)
    assert second[("classification", "scratch")] == pytest.approx(3e-3)
    md = (out / "transfer_study.md").read_text()
    assert "5.00e-04 (x0.5)" in md and "3.00e-03 (x3)" in md
    same = ["--output-dir", out, *SMALL, "--tasks", "coco,classification", "--seeds", "1", "--lr-factor", "3"]
    assert run_main(capsys, ts.main, *same, "--task-lr-factor", "coco=0.5", "--report-only").returncode == 0
    r = run_main(capsys, ts.main, *same, "--task-lr-factor", "coco=0.25")   # finished cells of another factor
    assert r.returncode == 2 and "_s0_large ran its second lr at 0.5 x the recipe's, not 0.25" in r.stderr
    for bad in ("coco=0", "coco=fast", "detection=2"):
        r = run_main(capsys, ts.main, "--output-dir", tmp_path / "bad", "--task-lr-factor", bad)
        assert r.returncode == 2 and f"--task-lr-factor {bad!r}" in r.stderr
    assert not (tmp_path / "bad" / "cells").exists()   # nothing ran


@pytest.mark.slow
def test_kill_then_resume_skips_finished_cells_and_keeps_the_lr_choice(tmp_path):
    """The study is killed (its whole process group) mid-run; the rerun skips every finished cell, runs the rest,
    and the later seed uses each arm's lr chosen on seed 0."""
    out = tmp_path / "study"
    cmd = _study(out)
    env = dict(os.environ, OMP_NUM_THREADS="1", FAKE_SLEEP="0.5")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.time() + 900
    while len(list(out.glob("cells/classification_*/result.json"))) < 2 and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done = {p: p.stat().st_mtime_ns for p in out.glob("cells/*/result.json")}
    assert len(done) >= 5 and not (out / "transfer_study.json").exists()
    second = subprocess.run(cmd, env=dict(env, FAKE_SLEEP="0"), capture_output=True, text=True, timeout=1200,
                            check=False)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("result exists, skipped") == len(done)
    assert {p: p.stat().st_mtime_ns for p in done} == done            # finished cells were not rerun
    res = json.loads((out / "transfer_study.json").read_text())
    trace = [json.loads(x) for x in (out / "trace.jsonl").read_text().splitlines()]
    seed1 = {t["arm"]: t for t in trace if t.get("seed") == 1 and t["kind"] == "classification"}
    assert seed1["scratch"]["lr"] == "large" and seed1["mae_in_domain"]["lr"] == "recipe"
    assert seed1["scratch"]["checkpoint"] == "scratch1.pth"
    vals = {(c["arm"], c["seed"]): c["value"] for c in res["cells"]}
    assert vals == {("mae_in_domain", 0): 60, ("scratch", 0): 50, ("mae_in_domain", 1): 61, ("scratch", 1): 51}
    assert res["differences"]["mae_in_domain"]["classification"]["top1"]["per_seed"] == {"0": 10, "1": 10}
    assert len(res["budget"]) == 1 + 4 + 4 + 2 and all(b["load_avg"]["max"] >= 0 for b in res["budget"])
    md = (out / "transfer_study.md").read_text()
    assert "## mae_in_domain - scratch, per seed" in md and md in second.stdout


SCHEDULER = r'''
import logging, sys
from pathlib import Path
logging.basicConfig(level=logging.INFO)
from transfer.studies import cells
out = Path(sys.argv[1])
cell = "import os, time; open(%r, 'w').write(str(os.getpid())); time.sleep(300)" % str(out / "cell.pid")
cells.schedule(out, [("a", None)], lambda name: [sys.executable, "-c", cell], poll_s=0.1)
'''


def test_sigterm_to_the_scheduler_alone_stops_its_running_cell(tmp_path):
    """`kill <study pid>` (not its process group) must not leave the running cell behind as an orphan."""
    script = tmp_path / "scheduler.py"
    script.write_text(SCHEDULER)
    proc = subprocess.Popen([sys.executable, str(script), str(tmp_path)], cwd=REPO, stderr=subprocess.PIPE, text=True)
    pid_file, deadline = tmp_path / "cell.pid", time.time() + 120
    while not (pid_file.exists() and pid_file.read_text()) and time.time() < deadline:
        time.sleep(0.1)
    cell_pid = int(pid_file.read_text())
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=90) == 128 + signal.SIGTERM
    with pytest.raises(ProcessLookupError):
        os.kill(cell_pid, 0)
    assert "cell a: stopped with the study" in proc.stderr.read()
    assert not (tmp_path / "cells" / "a" / "result.json").exists()


def test_failed_pretraining_blocks_its_transfers(tmp_path):
    calls = []

    def command(name):
        calls.append(name)
        code = "import sys; sys.exit(1)" if name == "b" else "pass"
        if name != "b":
            cl.write_atomic(cl.cell_dir(tmp_path, name) / "result.json", {"ok": 1})
        return [sys.executable, "-c", code]
    state = cl.schedule(tmp_path, [("a", None), ("b", ("a",)), ("c", ("b", "a")), ("d", "a")], command, poll_s=0.05)
    assert state == {"a": "done", "b": "failed", "c": "blocked", "d": "done"} and "c" not in calls


@pytest.mark.slow
@pytest.mark.detectron2
@pytest.mark.mmseg
def test_real_cells_at_a_micro_budget(tmp_path, capsys):
    """The real cells (scenes, the demo MAE resampled to the study's patch and grid, three transfers at the recipe's
    lr) at a micro budget, one seed, one arm, in the study's process (--in-process; the subprocess scheduler is
    tested with fake cells); the other arms' starting points are checked by test_scratch_and_in_domain_arms, the lr
    choice by the tests with fake cells."""
    pytest.importorskip("detectron2")
    pytest.importorskip("mmseg")
    out = tmp_path / "study"
    r = run_main(capsys, ts.main, "--output-dir", out, "--seeds", "1", "--num-train", "8", "--num-val", "4",
                 "--size", "64", "--pretrain-steps", "2", "--pretrain-batch", "4", "--demo-steps", "2",
                 "--coco-iters", "3", "--ade-iters", "2", "--ft-steps", "2", "--ft-batch", "8", "--ft-size", "32",
                 "--ade-options", "model.backbone.drop_path_rate=0.05",
                 "--arms", "mae_demo", "--lrs", "recipe", "--in-process")   # --precision: auto by default
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = json.loads((out / "transfer_study.json").read_text())
    ade = out / "cells" / "ade20k_mae_demo_s0_recipe"
    assert json.loads((ade / "result.json").read_text())["ade_options"] == ["model.backbone.drop_path_rate=0.05"]
    assert "drop_path_rate=0.05" in next((ade / "work").glob("*.py")).read_text()   # the run's config had it
    assert {(c["task"], c["metric"]) for c in res["cells"]} == {
        ("coco", "bbox_AP"), ("coco", "segm_AP"), ("ade20k", "mIoU"), ("classification", "top1"),
        ("patch_probe", "patch_acc"), ("patch_probe", "pos_share")}
    probe = json.loads((out / "cells" / "patch_probe_mae_demo_s0" / "result.json").read_text())
    assert probe["lr_choice"] is None and not probe["lr_chosen_on_seed0"] and probe["patches"]["val"] > 0
    for metric in ("patch_acc", "pos_share"):
        assert 0 <= probe["metrics"][metric] <= 100 and sorted(probe["per_block"][metric]) == ["2", "4", "5"]
        fig = next(c for c in res["cells"] if c["metric"] == metric)
        assert fig["per_block"] == probe["per_block"][metric] and fig["value"] == fig["per_block"]["5"]
    assert {c["arm"] for c in res["cells"]} == {"mae_demo"} and len(res["lr_runs"]) == 3
    assert all(list(r["runs"]) == ["recipe"] and r["chosen"] == "recipe" for r in res["lr_runs"])
    n = json.loads((out / "cells" / "data" / "result.json").read_text())["data"]["counts"]["train"]["crops"]
    cls = json.loads((out / "cells" / "classification_mae_demo_s0_recipe" / "result.json").read_text())
    batch = min(8, n)
    assert cls["steps"] == max(1, round(2 * batch / n)) * (n // batch)      # the steps taken (last batch dropped)
    demo = json.loads((out / "cells" / "pretrain_mae_demo_s0" / "result.json").read_text())
    manifest = json.loads(Path(demo["checkpoint"] + ".json").read_text())["manifest"]
    assert manifest["encoder"]["patch_size"] == 8 and manifest["encoder"]["img_size"] == [64, 64]
    assert manifest["decoder"] is None
    assert res["scenes"]["train"]["scenes"] == 8 and 0 < res["scenes"]["val"]["item_cover"] < 1   # what it ran on
    made = next(b for b in res["budget"] if b["cell"] == "pretrain_mae_demo_s0")
    assert made["steps"] == 2 and made["precision"] in ("fp32", "bf16")   # auto (the default) resolved as it ran
    why = made["precision_choice"]                                         # and why: on a CPU, said or measured
    assert why["precision"] == made["precision"] and why["chosen_by"] in (
        "cpu has AMX", "cpu without AVX-512 bf16", "measured at width 192")
    assert (why["bf16_speedup"] is not None) == why["chosen_by"].startswith("measured")
    for task in ("coco", "ade20k", "classification"):   # each transfer's precision and why, from its tool's record
        cell = next(b for b in res["budget"] if b["cell"] == f"{task}_mae_demo_s0_recipe")
        assert cell["precision"] in ("fp32", "bf16") and cell["precision_choice"]["precision"] == cell["precision"]
        assert cell["precision_choice"]["chosen_by"], cell


def test_scratch_and_in_domain_arms(tmp_path):
    """Scratch is the in-domain arm's model at its seeded initialisation: the same encoder config (the study's
    size and patch), different weights per seed, no steps; the in-domain run pretrains on the train scenes."""
    import torch

    from mae_core.checkpoint.io import read_state_dict
    args = _args(tmp_path, "--size", "64", "--patch-size", "8", "--pretrain-steps", "10", "--pretrain-batch", "4")
    over = R.in_domain_overrides(args, 1)
    assert over["model.patch_size"] == 8 and over["model.img_size"] == 64 and over["train.max_steps"] == 10
    assert over["data.path"] == str(tmp_path / "data" / "coco" / "train") and "optim.base_lr" not in over
    assert "train.precision" not in over   # the pretraining config's own precision (auto) unless --precision says
    assert R.in_domain_overrides(_args(tmp_path, "--precision", "fp32"), 1)["train.precision"] == "fp32"
    more = R.in_domain_overrides(_args(tmp_path, "--num-unlabelled", "400", "--pretrain-batch", "4",
                                       "--pretrain-steps", "10"), 1)
    assert more["data.path"] == str(tmp_path / "data" / "unlabelled") and more["train.epochs"] == 1
    assert R.in_domain_start(args, 1) == {}
    # a demo MAE made once (--demo-checkpoint): its steps and batch come from its manifest, its weights are resampled
    from mae_core.config import load_config, shipped_config
    from mae_core.engine.trainer import save_initial_checkpoint
    made = save_initial_checkpoint(load_config(shipped_config("pretrain/demo.py")), tmp_path / "demo.pth", 0)
    demo = R.run_pretrain(_args(tmp_path, "--size", "64", "--demo-checkpoint", made), "mae_demo", 1, tmp_path / "d")
    assert (demo["steps"], demo["batch"]) == (0, 128) and demo["source_checkpoint"] == str(Path(made).resolve())
    assert read_state_dict(demo["checkpoint"])[0]["patch_embed.proj.weight"].shape[-1] == 8
    cl.write_atomic(cl.cell_dir(tmp_path, "pretrain_mae_demo_s1") / "result.json", {"checkpoint": "demo1-patch8.pth"})
    assert R.in_domain_start(_args(tmp_path, "--in-domain-init", "demo"), 1) == {"train.init_from": "demo1-patch8.pth"}
    got = [R.run_pretrain(args, "scratch", seed, tmp_path / f"s{seed}") for seed in (0, 0, 1)]
    assert all(g["steps"] == 0 for g in got)
    sd = [read_state_dict(g["checkpoint"])[0] for g in got]
    assert read_state_dict(got[0]["checkpoint"])[1]["manifest"]["encoder"]["patch_size"] == 8
    assert sd[0]["pos_embed"].shape[1] == 1 + 8 * 8
    assert torch.equal(sd[0]["blocks.0.attn.qkv.weight"], sd[1]["blocks.0.attn.qkv.weight"])
    assert not torch.equal(sd[0]["blocks.0.attn.qkv.weight"], sd[2]["blocks.0.attn.qkv.weight"])


def test_in_domain_mae_on_a_smaller_grid_is_resampled_to_the_transfers(tmp_path):
    """--pretrain-size: the in-domain MAE pretrains at a smaller resolution (same patch, fewer tokens); the transfers
    get its encoder at the study's grid (position table resampled), scratch stays at the study's size."""
    import torch

    from mae_core.checkpoint.io import read_state_dict
    args = _args(tmp_path, "--size", "64", "--pretrain-size", "32", "--num-train", "8", "--num-val", "4",
                 "--pretrain-steps", "2", "--pretrain-batch", "4")
    assert R.in_domain_overrides(args, 0, args.pretrain_size)["model.img_size"] == 32
    R.run_data(args, tmp_path / "data")
    got = R.run_pretrain(args, "mae_in_domain", 0, tmp_path / "pre")
    assert got["img_size"] == 32 and got["steps"] == 2 and Path(got["source_checkpoint"]).is_file()
    source, (sd, meta) = read_state_dict(got["source_checkpoint"])[0], read_state_dict(got["checkpoint"])
    assert source["pos_embed"].shape[1] == 1 + 4 * 4 and sd["pos_embed"].shape[1] == 1 + 8 * 8
    assert meta["manifest"]["encoder"]["img_size"] == [64, 64] and meta["manifest"]["decoder"] is None
    assert torch.equal(source["blocks.0.attn.qkv.weight"], sd["blocks.0.attn.qkv.weight"])
    scratch = read_state_dict(R.run_pretrain(args, "scratch", 0, tmp_path / "s")["checkpoint"])[0]
    assert scratch["pos_embed"].shape[1] == 1 + 8 * 8


def test_in_process_cells_run_in_order_and_a_failure_blocks_its_dependents(tmp_path):
    ran = []

    def run(name):
        ran.append(name)
        if name == "b":
            raise RuntimeError("boom in b")
        if name == "e":
            raise SystemExit(2)                 # a tool's exit inside a cell fails that cell, not the study
        cl.write_atomic(cl.cell_dir(tmp_path, name) / "result.json", {"cell": name})

    def no_subprocess(name):
        raise AssertionError(f"cell {name} started as a subprocess")
    todo = [("a", None), ("b", "a"), ("c", ("a", "b")), ("d", "a"), ("e", None), ("f", "e")]
    state = cl.schedule(tmp_path, todo, no_subprocess, run_here=run)
    assert state == {"a": "done", "b": "failed", "c": "blocked", "d": "done", "e": "failed", "f": "blocked"}
    assert ran == ["a", "b", "d", "e"]
    assert "boom in b" in (cl.cell_dir(tmp_path, "b") / "log.txt").read_text()      # the cell's own log
    again = cl.schedule(tmp_path, todo, no_subprocess, run_here=run)
    assert again == {"a": "skipped", "b": "failed", "c": "blocked", "d": "skipped", "e": "failed", "f": "blocked"}
    assert ran == ["a", "b", "d", "e", "b", "e"]
    with pytest.raises(ValueError, match="comes before"):
        cl.schedule(tmp_path / "x", [("late", "early"), ("early", None)], no_subprocess, run_here=run)


def test_ade_options_change_the_recipe_of_every_arm_and_a_bad_key_stops_the_study_at_start(tmp_path, capsys):
    from mae_core.config import shipped_config
    from transfer.studies.transfers import ade_overrides
    config = str(shipped_config("ade20k/transfer_study_last_block.py"))
    over, lr, batch = ade_overrides(config, 5, 3.0, ["optim_wrapper.paramwise_cfg.layer_decay_rate=1.0",
                                                     "optim_wrapper.optimizer.lr=2e-3"])
    assert over["optim_wrapper.paramwise_cfg.layer_decay_rate"] == "1.0" and over["max_iters"] == 5
    assert lr == pytest.approx(6e-3) and over["optim_wrapper.optimizer.lr"] == pytest.approx(6e-3) and batch == 8
    assert ade_overrides(config, 5)[1] == pytest.approx(1e-3)   # the recipe's lr without options
    args = _args(tmp_path, "--ade-options", "optim_wrapper.paramwise_cfg.layer_decay_rate=1.0")
    assert args.ade_options == ["optim_wrapper.paramwise_cfg.layer_decay_rate=1.0"]
    r = run_main(capsys, ts.main, "--output-dir", tmp_path / "bad", "--tasks", "ade20k", "--ade-config", config,
                 "--ade-options", "optim_wrapper.paramwise_cfg.layer_decay=1.0")
    assert r.returncode == 2 and "layer_decay" in r.stderr and "--ade-options" in r.stderr
    assert not (tmp_path / "bad" / "cells").exists()   # nothing ran
    # a finished UperNet cell of other options is not reused under these
    done = tmp_path / "other" / "cells" / "ade20k_scratch_s0_recipe"
    done.mkdir(parents=True)
    (done / "result.json").write_text(json.dumps({"metrics": {"mIoU": 1.0}, "ade_options": ["model.x=1"]}))
    r = run_main(capsys, ts.main, "--output-dir", tmp_path / "other", "--tasks", "ade20k", "--ade-config", config)
    assert r.returncode == 2 and "ade20k_scratch_s0_recipe ran with --ade-options ['model.x=1'], not []" in r.stderr
    assert not (tmp_path / "other" / "cells" / "data").exists()   # nothing ran


def test_full_resolution_phase_continues_the_small_grid_mae_at_the_transfer_grid(tmp_path):
    """--pretrain-full-steps: after the --pretrain-size phase, more MAE steps at the transfers' resolution start
    from its weights; the transfers take that checkpoint as it is (the study's grid), the cell records both phases,
    and the budget table shows them; without a smaller first phase the flag stops the study at start."""
    import torch

    from mae_core.checkpoint.io import read_state_dict
    from transfer.studies.study_tables import _full_phase
    args = _args(tmp_path, "--size", "64", "--pretrain-size", "32", "--num-train", "8", "--num-val", "4",
                 "--pretrain-steps", "2", "--pretrain-batch", "4", "--pretrain-full-steps", "3")
    R.run_data(args, tmp_path / "data")
    got = R.run_pretrain(args, "mae_in_domain", 0, tmp_path / "pre")
    assert got["steps"] == 2 and got["img_size"] == 32
    assert got["full_resolution"]["steps"] == 3 and got["full_resolution"]["img_size"] == 64
    assert Path(got["checkpoint"]).parent == tmp_path / "pre" / R.FULL_PHASE
    first, second = read_state_dict(got["source_checkpoint"])[0], read_state_dict(got["checkpoint"])[0]
    assert first["pos_embed"].shape[1] == 1 + 4 * 4 and second["pos_embed"].shape[1] == 1 + 8 * 8
    assert second["decoder_pos_embed"].shape[1] == 1 + 8 * 8
    key = "blocks.0.attn.qkv.weight"   # the second phase starts from the first's weights: shift them, see it
    ckpt = torch.load(got["source_checkpoint"], map_location="cpu", weights_only=False)
    ckpt["model"][key] = ckpt["model"][key] + 1.0
    torch.save(ckpt, tmp_path / "shifted.pth")
    again = read_state_dict(R.full_resolution_phase(args, 0, str(tmp_path / "shifted.pth"), tmp_path / "again")
                            ["checkpoint"])[0]
    assert (again[key] - first[key]).mean() > 0.9 and (second[key] - first[key]).abs().mean() < 0.1
    row = _full_phase({"steps": 2, "final_loss": got["final_loss"], "full_resolution": got["full_resolution"]})
    assert row == {"steps": "2 + 3 at 64 px",
                   "loss": f"{got['final_loss']:.3f} / {got['full_resolution']['final_loss']:.3f}"}
    with pytest.raises(SystemExit, match="--pretrain-size"):
        ts.cells(_args(tmp_path, "--pretrain-full-steps", "3"))


def test_a_published_study_reruns_one_task_with_another_recipe(tmp_path):
    """--rerun-tasks with --import-cells: that task's cells run here (every seed, both lrs on seed 0) with this
    study's recipe flags for it, from the imported pretrainings' checkpoints, which must be here; every other cell
    is imported; a flag of a task not rerun that differs (its lr factor too) stops the study, naming it."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first, pub = tmp_path / "first", tmp_path / "published"
    tasks = ["--tasks", "coco,classification"]

    def study(out, *extra):
        return subprocess.run([*_study(out, *tasks, "--in-process", *extra)], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=600, check=False)
    run = study(first, "--seeds", "1", "--publish", str(pub))
    assert run.returncode == 0, run.stderr[-3000:]
    redo = ["--seeds", "2", "--import-cells", str(pub), "--rerun-tasks", "classification", "--ft-steps", "7"]
    run = study(tmp_path / "nockpt", *redo)   # the pretrainings' checkpoints are not here
    assert run.returncode == 2 and "pretrain_mae_in_domain_s0: mae_in_domain0.pth" in run.stderr
    assert not (tmp_path / "nockpt" / "cells").exists()
    for ckpt in ("mae_in_domain0.pth", "scratch0.pth"):
        (tmp_path / ckpt).write_bytes(b"")
    later = tmp_path / "later"
    run = study(later, *redo)
    assert run.returncode == 0, run.stderr[-3000:]
    trace = [json.loads(x) for x in (later / "trace.jsonl").read_text().splitlines()]
    ran = {(t["kind"], t["arm"], t["seed"], t.get("lr")) for t in trace}
    assert {r for r in ran if r[2] == 0} == {("classification", a, 0, lr) for a in ("mae_in_domain", "scratch")
                                            for lr in ("recipe", "large")}   # seed 0: only the rerun task
    assert ("coco", "scratch", 1, "large") in ran                           # seed 1 at the imported coco choice
    assert {t["checkpoint"] for t in trace if t["seed"] == 0} == {"mae_in_domain0.pth", "scratch0.pth"}
    budget = {b["cell"]: b for b in json.loads((later / "transfer_study.json").read_text())["budget"]}
    assert "imported_from" in budget["coco_scratch_s0_large"]
    assert "imported_from" not in budget["classification_scratch_s0_large"]
    for extra, said in ((["--coco-iters", "9"], "--coco-iters 300 there, 9 here"),
                        (["--task-lr-factor", "coco=2"], "the second lr of coco at 3 x there, 2 x here")):
        run = study(tmp_path / "other", *redo, *extra)
        assert run.returncode == 2 and said in run.stderr, run.stderr[-2000:]
    assert study(tmp_path / "other", *redo, "--task-lr-factor", "classification=2").returncode == 0
    runs = json.loads((tmp_path / "other" / "transfer_study.json").read_text())["lr_runs"]
    assert [r["runs"]["large"]["lr"] for r in runs if r["task"] == "classification"] == pytest.approx([2e-3] * 2)
    run = study(tmp_path / "alone", "--rerun-tasks", "classification")
    assert run.returncode == 2 and "--rerun-tasks: only with --import-cells" in run.stderr


def test_a_published_study_goes_on_with_more_seeds_elsewhere(tmp_path):
    """--publish writes the finished cells' results; a study in another folder (another machine) with
    --import-cells runs only the seed left, at the lr chosen on the imported seed 0, and reports both seeds; a study
    with other settings, or whose scenes differ, is stopped before any cell runs, naming the difference."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    first, pub = tmp_path / "first", tmp_path / "published"
    run = subprocess.run(_study(first, "--seeds", "1", "--in-process", "--publish", str(pub)), env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    shipped = json.loads((pub / "cell_results.json").read_text())
    assert set(shipped) == {"data", "pretrain_mae_in_domain_s0", "pretrain_scratch_s0",
                            *(f"classification_{a}_s0_{lr}" for a in ("mae_in_domain", "scratch")
                              for lr in ("recipe", "large"))}
    ctx = run_context()   # the cells ran here, in this working tree
    assert shipped["pretrain_scratch_s0"]["ran_at"] == {"commit": ctx["commit"], "cpu": ctx["cpu"]}
    later = tmp_path / "later"
    run = subprocess.run(_study(later, "--seeds", "2", "--in-process", "--import-cells", str(pub)), env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stderr[-3000:]
    trace = [json.loads(x) for x in (later / "trace.jsonl").read_text().splitlines()]
    assert {t["seed"] for t in trace} == {1}                            # seed 0 was not run again
    seed1 = {t["arm"]: t["lr"] for t in trace if t["kind"] == "classification"}
    assert seed1 == {"scratch": "large", "mae_in_domain": "recipe"}     # the imported seed 0's choice
    res = json.loads((later / "transfer_study.json").read_text())
    assert res["differences"]["mae_in_domain"]["classification"]["top1"]["per_seed"] == {"0": 10, "1": 10}
    imported = {b["cell"] for b in res["budget"] if b.get("imported_from") == str(pub)}
    assert imported == set(shipped) - {"data"}
    assert "classification_scratch_s0_large" in (later / "transfer_study.md").read_text()
    assert ", imported |" in (later / "transfer_study.md").read_text()
    # other settings: named, nothing runs
    other = tmp_path / "other"
    run = subprocess.run(_study(other, "--seeds", "2", "--ft-steps", "7", "--in-process", "--import-cells", str(pub)),
                         env=env, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 2 and "--ft-steps 200 there, 7 here" in run.stderr
    assert not (other / "cells").exists()
    # scenes that differ from the published counts: stopped after composing them, before any pretraining
    study = json.loads((pub / "transfer_study.json").read_text())
    (pub / "transfer_study.json").write_text(json.dumps({**study, "scenes": {"train": 75}}))
    moved = tmp_path / "moved"
    run = subprocess.run(_study(moved, "--seeds", "2", "--in-process", "--import-cells", str(pub)), env=env,
                         capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 2 and "are not that study's ({'train': 75})" in run.stderr
    assert not (moved / "trace.jsonl").exists()
    r = subprocess.run(_study(tmp_path / "none", "--import-cells", str(tmp_path / "nowhere")), env=env,
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 2 and "cell_results.json" in r.stderr
