"""Readers of the classification data sets, each on a small set written in the real format from Fashion-MNIST."""
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from mae_core.data.datasets import FASHION_MNIST_CLASSES, DataError, read_fashion_mnist
from transfer.classification.datasets import INAT_CLASSES, build_dataset, limit_per_class, read_split
from transfer.studies.scenes import Items, folder_names, write_items


@pytest.fixture(scope="module")
def fmnist():
    images, labels = read_fashion_mnist("train")
    return images[:40], labels[:40].astype(int)


def _save(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)


def test_folder_reader(tmp_path, fmnist):
    images, labels = fmnist
    for split in ("train", "val"):
        write_items(Items(list(images), labels, list(FASHION_MNIST_CLASSES)), tmp_path / split, per_class=2)
    ds = build_dataset("folder", tmp_path, "train", num_classes=10)
    assert ds.classes == folder_names(list(FASHION_MNIST_CLASSES)) and len(ds) == 20
    img, y = ds[0]
    assert img.mode == "RGB" and img.size == (28, 28) and y == 0       # grayscale replicated to 3 channels
    assert np.array_equal(np.asarray(img)[..., 0], images[labels == 0][0])
    with pytest.raises(DataError, match="10 classes in the data but data.num_classes=1000"):
        build_dataset("folder", tmp_path, "train", num_classes=1000)
    files, ys = limit_per_class(ds.files, ds.labels, 1)
    assert sorted(ys) == list(range(10))


@pytest.mark.parametrize("year,folder", [("2017", "train_val_images"), ("2018", "train_val2018"),
                                         ("2019", "train_val2019")])
def test_inat_reader(tmp_path, fmnist, year, folder):
    images, labels = fmnist
    n_cls = INAT_CLASSES[f"inat{year}"]
    cats = [{"id": i, "name": f"species_{i}", "supercategory": "Plantae"} for i in range(n_cls)]
    for split, sl in (("train", slice(0, 30)), ("val", slice(30, 40))):
        ims, anns = [], []
        for k, (img, y) in enumerate(zip(images[sl], labels[sl])):
            cid = int(y) * 7                       # any category id of the range
            name = f"{folder}/Plantae/{cid}/{split}_{k}.jpg"
            _save(tmp_path / name, img)
            ims.append({"id": 1000 + k, "file_name": name, "width": 28, "height": 28})
            anns.append({"id": k, "image_id": 1000 + k, "category_id": cid})
        (tmp_path / f"{split}{year}.json").write_text(json.dumps({"images": ims, "annotations": anns,
                                                                  "categories": cats}))
    files, ys, classes = read_split(f"inat{year}", tmp_path, "train")
    assert len(files) == 30 and len(classes) == n_cls and classes[7] == "species_7"
    assert ys == [int(y) * 7 for y in labels[:30]]
    ds = build_dataset(f"inat{year}", tmp_path, "val", num_classes=n_cls)
    img, y = ds[3]
    assert y == int(labels[33]) * 7 and np.abs(np.asarray(img)[..., 0].astype(int) - images[33]).mean() < 8  # jpeg


def test_inat_bad_files_name_the_entry(tmp_path):
    bad = tmp_path / "train2018.json"
    bad.write_text(json.dumps({"images": [], "categories": []}))
    with pytest.raises(DataError, match=r"train2018\.json.*'annotations'"):
        read_split("inat2018", tmp_path, "train")
    cats = [{"id": i} for i in range(INAT_CLASSES["inat2018"])]
    bad.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}],
                               "annotations": [{"image_id": 1, "category_id": 0},
                                               {"image_id": 1, "category_id": 9000}], "categories": cats}))
    with pytest.raises(DataError, match=r"train2018\.json: annotations\[1\]: category_id 9000 outside 0\.\.8141"):
        read_split("inat2018", tmp_path, "train")
    bad.write_text(json.dumps({"images": [{"id": 1}], "annotations": [], "categories": cats}))
    with pytest.raises(DataError, match=r"images\[0\] needs 'id' and 'file_name'"):
        read_split("inat2018", tmp_path, "train")
    bad.write_text(json.dumps({"images": [], "annotations": [], "categories": cats[:10]}))
    with pytest.raises(DataError, match="expected category ids 0..8141"):
        read_split("inat2018", tmp_path, "train")


def _write_places365(root: Path, images, labels, split_name: str = "standard") -> None:
    lst = root / "filelist_places365-standard"
    lst.mkdir(parents=True)
    rows = []
    for k, (img, y) in enumerate(zip(images[:30], labels[:30])):
        rel = f"/{chr(97 + int(y))}/scene{int(y)}/{k:08d}.jpg"          # '/a/airfield/00000001.jpg' style
        _save(root / "data_256" / rel.lstrip("/"), img)
        rows.append(f"{rel} {int(y) * 30}")
    (lst / f"places365_train_{split_name}.txt").write_text("\n".join(rows) + "\n")
    rows = []
    for k, (img, y) in enumerate(zip(images[30:], labels[30:])):
        name = f"Places365_val_{k + 1:08d}.jpg"
        _save(root / "val_256" / name, img)
        rows.append(f"{name} {int(y) * 30}")
    (lst / "places365_val.txt").write_text("\n".join(rows) + "\n")


@pytest.mark.parametrize("split_name", ["standard", "challenge"])
def test_places365_reader(tmp_path, fmnist, split_name):
    images, labels = fmnist
    _write_places365(tmp_path, images, labels, split_name)
    files, ys, classes = read_split("places365", tmp_path, "train", places_split=split_name)
    assert len(files) == 30 and len(classes) == 365 and ys == [int(y) * 30 for y in labels[:30]]
    ds = build_dataset("places365", tmp_path, "val", num_classes=365)
    assert len(ds) == 10 and ds[0][1] == int(labels[30]) * 30


def test_places205_reader_and_bad_label(tmp_path, fmnist):
    images, labels = fmnist
    lst = tmp_path / "trainvalsplit_places205"
    lst.mkdir()
    for split, sl in (("train", slice(0, 30)), ("val", slice(30, 40))):
        rows = []
        for k, (img, y) in enumerate(zip(images[sl], labels[sl])):
            rel = f"{chr(97 + int(y))}/cat{int(y)}/{split}{k:08d}.jpg"
            _save(tmp_path / "images256" / rel, img)
            rows.append(f"{rel} {int(y) * 20}")
        (lst / f"{split}_places205.csv").write_text("\n".join(rows) + "\n")
    files, ys, classes = read_split("places205", tmp_path, "val")
    assert len(files) == 10 and len(classes) == 205 and ys[0] == int(labels[30]) * 20
    with open(lst / "train_places205.csv", "a") as f:
        f.write("a/abbey/x.jpg 205\n")
    with pytest.raises(DataError, match=r"train_places205\.csv:31: label 205 outside 0\.\.204"):
        read_split("places205", tmp_path, "train")
    (lst / "val_places205.csv").write_text("just-a-path\n")
    with pytest.raises(DataError, match=r"val_places205\.csv:1: expected 'path label'"):
        read_split("places205", tmp_path, "val")


def test_missing_listed_image_is_named(tmp_path, fmnist):
    images, labels = fmnist
    _write_places365(tmp_path, images, labels)
    (tmp_path / "val_256" / "Places365_val_00000001.jpg").unlink()
    with pytest.raises(DataError, match="listed image not found: .*Places365_val_00000001.jpg"):
        read_split("places365", tmp_path, "val")


def test_fashion_mnist_kind_reads_idx_per_class_limit_and_mode():
    ds = build_dataset("fashion_mnist", "fashion-mnist", "train", limit=3, mode="RGB")
    assert len(ds) == 30 and sorted(np.bincount(ds.labels).tolist()) == [3] * 10
    img, y = ds[0]
    assert img.mode == "RGB" and img.size == (28, 28) and 0 <= y < 10
    gray = build_dataset("fashion_mnist", "fashion-mnist", "val", limit=2, mode="L")
    assert len(gray) == 20 and gray[0][0].mode == "L"
    with pytest.raises(DataError, match="num_classes=7"):
        build_dataset("fashion_mnist", "fashion-mnist", "val", num_classes=7)
    with pytest.raises(DataError, match="not found"):
        build_dataset("fashion_mnist", "/nonexistent/idx", "val")
