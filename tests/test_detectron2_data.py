"""COCO-format checks before training, the compat layer, and the configs. Small files, no training."""
import json
import sys

import numpy as np
import pytest

pytest.importorskip("detectron2")
pytestmark = pytest.mark.detectron2

from transfer.detectron2 import compat  # noqa: E402
from transfer.detectron2.data import CocoDataError, check_coco_json, register_coco  # noqa: E402
from transfer.studies.scenes import make_fashion_coco  # noqa: E402


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    return make_fashion_coco(tmp_path_factory.mktemp("fashion"), num_train=6, num_val=3, canvas=64, seed=1)


def _rewrite(src: str, dst, change) -> str:
    coco = json.loads(open(src).read())
    change(coco)
    dst.write_text(json.dumps(coco))
    return str(dst)


def test_fashion_set_is_valid_coco(fashion):
    from pycocotools import mask as mask_util
    from pycocotools.coco import COCO
    coco = COCO(fashion["train"]["json"])
    assert len(coco.getCatIds()) == 4 and len(coco.getImgIds()) == 6 and coco.getAnnIds()
    kinds = {type(a["segmentation"]).__name__ for a in coco.dataset["annotations"]}
    assert kinds == {"list", "dict"}                              # polygons and RLE
    for a in coco.dataset["annotations"]:
        m = coco.annToMask(a)
        ys, xs = np.nonzero(m)
        x, y, w, h = a["bbox"]
        assert m.sum() > 0 and xs.min() >= x - 1 and xs.max() <= x + w and ys.min() >= y - 1 and ys.max() <= y + h
        if isinstance(a["segmentation"], dict):
            assert mask_util.area(a["segmentation"]) == a["area"]
    check = check_coco_json(fashion["train"]["json"], fashion["train"]["images"])
    assert check.has_rle and not check.zero_size


def test_unknown_category_is_named(fashion, tmp_path):
    bad = _rewrite(fashion["train"]["json"], tmp_path / "bad.json",
                   lambda c: c["annotations"][0].update(category_id=99))
    with pytest.raises(CocoDataError, match=r"category id not in 'categories'.*99"):
        check_coco_json(bad, fashion["train"]["images"])


def test_missing_image_is_named(fashion, tmp_path):
    bad = _rewrite(fashion["train"]["json"], tmp_path / "bad.json",
                   lambda c: c["images"][1].update(file_name="not_there.png"))
    with pytest.raises(CocoDataError, match=r"1 of 6 listed image\(s\) not found.*not_there.png"):
        check_coco_json(bad, fashion["train"]["images"])


def test_zero_size_box_is_skipped_with_a_count(fashion, tmp_path, caplog):
    def zero(c):
        c["annotations"][0]["bbox"][2] = 0.0
        c["annotations"][1]["bbox"][3] = 0.0
    bad = _rewrite(fashion["train"]["json"], tmp_path / "zero.json", zero)
    n = len(json.loads(open(bad).read())["annotations"])
    with caplog.at_level("WARNING"):
        check = register_coco("test_zero_boxes", bad, fashion["train"]["images"], work_dir=tmp_path / "work")
    assert check.zero_size == [1, 2]
    assert "skipping 2 annotation(s) with a zero-size box" in caplog.text
    from detectron2.data import DatasetCatalog, MetadataCatalog
    dicts = DatasetCatalog.get("test_zero_boxes")
    assert sum(len(d["annotations"]) for d in dicts) == n - 2
    cleaned = json.loads(open(MetadataCatalog.get("test_zero_boxes").json_file).read())
    assert len(cleaned["annotations"]) == n - 2


def test_compat_is_in_place_and_idempotent():
    assert np.int is int and np.float is float                      # removed in numpy 1.24, restored
    assert np.array([1, 0]).astype(np.bool).dtype == bool           # numpy 2 has np.bool again: left as is
    from PIL import Image
    assert Image.LINEAR == Image.BILINEAR
    compat.apply()
    assert compat.apply() == {"_C": False, "numpy": False, "pillow": False}     # nothing left to do
    if not compat.has_compiled_ops():
        from detectron2 import _C
        with pytest.raises(RuntimeError, match="nms_rotated.*use_fast_impl=False"):
            _C.nms_rotated()
        with pytest.raises(AttributeError):
            _C.__wrapped__  # noqa: B018 - dunder lookups must fail (inspect, pickle)
    import detectron2.evaluation  # noqa: F401 - imports the fast evaluator module, which needs _C at import
    assert "detectron2._C" in sys.modules
