"""The pretraining-step benchmark at toy size: ours and the reference structure, each in its own process."""
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
