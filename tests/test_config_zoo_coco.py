"""Config zoo, COCO: every file under configs/coco/ is loaded as tools/train_coco.py loads it (LazyConfig + the same
``key=value`` overrides), its backbone must give exactly p2..p6 at strides 4, 8, 16, 32, 64 (``output_shape()`` and
a real forward), and the tool's library entry trains ONE iteration with detectron2's trainer and then runs
COCOEvaluator over a small COCO-format set made from Fashion-MNIST. Shrunk only by overrides: the ViT's width (its
depth, heads, patch, windows and global blocks kept), 128 px instead of 1024, batch 2, slimmer RoI sampling."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

pytest.importorskip("detectron2")
pytestmark = pytest.mark.detectron2

from detectron2.config import LazyConfig, instantiate

from mae_core.models.vit import VIT_SIZES
from transfer.detectron2.train import apply_overrides

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "configs" / "coco").glob("*.py") if p.name != "__init__.py")
SIZE = 128
LEVELS = {"p2": 4, "p3": 8, "p4": 16, "p5": 32, "p6": 64}


@pytest.fixture(scope="module")
def coco(tmp_path_factory) -> dict:
    from transfer.studies.scenes import make_fashion_coco
    return make_fashion_coco(tmp_path_factory.mktemp("zoo_coco"), num_train=4, num_val=2, canvas=SIZE, seed=3)


def _get(cfg, dotted: str):
    node = cfg
    for part in dotted.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    return node


def _has(cfg, dotted: str) -> bool:
    try:
        _get(cfg, dotted)
        return True
    except (KeyError, IndexError, AttributeError, TypeError):
        return False


def toy_overrides(path: Path) -> list[str]:
    """The overrides that shrink `path` (computed from the file as loaded, which the test never edits)."""
    cfg = LazyConfig.load(str(path))
    net = cfg.model.backbone.net
    heads = net.get("num_heads") or VIT_SIZES[net.name][2]
    ov = [f"model.backbone.net.img_size={SIZE}", f"+model.backbone.net.embed_dim={4 * heads}",
          "train.max_iter=1", "train.device=cpu", "train.log_period=1", "dataloader.train.total_batch_size=2",
          "dataloader.train.num_workers=0", "dataloader.test.num_workers=0",
          "model.roi_heads.batch_size_per_image=16", "model.proposal_generator.pre_nms_topk=[200,100]",
          "model.proposal_generator.post_nms_topk=[50,20]"]
    if "square_pad" in cfg.model.backbone:
        ov.append(f"model.backbone.square_pad={SIZE}")
    for i, aug in enumerate(cfg.dataloader.train.mapper.augmentations):
        for key in ("target_height", "target_width"):
            if key in aug:
                ov.append(f"dataloader.train.mapper.augmentations.{i}.{key}={SIZE}")
        if "crop_size" in aug:
            ov.append(f"dataloader.train.mapper.augmentations.{i}.crop_size=[{SIZE},{SIZE}]")
    for i, aug in enumerate(cfg.dataloader.test.mapper.augmentations):
        for key in ("short_edge_length", "max_size"):
            if key in aug:
                ov.append(f"dataloader.test.mapper.augmentations.{i}.{key}={SIZE}")
    return ov


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_coco_backbone_gives_p2_to_p6_at_strides_4_to_64(path: Path):
    cfg = apply_overrides(LazyConfig.load(str(path)), toy_overrides(path))
    backbone = instantiate(cfg.model.backbone).eval()
    shapes = backbone.output_shape()
    assert {k: v.stride for k, v in shapes.items()} == LEVELS, f"{path.name}: {shapes}"
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, SIZE, SIZE))
    assert set(feats) == set(LEVELS), f"{path.name}: forward gave {sorted(feats)}"
    for name, stride in LEVELS.items():
        assert feats[name].shape[-2:] == (SIZE // stride, SIZE // stride), (path.name, name, feats[name].shape)
        assert feats[name].shape[1] == shapes[name].channels


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_coco_config_one_iteration_and_evaluation_through_the_tool(path: Path, coco, tmp_path):
    from transfer.detectron2.cli import main
    out = tmp_path / "run"
    data = ["--train-json", coco["train"]["json"], "--train-images", coco["train"]["images"],
            "--val-json", coco["val"]["json"], "--val-images", coco["val"]["images"]]
    main(["--config", str(path), "--output-dir", str(out), *data, *toy_overrides(path)])
    rows = [json.loads(line) for line in (out / "train_log.json").read_text().splitlines()]
    losses = [r["total_loss"] for r in rows if "total_loss" in r]
    assert len(losses) == 1 and math.isfinite(losses[0]), rows
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["iterations"] == 1 and {"bbox", "segm"} <= set(metrics), metrics   # COCOEvaluator ran
