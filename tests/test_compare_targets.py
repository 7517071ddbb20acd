"""tools/compare_targets.py: the Table 7 study (3 targets x pretrain / cls / COCO / ADE20K cells), resumable."""
import json
import math
import sys
from pathlib import Path

import pytest
from conftest import run_main

from transfer.studies import compare_targets as ct

REPO = Path(__file__).resolve().parents[1]
MICRO = ["--pretrain-steps", "2", "--pretrain-batch", "8", "--tokenizer-steps", "2", "--ft-steps", "2",
         "--ft-batch", "8", "--ft-test-images", "50", "--coco-iters", "3", "--ade-iters", "1",
         "--synthetic-sizes", "4,2,4,2"]


def test_table_from_cell_results(tmp_path):
    """The table and its difference row come from the cells' result files; a missing cell is '-'."""
    args = ct.build_parser().parse_args(["--output-dir", str(tmp_path)])
    values = {"pixel": (80.0, 10.0, 9.0, 20.0), "norm_pixel": (82.0, 12.0, 11.0, 22.0),
              "dvae_token": (81.5, 12.5, 10.0, None)}
    for target, (top1, box, mask, miou) in values.items():
        ct.write_atomic(ct.cell_dir(tmp_path, "cls", target) / "result.json", {"top1": top1})
        ct.write_atomic(ct.cell_dir(tmp_path, "coco", target) / "result.json", {"box_ap": box, "mask_ap": mask})
        if miou is not None:
            ct.write_atomic(ct.cell_dir(tmp_path, "ade", target) / "result.json", {"miou": miou})
    table = ct.build_table(args)
    labels = [r["label"] for r in table["rows"]]
    assert labels == ["pixel (w/o norm)", "pixel (w/ norm)", "dVAE token", "token - norm. pixel"]
    diff = table["rows"][3]
    assert diff["cls_top1"] == -0.5 and diff["coco_box_ap"] == 0.5 and diff["coco_mask_ap"] == -1.0
    assert diff["ade_miou"] is None
    md = ct.markdown(table)
    assert "| token - norm. pixel | -0.5 | +0.5 | -1.0 | - |" in md
    assert not list(tmp_path.rglob("*.tmp*"))


def test_cells_order_and_dependencies(tmp_path):
    args = ct.build_parser().parse_args(["--output-dir", str(tmp_path), "--tasks", "cls,ade"])
    cells = ct.cells(args)
    assert [c for c, _ in cells[:3]] == ["pretrain_pixel", "pretrain_norm_pixel", "pretrain_dvae_token"]
    assert ("ade_dvae_token", "pretrain_dvae_token") in cells and len(cells) == 9


@pytest.mark.slow
def test_end_to_end_micro_and_resume(tmp_path, capsys):
    """The three pretrainings (dVAE tokenizer included) and their classification transfers at a micro budget, cells
    in the study's process (--in-process; the subprocess scheduler is tested with fake cells below); a second run
    skips every finished cell. (The detection and segmentation cells are the shared transfers of
    transfer/studies/transfers.py, run for real by tests/test_transfer_study.py; their wiring here is checked by
    test_dense_cells_pass_the_study_settings.)"""
    out = tmp_path / "study"
    argv = ["--output-dir", out, *MICRO, "--tasks", "cls", "--in-process"]
    first = run_main(capsys, ct.main, *argv)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    table = json.loads((out / "table7.json").read_text())
    assert [r["label"] for r in table["rows"]] == ["pixel (w/o norm)", "pixel (w/ norm)", "dVAE token",
                                                  "token - norm. pixel"]
    for row in table["rows"]:
        for col in table["columns"]:
            assert row[col["key"]] is not None and math.isfinite(row[col["key"]]), (row, col)
    md = (out / "table7.md").read_text()
    assert "token - norm. pixel" in md and md in first.stdout
    results = sorted(out.glob("cells/*/result.json"))
    assert len(results) == 6 and all((r.parent / "log.txt").stat().st_size > 0 for r in results)
    mtimes = {p: p.stat().st_mtime_ns for p in results}
    second = run_main(capsys, ct.main, *argv)
    assert second.returncode == 0, second.stderr[-3000:]
    assert second.stderr.count("result exists, skipped") == 6
    assert "started" not in second.stderr
    assert {p: p.stat().st_mtime_ns for p in results} == mtimes


def test_dense_cells_pass_the_study_settings(tmp_path, monkeypatch):
    """The COCO and ADE cells hand the pretraining cell's checkpoint, the budget, the seed, the recipe and the data
    to the shared transfers and put their figures in the table's keys."""
    from transfer.studies import transfers
    seen = {}

    def coco(config, data, work, checkpoint, iters, seed, lr_scale=1.0):
        seen["coco"] = (config, data, checkpoint, iters, seed, lr_scale)
        return {"bbox_AP": 1.5, "segm_AP": 2.5, "metrics": {}, "resumed": False}

    def ade(config, root, classes, work, checkpoint, iters, seed, lr_scale=1.0):
        seen["ade"] = (config, root, classes, checkpoint, iters, seed, lr_scale)
        return {"mIoU": 3.5, "metrics": {}}
    monkeypatch.setattr(transfers, "coco_transfer", coco)
    monkeypatch.setattr(transfers, "ade_transfer", ade)
    args = ct.build_parser().parse_args(["--output-dir", str(tmp_path), "--seed", "4", "--coco-iters", "7",
                                         "--ade-iters", "5", "--ade-classes", "3"])
    d = ct.cell_dir(tmp_path, "pretrain", "pixel")
    d.mkdir(parents=True)
    (d / "result.json").write_text(json.dumps({"checkpoint": "P.pth"}))
    assert ct.run_coco(args, "pixel", tmp_path / "w")["box_ap"] == 1.5
    assert ct.run_ade(args, "pixel", tmp_path / "w2")["miou"] == 3.5
    root = tmp_path / "data" / "coco"
    assert seen["coco"] == (args.coco_config, {"train": (str(root / "annotations" / "train.json"), str(root / "train")),
                                               "val": (str(root / "annotations" / "val.json"), str(root / "val"))},
                            "P.pth", 7, 4, 1.0)
    assert seen["ade"] == (args.ade_config, str(tmp_path / "data" / "ade"), 3, "P.pth", 5, 4, 1.0)


FAKE_CELL = r"""
import json, os, sys, time
out, name = sys.argv[1], sys.argv[2]
with open(os.path.join(out, "trace.jsonl"), "a") as f:
    f.write(json.dumps({"cell": name, "gpu": os.environ.get("CUDA_VISIBLE_DEVICES"), "t0": time.time()}) + "\n")
time.sleep(0.4)
if name == os.environ.get("FAIL_CELL"):
    sys.exit(3)
task, target = name.split("_", 1)
d = os.path.join(out, "cells", name)
with open(os.path.join(d, "result.json"), "w") as f:
    json.dump({"top1": 1.0, "box_ap": 1.0, "mask_ap": 1.0, "miou": 1.0}, f)
with open(os.path.join(out, "trace.jsonl"), "a") as f:
    f.write(json.dumps({"cell": name, "end": time.time()}) + "\n")
"""


def test_scheduler_one_cell_per_gpu_dependencies_and_failures(tmp_path, monkeypatch):
    """With 2 (pretended) GPUs two cells run at once, each alone on its GPU; transfers start only after their
    pretraining; a failed pretraining blocks its transfers."""
    script = tmp_path / "fake_cell.py"
    script.write_text(FAKE_CELL)
    monkeypatch.setattr(ct, "_gpu_count", lambda: 2)
    monkeypatch.setattr(ct, "cell_command", lambda argv, name: [sys.executable, str(script), str(tmp_path), name])
    monkeypatch.setenv("FAIL_CELL", "pretrain_dvae_token")
    args = ct.build_parser().parse_args(["--output-dir", str(tmp_path), "--tasks", "cls,ade"])
    state = ct.schedule(args, [])
    assert state["pretrain_dvae_token"] == "failed"
    assert state["cls_dvae_token"] == state["ade_dvae_token"] == "blocked"
    assert all(v == "done" for k, v in state.items() if "dvae" not in k) and len(state) == 9
    trace = [json.loads(x) for x in (tmp_path / "trace.jsonl").read_text().splitlines()]
    starts = {r["cell"]: r for r in trace if "t0" in r}
    ends = {r["cell"]: r["end"] for r in trace if "end" in r}
    assert {r["gpu"] for r in starts.values()} == {"0", "1"}
    assert "cls_dvae_token" not in starts and "ade_dvae_token" not in starts
    for task in ("cls", "ade"):
        for target in ("pixel", "norm_pixel"):
            assert starts[f"{task}_{target}"]["t0"] >= ends[f"pretrain_{target}"]
    # never two cells on one GPU at once, and at some point two GPUs busy together
    events = sorted([(r["t0"], 1, r["gpu"]) for r in starts.values()]
                    + [(ends.get(c, r["t0"] + 0.4), -1, r["gpu"]) for c, r in starts.items()])
    busy, most = {}, 0
    for _, d, gpu in events:
        busy[gpu] = busy.get(gpu, 0) + d
        assert busy[gpu] <= 1
        most = max(most, sum(busy.values()))
    assert most == 2


def test_seeds_argv_and_mean_table(tmp_path):
    from transfer.studies.seeds import markdown_mean, merge_tables, seed_argv
    argv = ["--seeds", "0,1", "--ft-steps", "5", "--seeds=3", "--output-dir", "X"]
    assert seed_argv(argv, 1, tmp_path) == ["--ft-steps", "5", "--output-dir", "X", "--seed", "1",
                                            "--output-dir", str(tmp_path / "seed1")]
    tables = []
    for seed, (a, b) in enumerate([(80.0, 82.0), (84.0, 82.0)]):
        args = ct.build_parser().parse_args(["--output-dir", str(tmp_path / f"seed{seed}"), "--seed", str(seed)])
        ct.write_atomic(ct.cell_dir(tmp_path / f"seed{seed}", "cls", "norm_pixel") / "result.json", {"top1": a})
        ct.write_atomic(ct.cell_dir(tmp_path / f"seed{seed}", "cls", "dvae_token") / "result.json", {"top1": b})
        tables.append(ct.build_table(args))
    merged = merge_tables(tables)
    assert merged["seeds"] == [0, 1]
    norm, token, diff = merged["rows"][1]["cls_top1"], merged["rows"][2]["cls_top1"], merged["rows"][3]["cls_top1"]
    assert norm["mean"] == 82.0 and norm["std"] == pytest.approx(2.83, abs=0.01) and norm["values"] == [80.0, 84.0]
    assert token == {"mean": 82.0, "std": 0.0, "n": 2, "values": [82.0, 82.0]}
    assert diff["mean"] == 0.0 and diff["values"] == [2.0, -2.0]     # per seed first, then the mean
    assert merged["rows"][0]["coco_box_ap"] is None
    md = markdown_mean(merged)
    assert "| pixel (w/ norm) | 82.0 ± 2.8 |" in md and "| token - norm. pixel | +0.0 ± 2.8 |" in md


def test_with_scratch_row_is_a_random_init_checkpoint_and_a_table_row(tmp_path):
    from mae_core.checkpoint.pretrained import load_encoder
    args = ct.build_parser().parse_args(["--output-dir", str(tmp_path), "--with-scratch", "--tasks", "cls",
                                         "--pretrain-batch", "8"])
    assert ("cls_scratch", "pretrain_scratch") in ct.cells(args) and len(ct.cells(args)) == 8
    res = ct.run_cell(args, "pretrain_scratch")
    model, _ = load_encoder(res["checkpoint"])
    assert res["target"] == "none (random init)" and model.embed_dim == 192 and len(model.blocks) == 6
    ct.write_atomic(ct.cell_dir(tmp_path, "cls", "scratch") / "result.json", {"top1": 40.0})
    table = ct.build_table(args)
    assert [r["target"] for r in table["rows"]] == ["pixel", "norm_pixel", "dvae_token", "difference", "scratch"]
    assert table["rows"][-1]["cls_top1"] == 40.0
    assert "| random init (no pretraining) | 40.0 |\n" in ct.markdown(table)   # only the tasks run
