"""Mask R-CNN with the ViT backbone trains: one step gives finite losses; the smoke recipe lowers the loss and
writes metrics.json through tools/train_coco.py's library entry (train, --eval-only, --resume)."""
import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import check_golden

pytest.importorskip("detectron2")
pytestmark = pytest.mark.detectron2

from detectron2.config import instantiate  # noqa: E402
from detectron2.utils.events import EventStorage  # noqa: E402

from transfer.detectron2.data import register_coco  # noqa: E402
from transfer.detectron2.lazy import lsj_dataloader, mask_rcnn, vitdet_backbone  # noqa: E402
from transfer.studies.scenes import make_fashion_coco  # noqa: E402


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    return make_fashion_coco(tmp_path_factory.mktemp("fashion"), num_train=16, num_val=4, canvas=128, seed=2)


def test_one_training_step_has_finite_losses_and_the_golden_values(fashion, tmp_path):
    np.random.seed(0)      # detectron2's sampler and augmentations draw from numpy
    random.seed(0)
    torch.manual_seed(0)
    register_coco("test_step_train", fashion["train"]["json"], fashion["train"]["images"], work_dir=tmp_path)
    model = instantiate(mask_rcnn(
        vitdet_backbone("vit_micro_patch4", img_size=64, window_size=4, global_blocks=(1,), drop_path_rate=0.1,
                        scale_factors=(1.0, 0.5, 0.25, 0.125), out_channels=32),
        num_classes=4, anchor_sizes=(8, 16, 32, 64, 128), channels=32, roi_batch=32, box_conv_dims=(),
        box_fc_dims=(64,), mask_conv_dims=(32,)))
    loader_cfg = lsj_dataloader(image_size=64, batch=2, train_names="test_step_train", num_workers=0,
                                mask_format="bitmask")["train"]
    batch = next(iter(instantiate(loader_cfg)))
    assert batch[0]["image"].shape[-2:] == (64, 64) and len(batch[0]["instances"]) > 0
    model.train()
    with EventStorage():
        losses = model(batch)
        total = sum(losses.values())
        total.backward()
    assert set(losses) == {"loss_cls", "loss_box_reg", "loss_mask", "loss_rpn_cls", "loss_rpn_loc"}
    assert all(torch.isfinite(v) for v in losses.values())
    check_golden("detectron2_mask_rcnn_one_step", {k: v.item() for k, v in losses.items()})
    grads = [p.grad for p in model.backbone.net.blocks.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


def _losses(path) -> list[float]:
    rows = [json.loads(line) for line in open(path)]
    return [r["total_loss"] for r in rows if "total_loss" in r]


@pytest.mark.slow
def test_smoke_recipe_lowers_the_loss_and_writes_metrics(fashion, tmp_path):
    from transfer.detectron2.cli import main
    out = tmp_path / "run"
    data = ["--train-json", fashion["train"]["json"], "--train-images", fashion["train"]["images"],
            "--val-json", fashion["val"]["json"], "--val-images", fashion["val"]["images"]]
    config = Path(__file__).resolve().parents[1] / "configs" / "coco" / "smoke.py"
    common = ["--config", str(config), "--output-dir", str(out), *data]
    main([*common, "train.max_iter=12", "train.log_period=1", "dataloader.train.total_batch_size=2",
          "train.checkpointer.period=6", "lr_multiplier.warmup_iters=3"])
    losses = _losses(out / "train_log.json")
    assert len(losses) == 12 and all(math.isfinite(v) for v in losses)
    assert sum(losses[-4:]) / 4 < 0.8 * sum(losses[:4]) / 4, losses
    metrics = json.loads((out / "metrics.json").read_text())
    for task in ("bbox", "segm"):
        assert {"AP", "AP50", "AP75", "APs", "APm", "APl"} <= set(metrics[task])
    assert metrics["iterations"] == 12 and metrics["batch"] == 2
    main([*common, "--eval-only"])                                      # evaluates the last checkpoint
    again = json.loads((out / "metrics.json").read_text())
    assert again["bbox"]["AP"] == pytest.approx(metrics["bbox"]["AP"], abs=1e-6, nan_ok=True)  # NaN: no detections yet
    main([*common, "--resume", "train.max_iter=14", "train.log_period=1", "dataloader.train.total_batch_size=2"])
    assert json.loads((out / "metrics.json").read_text())["resumed_from"] == 12


def test_amp_on_the_cpu_trains_under_bf16_autocast_and_says_so(fashion, tmp_path, monkeypatch):
    """train.amp.enabled on a CPU: the training forward runs in bf16 (the backbone's maps come out bf16), losses are
    finite, metrics.json records the precision; train.amp.precision=fp32: fp32 throughout; a bad value is named."""
    from detectron2.config import LazyConfig

    import transfer.detectron2.train as train_mod
    from transfer.detectron2.cli import main
    config = Path(__file__).resolve().parents[1] / "configs" / "coco" / "smoke.py"
    cfg = train_mod.apply_overrides(LazyConfig.load(str(config)), ["train.amp.enabled=True",
                                                                    "train.amp.precision=fp8"])
    with pytest.raises(Exception, match="train.amp.precision"):
        train_mod.training_precision(cfg)
    seen: list = []
    build = train_mod.build_model

    def build_and_record(cfg, pretrained=None):
        model = build(cfg, pretrained)
        model.backbone.register_forward_hook(
            lambda module, inputs, output: seen.extend(v.dtype for v in output.values()) if module.training else None)
        return model

    monkeypatch.setattr(train_mod, "build_model", build_and_record)
    data = ["--train-json", fashion["train"]["json"], "--train-images", fashion["train"]["images"],
            "--val-json", fashion["val"]["json"], "--val-images", fashion["val"]["images"]]
    for precision, dtype in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
        seen.clear()
        out = tmp_path / precision
        main(["--config", str(config), "--output-dir", str(out), *data, "train.max_iter=1", "train.log_period=1",
              "dataloader.train.total_batch_size=2", "train.amp.enabled=True", f"train.amp.precision={precision}"])
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["precision"] == precision and metrics["precision_choice"]["chosen_by"] == "config"
        assert seen and set(seen) == {dtype}, seen
        losses = _losses(out / "train_log.json")
        assert losses and all(math.isfinite(v) for v in losses)
