"""Config zoo, ADE20K: every file under configs/ade20k/ runs through tools/train_ade20k.py's library entry
(``transfer.mmseg.cli.main`` in-process: mmengine Config + the tool's ``key=value`` overrides, mmengine's Runner) for ONE
training iteration and the validation that follows (mmseg's IoUMetric), on a small ADE20K-layout root made from
Fashion-MNIST. Shrunk only by overrides: the ViT's and heads' widths (depth, heads, patch, out indices kept), the
paper's 512 px crops (and resize scales, pad size, position grid, sliding window) at 64 px, batch 2, one iteration,
AmpOptimWrapper on a CPU as the tool runs it there (bf16 autocast where faster, else fp32)."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("mmseg")
pytestmark = pytest.mark.mmseg

from transfer.mmseg.cli import main

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "configs" / "ade20k").glob("*.py") if p.name != "__init__.py")
CLASSES = 10
TOY_CROP = 64       # the paper's 512 px crops and sliding-window test take 15-30 s per config on 2 CPU cores


@pytest.fixture(scope="module")
def ade_root(tmp_path_factory) -> Path:
    from transfer.studies.scenes import make_fashion_ade
    root = tmp_path_factory.mktemp("zoo_ade")
    make_fashion_ade(root, num_train=2, num_val=1, size=128, seed=0)
    return root


def crop_overrides(cfg, crop: int = TOY_CROP) -> list[str]:
    """A config's crops above `crop` px brought to `crop`: every pipeline's crop and resize scale (long side 4x), the
    preprocessor's pad size, the backbone's position grid, the sliding window (stride 2/3 of it, as 341 of 512)."""
    if max(cfg.get("crop_size", (0, 0))) <= crop:
        return []
    m, ov = cfg.model, [f"model.backbone.img_size={crop}"]
    if m.data_preprocessor.get("size"):
        ov.append(f"model.data_preprocessor.size=({crop}, {crop})")
    if m.test_cfg.get("mode") == "slide":
        ov += [f"model.test_cfg.crop_size=({crop}, {crop})", f"model.test_cfg.stride=({2 * crop // 3}, {2 * crop // 3})"]
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        for i, step in enumerate(cfg[loader].dataset.pipeline):
            if "scale" in step:
                ov.append(f"{loader}.dataset.pipeline.{i}.scale=({4 * crop}, {crop})")
            if "crop_size" in step:
                ov.append(f"{loader}.dataset.pipeline.{i}.crop_size=({crop}, {crop})")
    return ov


def toy_overrides(path: Path) -> list[str]:
    from mmengine.config import Config
    cfg = Config.fromfile(str(path))
    b = cfg.model.backbone
    width = 4 * b.num_heads
    ov = [f"model.backbone.embed_dim={width}", f"model.decode_head.in_channels={[width] * 4}",
          "model.decode_head.channels=16", "train_cfg.max_iters=1", "train_dataloader.batch_size=2"]
    if "embed_dim" in cfg.model.get("neck", {}):
        ov.append(f"model.neck.embed_dim={width}")
    if cfg.model.get("auxiliary_head"):
        ov += [f"model.auxiliary_head.in_channels={width}", "model.auxiliary_head.channels=8"]
    if "logger" in cfg.get("default_hooks", {}):
        ov.append("default_hooks.logger.interval=1")
    for loader in ("train_dataloader", "val_dataloader", "test_dataloader"):
        ov += [f"{loader}.num_workers=0", f"{loader}.persistent_workers=False"]
    return ov + crop_overrides(cfg)


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_ade20k_config_one_iteration_and_validation_through_the_tool(path: Path, ade_root, tmp_path):
    out = tmp_path / "run"
    rc = main(["--config", str(path), "--data-path", str(ade_root), "--num-classes", str(CLASSES),
               "--output-dir", str(out), *toy_overrides(path)])
    assert rc == 0, f"tools/train_ade20k.py --config {path} exited {rc}"
    m = json.loads((out / "metrics.json").read_text())
    assert m["iters"] == 1 and all(0.0 <= m[k] <= 100.0 for k in ("mIoU", "aAcc", "mAcc")), m
    logged = [json.loads(line) for f in out.glob("*/vis_data/scalars.json") for line in f.read_text().splitlines()]
    losses = [s["loss"] for s in logged if "loss" in s]
    assert all(math.isfinite(v) for v in losses), logged
    if "default_hooks.logger.interval=1" in toy_overrides(path):     # the config has a logger hook to set
        assert len(losses) == 1, logged
