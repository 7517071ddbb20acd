"""tools/train_ade20k.py's library end to end on a tiny Fashion canvas root: train one iteration through mmengine's
Runner (finite losses), metrics.json, --eval-only (whole and sliding window), --resume, bad data before training."""
import json
import math

import pytest

pytest.importorskip("mmseg")
pytestmark = pytest.mark.mmseg

from _mmseg_helpers import SMOKE, save_mae_checkpoint  # noqa: E402
from conftest import check_golden  # noqa: E402

from mae_core.data.datasets import DataError  # noqa: E402
from transfer.mmseg.cli import build_parser, job_from_args  # noqa: E402
from transfer.mmseg.train import run as run_job  # noqa: E402
from transfer.studies.scenes import make_fashion_ade  # noqa: E402

FAST = ["train_dataloader.batch_size=2", "train_dataloader.num_workers=0", "train_dataloader.persistent_workers=False",
        "val_dataloader.num_workers=0", "val_dataloader.persistent_workers=False", "test_dataloader.num_workers=0",
        "test_dataloader.persistent_workers=False", "default_hooks.logger.interval=1"]


def run(argv: list[str], seed: int | None = None) -> dict:
    job = job_from_args(build_parser().parse_args(argv))
    job.seed = seed                                           # mmengine's randomness.seed
    return run_job(job)


@pytest.mark.slow
def test_train_eval_resume(tmp_path):
    root, out = tmp_path / "data", tmp_path / "out"
    make_fashion_ade(root, num_train=4, num_val=2, size=128, seed=0)
    ckpt = tmp_path / "mae.pth"
    save_mae_checkpoint(ckpt, encoder="vit_demo_patch4")
    common = ["--config", str(SMOKE), "--data-root", str(root), "--num-classes", "10", "--output-dir", str(out)]

    m = run(common + ["--pretrained", str(ckpt), "train_cfg.max_iters=1", *FAST], seed=0)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == m and m["iters"] == 1 and m["mode"] == "whole" and m["pretrained"] == str(ckpt)
    # per class IoU = TP / (TP + FP + FN) <= Acc = TP / (TP + FN), so the means keep that order; the background
    # covers most of a canvas, so some pixels are right
    assert 0.0 < m["aAcc"] <= 100.0 and 0.0 <= m["mIoU"] <= m["mAcc"] <= 100.0
    scalars = [json.loads(line) for line in next(out.glob("*/vis_data/scalars.json")).read_text().splitlines()]
    losses = [s for s in scalars if "loss" in s]
    assert losses and all(math.isfinite(s[k]) for s in losses for k in ("loss", "decode.loss_ce", "aux.loss_ce"))
    check_golden("mmseg_upernet_one_step", {k: losses[0][k] for k in ("loss", "decode.loss_ce", "aux.loss_ce")})

    e = run(common + ["--eval-only", *FAST])  # same weights, same whole-image test: same numbers
    assert e["eval_only"] and e["checkpoint"].endswith("iter_1.pth")
    assert e["mIoU"] == pytest.approx(m["mIoU"], abs=1e-6) and e["aAcc"] == pytest.approx(m["aAcc"], abs=1e-6)
    s = run(common + ["--eval-only", "model.test_cfg.mode=slide", *FAST])
    assert s["mode"] == "slide" and 0.0 < s["aAcc"] <= 100.0 and 0.0 <= s["mIoU"] <= s["mAcc"] <= 100.0

    r = run(common + ["--resume", "train_cfg.max_iters=2", *FAST])
    assert r["iters"] == 2 and (out / "iter_2.pth").is_file()


def test_bad_data_fails_before_training(tmp_path):
    root = tmp_path / "data"
    make_fashion_ade(root, num_train=2, num_val=1, size=64, seed=0)
    first = sorted((root / "annotations" / "training").glob("*.png"))[0]
    first.unlink()
    with pytest.raises(DataError, match=first.stem + ".jpg"):
        run(["--config", str(SMOKE), "--data-root", str(root), "--num-classes", "10", "--output-dir",
             str(tmp_path / "out")])
    assert not (tmp_path / "out").exists()
