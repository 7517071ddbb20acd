"""Config zoo, classification: every file under configs/classification/ runs through the library entry of its tool
(tools/finetune.py -> run_finetune, tools/linprobe.py -> run_linprobe) for ONE optimizer step (one epoch of one
batch) and the evaluation pass that follows it, on real Fashion-MNIST images written in the layout of the config's
data set (ImageNet folders, iNaturalist JSON, Places lists). Shrunk only by overrides: a micro ViT, 28 px, batch 8,
one epoch, the class count of the test folder. A new config file is picked up by the glob."""
from __future__ import annotations

import functools
import json
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from mae_core.config import load_config
from mae_core.data.datasets import FASHION_MNIST_CLASSES, read_fashion_mnist
from transfer.classification.datasets import INAT_CLASSES
from transfer.classification.finetune import run_finetune
from transfer.classification.linprobe import run_linprobe
from transfer.classification.metrics import DENSE_CONFUSION_MAX
from transfer.studies.scenes import Items, write_items

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted(p for p in (ROOT / "configs" / "classification").glob("*.py") if p.name != "__init__.py")
TRAIN_PER_CLASS, VAL_PER_CLASS, CLASSES, BATCH = 4, 2, 3, 8


def _save(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


@functools.lru_cache(maxsize=2)
def _split(split: str) -> tuple[np.ndarray, np.ndarray]:
    return read_fashion_mnist("train" if split == "train" else "test")


def _items(split: str, per_class: int) -> list[tuple[np.ndarray, int]]:
    x, y = _split(split)
    return [(x[i], c) for c in range(CLASSES) for i in np.flatnonzero(y == c)[:per_class]]


def write_inat(root: Path, year: str) -> None:
    n = INAT_CLASSES[f"inat{year}"]
    cats = [{"id": i, "name": f"species_{i}", "supercategory": "Animalia"} for i in range(n)]
    for split, per in (("train", TRAIN_PER_CLASS), ("val", VAL_PER_CLASS)):
        ims, anns = [], []
        for k, (img, c) in enumerate(_items(split, per)):
            name = f"images/{c}/{split}_{k}.jpg"
            _save(root / name, img)
            ims.append({"id": k, "file_name": name, "width": 28, "height": 28})
            anns.append({"id": k, "image_id": k, "category_id": c})
        (root / f"{split}{year}.json").write_text(json.dumps({"images": ims, "annotations": anns,
                                                              "categories": cats}))


def write_places(root: Path, kind: str) -> None:
    for split, per in (("train", TRAIN_PER_CLASS), ("val", VAL_PER_CLASS)):
        rows = []
        for k, (img, c) in enumerate(_items(split, per)):
            if kind == "places365":
                rel = f"/c/class{c}/{k:08d}.jpg" if split == "train" else f"Places365_val_{k + 1:08d}.jpg"
                _save(root / ("data_256" if split == "train" else "val_256") / rel.lstrip("/"), img)
            else:
                rel = f"c/class{c}/{split}{k:08d}.jpg"
                _save(root / "images256" / rel, img)
            rows.append(f"{rel} {c}")
        if kind == "places365":
            name = "places365_train_standard.txt" if split == "train" else "places365_val.txt"
            lst = root / "filelist_places365-standard" / name
        else:
            lst = root / "trainvalsplit_places205" / f"{split}_places205.csv"
        lst.parent.mkdir(parents=True, exist_ok=True)
        lst.write_text("\n".join(rows) + "\n")


@pytest.fixture(scope="module")
def roots(tmp_path_factory) -> dict[str, Path]:
    """One small root per data set kind, each in that kind's real on-disk format."""
    base = tmp_path_factory.mktemp("zoo_cls")
    out = {}
    for split, per in (("train", TRAIN_PER_CLASS), ("val", VAL_PER_CLASS)):
        x, y = _split(split)
        keep = np.isin(y, range(CLASSES))
        write_items(Items(list(x[keep]), y[keep], list(FASHION_MNIST_CLASSES)), base / "folder" / split, per_class=per)
    out["folder"] = base / "folder"
    for year in ("2017", "2018", "2019"):
        write_inat(base / f"inat{year}", year)
        out[f"inat{year}"] = base / f"inat{year}"
    for kind in ("places205", "places365"):
        write_places(base / kind, kind)
        out[kind] = base / kind
    return out


def tool_of(path: Path) -> str:
    return "linprobe" if "linprobe" in path.stem else "finetune"


def shrink(cfg, roots: dict[str, Path], tool: str) -> tuple[list[str], Path]:
    """Overrides of a toy run and the data root of the config's data set kind."""
    d = cfg.data
    kind = d.dataset
    if kind == "fashion_mnist":
        root, ov = Path("fashion-mnist"), ["data.train_limit=1", "data.val_limit=1"]   # 10 classes: a batch of 8
    else:
        if kind not in roots:
            raise AssertionError(f"the zoo test has no data writer for data.dataset={kind!r}; add one")
        root, ov = roots[kind], []
        if kind == "folder":
            ov.append(f"data.num_classes={CLASSES}")
    ov += ["model.name=vit_micro_patch4", "data.input_size=28", "data.num_workers=0"]
    ov += ([f"linprobe.batch_size={BATCH}", "linprobe.epochs=1"] if tool == "linprobe" else
           [f"finetune.batch_size={BATCH}", "finetune.accum_iter=1", "finetune.epochs=1", "finetune.stop_after=0"])
    return ov, root


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_classification_config_one_step_and_evaluation(path: Path, roots, tmp_path):
    overrides, root = shrink(runpy.run_path(str(path))["config"], roots, tool_of(path))
    cfg = load_config(path, overrides)
    out = tmp_path / "run"
    run = run_linprobe if tool_of(path) == "linprobe" else run_finetune
    metrics = run(cfg, str(root), str(out))
    assert 0.0 <= metrics["top1"] <= 100.0, metrics
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["top1"] == metrics["top1"] and saved["num_samples"] > 0
    many = cfg.data.num_classes > DENSE_CONFUSION_MAX        # iNat: the non-zero cells only
    assert (out / ("confusion_sparse.npz" if many else "confusion.csv")).is_file()
    mode = cfg.linprobe.mode if tool_of(path) == "linprobe" else "full"
    if mode == "full":                      # an optimizer step was taken and saved
        saved = sorted(out.glob("checkpoint*.pth"))
        assert saved, f"{path.name}: no run checkpoint in {out}"
        ckpt = torch.load(saved[0], map_location="cpu", weights_only=False)
        assert ckpt["optimizer"]["state"], f"{path.name}: no optimizer state after one step"
