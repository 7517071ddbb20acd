"""The pretraining-step benchmark at toy size: ours and the reference structure, each in its own process."""
import json

import pytest

from transfer.studies.bench.pretrain_step import StepSpec, compare, train_flops


def test_the_step_benchmark_compares_ours_with_the_baseline_at_toy_size():
    r = compare(StepSpec(model="vit_micro_patch4", batch=4, steps=2, warmup=1, threads=1), rounds=1)
    assert r["model"] == "vit_micro_patch4" and r["compile"] == "eager" and r["device"] == "cpu"
    assert r["ours_ips"] > 0 and r["baseline_ips"] > 0 and r["ours_peak_mb"] > 0
    assert r["ratio"] == pytest.approx(r["ours_ips"] / r["baseline_ips"], rel=1e-2)
    spec = StepSpec(model="vit_micro_patch4", batch=4).resolved()
    assert r["train_gflop_per_image"] == pytest.approx(train_flops(spec) / 4 / 1e9, rel=1e-3)
    assert "baseline_matmul_share" not in r


def test_the_profile_gives_each_steps_matrix_product_share_and_the_bound_it_sets():
    r = compare(StepSpec(model="vit_micro_patch4", batch=4, steps=2, warmup=1, threads=1, profile=True), rounds=1)
    assert 0 < r["ours_matmul_share"] < 1 and 0 < r["baseline_matmul_share"] < 1
    assert r["ratio_bound_same_matmuls"] == pytest.approx(1 / r["baseline_matmul_share"], rel=1e-2)
    with pytest.raises(ValueError, match="profile: CPU only"):
        StepSpec(model="vit_micro_patch4", device="cuda", profile=True).resolved()


def test_the_benchmark_knows_the_compile_modes(capsys):
    from transfer.studies.bench.cli import main
    with pytest.raises(SystemExit) as stop:
        main(["pretrain", "--compile", "fastest"])
    assert stop.value.code == 2
    assert "invalid choice: 'fastest'" in capsys.readouterr().err


def test_the_folder_benchmark_runs_both_input_paths_of_one_recipe(tmp_path, caplog):
    import logging

    from transfer.studies.bench.folder import FolderBenchSpec, compose_folder, run_folder_bench
    scenes = compose_folder(tmp_path / "scenes", 16, 32)
    spec = FolderBenchSpec(images=str(scenes), img_size=16, batch=4, steps=40, rounds=1, workers=0,
                           precision="fp32", workdir=str(tmp_path / "work"))
    with caplog.at_level(logging.INFO):
        r = run_folder_bench(spec)
    # the tensor variant decoded the folder into memory, the per-image one did not
    assert sum("decoded into memory" in m for m in caplog.messages) == 1
    for v in ("tensor", "per_image"):
        b = r["best"][v]
        assert len(r["runs"][v]) == 1 and r["rounds"] == 1 and b["steps_per_s"] > 0 and b["setup_s"] >= 0
        assert b["images_per_s"] == pytest.approx(b["steps_per_s"] * 4, rel=1e-2)
    assert r["ratio"] == pytest.approx(r["best"]["tensor"]["steps_per_s"] / r["best"]["per_image"]["steps_per_s"],
                                       rel=1e-2)
    with pytest.raises(ValueError, match="no loop to time"):
        run_folder_bench(FolderBenchSpec(images=str(scenes), steps=20))


def test_the_folder_benchmark_times_the_loop_from_the_step_log(tmp_path):
    from transfer.studies.bench.folder import loop_speed
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 20, "time": 100.0}\n{"note": "no step"}\n{"step": 60, "time": 110.0}\n')
    assert loop_speed(log) == (4.0, 10.0)
    log.write_text('{"step": 20, "time": 100.0}\n')
    with pytest.raises(ValueError, match="fewer than two step records"):
        loop_speed(log)


@pytest.mark.detectron2
def test_the_detector_benchmark_times_bf16_autocast_against_fp32_on_the_same_batches(tmp_path):
    pytest.importorskip("detectron2")
    from transfer.studies.bench.detector import DetectorBenchSpec, run_detector_bench
    r = run_detector_bench(DetectorBenchSpec(config="configs/coco/smoke.py", batch=2, steps=1, warmup=0, rounds=1,
                                             num_scenes=8, workdir=str(tmp_path)))
    assert r["fp32_its"] > 0 and r["bf16_its"] > 0 and r["batch"] == 2
    assert r["ratio"] == pytest.approx(r["bf16_its"] / r["fp32_its"], rel=1e-2)
    with pytest.raises(FileNotFoundError, match="configs/coco/nope.py"):
        run_detector_bench(DetectorBenchSpec(config="configs/coco/nope.py"))


@pytest.mark.mmseg
def test_the_segmentor_benchmark_times_bf16_autocast_against_fp32_through_the_tool(tmp_path, capsys):
    pytest.importorskip("mmseg")
    from transfer.studies.bench.cli import main
    out = tmp_path / "seg.json"
    assert main(["segmentor", "--config", "configs/ade20k/smoke.py", "--batch", "2", "--steps", "1", "--warmup",
                 "0", "--rounds", "1", "--output", str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["what"] == "segmentor" and r["fp32_its"] > 0 and r["bf16_its"] > 0 and r["batch"] == 2
    assert r["ratio"] == pytest.approx(r["bf16_its"] / r["fp32_its"], rel=1e-2) and "cpu" in r["machine"]
    assert main(["segmentor", "--config", "configs/ade20k/nope.py"]) == 2
    assert "configs/ade20k/nope.py" in capsys.readouterr().err


def test_the_classifier_benchmark_times_bf16_autocast_against_fp32():
    from transfer.studies.bench.classifier import ClassifierBenchSpec, run_classifier_bench
    r = run_classifier_bench(ClassifierBenchSpec(batch=4, steps=1, warmup=1, rounds=1))
    assert r["fp32_its"] > 0 and r["bf16_its"] > 0 and (r["batch"], r["input_size"], r["patch"]) == (4, 48, 8)
    assert r["ratio"] == pytest.approx(r["bf16_its"] / r["fp32_its"], rel=1e-2)
    with pytest.raises(FileNotFoundError, match="nope.py"):
        run_classifier_bench(ClassifierBenchSpec(config="configs/classification/nope.py"))



def test_precision_rates_keep_their_digits_when_a_step_takes_seconds(monkeypatch):
    """An emulated bf16 step of many seconds gives a rate near 0.05 it/s: rounded to a fixed count of decimals it lost
    the digits that make `ratio` equal bf16_its / fp32_its. The clock is faked: fp32 steps take 1.0286 s, bf16 19.83."""
    import transfer.studies.bench.precision as precision
    clock, seconds = [0.0], {"fp32": 1.0286, "bf16": 19.83}

    def step(name):
        return lambda i: clock.__setitem__(0, clock[0] + seconds[name])

    monkeypatch.setattr(precision.time, "perf_counter", lambda: clock[0])
    r = precision.best_rates({name: step(name) for name in seconds},
                            precision.PrecisionBenchSpec(steps=1, warmup=0, rounds=1))
    assert r["fp32_its"] == pytest.approx(1 / 1.0286, rel=1e-3) and r["bf16_its"] == pytest.approx(1 / 19.83, rel=1e-3)
    assert r["ratio"] == pytest.approx(r["bf16_its"] / r["fp32_its"], rel=1e-3)
    assert r["ratio"] == pytest.approx(1.0286 / 19.83, rel=1e-3)
