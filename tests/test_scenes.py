"""The one scene composer (transfer/studies/scenes.py) and tools/make_scenes.py: splits, occlusion, the writers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from transfer.studies import scenes as sc

REPO = Path(__file__).resolve().parents[1]


def _solid_items(root: Path, colours: dict[str, dict[str, tuple]]) -> None:
    """root/<split>/<class>/*.png: solid squares (RGBA, alpha 255) of one colour per split and class, odd sizes."""
    for split, by_class in colours.items():
        for name, colour in by_class.items():
            d = root / split / name
            d.mkdir(parents=True)
            for i, side in enumerate((9, 23, 40)):
                Image.new("RGBA", (side, side + i), colour + (255,)).save(d / f"{i}.png")


def test_val_scenes_use_only_val_items_and_items_occlude(tmp_path):
    """Train items are red/green, val items blue/yellow: every val instance's pixels are the val colours only;
    solid squares that are not full rectangles in a scene were occluded."""
    items = tmp_path / "items"
    _solid_items(items, {"train": {"a": (250, 0, 0), "b": (0, 250, 0)},
                         "val": {"a": (0, 0, 250), "b": (250, 250, 0)}})
    res = sc.make_scenes(tmp_path / "out", num_train=4, num_val=12, size=64, seed=3, items_dir=items)
    assert res["classes"] == ["a", "b"]
    val = sc.compose_scenes(sc.folder_items(items, "val"), 12, 64, seed=3 * 2 + 1)
    occluded = 0
    for scene in val:
        union = np.zeros((64, 64), bool)
        for label, mask in scene.instances:
            assert not (union & mask).any()                     # visible masks are disjoint
            union |= mask
            if mask.any():
                px = scene.image[mask].astype(int)
                want = np.array([(0, 0, 250), (250, 250, 0)][label])
                assert np.abs(px - want).max() <= 1
                ys, xs = np.nonzero(mask)
                occluded += mask.sum() < (np.ptp(ys) + 1) * (np.ptp(xs) + 1)
        assert ((scene.label_map > 0) == union).all()
    assert occluded > 0
    # the written val scenes are those scenes
    written = np.asarray(Image.open(Path(res["coco"]["val"]["images"]) / "000001.png"))
    assert (written == val[0].image).all()


def test_fashion_splits_rule(monkeypatch, tmp_path):
    calls = []
    real = sc.read_fashion_mnist

    def spy(split, root=None):
        calls.append(split)
        return real(split, root)
    monkeypatch.setattr(sc, "read_fashion_mnist", spy)
    sc.make_scenes(tmp_path, num_train=2, num_val=2, size=48, formats=("folders",))
    assert calls == ["train", "test"]


def test_writers_coco_ade_folders_items(tmp_path):
    from pycocotools.coco import COCO
    res = sc.make_scenes(tmp_path, num_train=5, num_val=3, size=128, seed=0,
                         formats=("coco", "ade", "folders", "items"), items_per_class=2, num_unlabelled=4)
    assert res["classes"][0] == "t-shirt/top" and len(res["classes"]) == 10
    coco = COCO(res["coco"]["train"]["json"])
    assert len(coco.getImgIds()) == 5 and len(coco.getCatIds()) == 10
    kinds = {type(a["segmentation"]).__name__ for a in coco.dataset["annotations"]}
    assert kinds == {"list", "dict"}
    for a in coco.dataset["annotations"]:
        m = coco.annToMask(a)
        assert m.sum() > 0
        if isinstance(a["segmentation"], dict):                     # RLE is the mask itself
            assert int(m.sum()) == a["area"]
    maps = sorted((tmp_path / "ade" / "annotations" / "training").glob("*.png"))
    assert len(maps) == 5 and len(list((tmp_path / "ade" / "images" / "validation").glob("*.jpg"))) == 3
    values = set().union(*(np.unique(np.asarray(Image.open(p))).tolist() for p in maps))
    assert 0 in values and values <= set(range(11)) and len(values) > 2
    assert json.loads((tmp_path / "ade" / "classes.json").read_text()) == res["classes"]
    assert len([d for d in (tmp_path / "folders" / "val").iterdir() if any(d.iterdir())]) == 10   # every class
    crops = list((tmp_path / "folders" / "val").rglob("*.png"))
    assert len(crops) == res["counts"]["val"]["crops"] > 3
    assert all(min(Image.open(p).size) >= 4 for p in crops)
    assert res["counts"]["train"]["items"] == 20 and len(list((tmp_path / "items" / "val").rglob("*.png"))) == 20
    extra = sorted((tmp_path / "unlabelled").glob("*.png"))                 # more train scenes, other than the 5
    assert res["counts"]["train"]["unlabelled"] == len(extra) == 4 and Image.open(extra[0]).size == (128, 128)
    labelled = {np.asarray(Image.open(p)).tobytes() for p in (tmp_path / "coco" / "train").glob("*.png")}
    assert not labelled & {np.asarray(Image.open(p)).tobytes() for p in extra}


def test_bad_input_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="no 'train/' folder"):
        sc.make_scenes(tmp_path / "o", items_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown scene formats.*'jpeg'"):
        sc.make_scenes(tmp_path / "o", formats=("jpeg",))
    (tmp_path / "it" / "train" / "x").mkdir(parents=True)
    with pytest.raises(ValueError, match="holds no images"):
        sc.folder_items(tmp_path / "it", "train")


def test_denser_unlabelled_scenes(tmp_path):
    """More items per unlabelled scene cover more of it; the labelled scenes stay the same scenes."""
    items = tmp_path / "items"
    _solid_items(items, {"train": {"cat": (200, 10, 10)}, "val": {"cat": (10, 10, 200)}})

    def covered(out):   # the red items' share of the unlabelled scenes' pixels
        arr = np.stack([np.asarray(Image.open(p)) for p in sorted((out / "unlabelled").glob("*.png"))]).astype(int)
        return float(((arr[..., 0] > 150) & (arr[..., 1] < 60)).mean())
    made = {}
    for name, per_scene in (("default", None), ("dense", (12, 20))):
        out = tmp_path / name
        sc.make_scenes(out, num_train=3, num_val=2, size=64, items_dir=items, formats=("coco",), num_unlabelled=6,
                       unlabelled_items_per_scene=per_scene)
        made[name] = (covered(out), [np.asarray(Image.open(p)).tobytes() for p in sorted((out / "coco" / "train")
                                                                                       .glob("*.png"))])
        told = json.loads((out / "scenes.json").read_text())
        assert told["unlabelled_items_per_scene"] == list(per_scene or (2, 5))
        assert told["counts"]["train"]["unlabelled_item_cover"] == pytest.approx(made[name][0], abs=0.02)
    assert made["dense"][0] > 1.5 * made["default"][0]
    assert made["dense"][1] == made["default"][1]
    with pytest.raises(ValueError, match="unlabelled items per scene.*5,2"):
        sc.make_scenes(tmp_path / "bad", items_dir=items, num_unlabelled=2, unlabelled_items_per_scene=(5, 2))


def test_make_scenes_tool_with_user_items(tmp_path):
    items = tmp_path / "items"
    _solid_items(items, {"train": {"cat": (200, 10, 10)}, "val": {"cat": (10, 10, 200)}})
    out = tmp_path / "out"
    cmd = [sys.executable, str(REPO / "tools" / "make_scenes.py"), "--output-dir", str(out), "--num-train", "3",
           "--num-val", "2", "--size", "64", "--seed", "1", "--items", str(items), "--num-unlabelled", "2",
           "--unlabelled-items-per-scene", "3,4"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS="1"), timeout=120,
                       check=False)
    assert r.returncode == 0, r.stderr[-2000:]
    assert json.loads(r.stdout)["counts"]["val"]["scenes"] == 2
    assert (out / "coco" / "annotations" / "val.json").is_file() and (out / "ade" / "classes.json").is_file()
    assert json.loads((out / "scenes.json").read_text())["items"] == str(items)
    assert not (out / "items").exists()                            # raw items only when asked for
    assert len(list((out / "unlabelled").glob("*.png"))) == 2
    assert json.loads((out / "scenes.json").read_text())["unlabelled_items_per_scene"] == [3, 4]
    bad = subprocess.run(cmd[:-1] + ["3"], capture_output=True, text=True, timeout=120, check=False)
    assert bad.returncode == 2 and "expected MIN,MAX" in bad.stderr
