"""COCO-format sets for detectron2: checked before training, then registered for its own loaders.

:func:`check_coco_json` reads an instances file and its image folder and
- fails (``CocoDataError``) on an annotation whose ``category_id`` is not in ``categories``, on one whose image id
  is not in ``images``, and on listed images missing from the folder, each named in the message;
- drops annotations with a box of zero size (width or height <= 0), counting and naming them, as detectron2's
  mapper would drop them later (``filter_empty_instances``);
- notes whether non-crowd masks use RLE (then detectron2 needs ``instance_mask_format="bitmask"``).
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data.datasets import load_coco_json

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.data.datasets import DataError

logger = logging.getLogger(__name__)


class CocoDataError(DataError):
    """A COCO-format set is not usable; the message names the file, the entries and why."""


@dataclass
class CocoCheck:
    json_file: str
    image_root: str
    num_images: int = 0
    num_annotations: int = 0
    categories: list[dict] = field(default_factory=list)
    zero_size: list[int] = field(default_factory=list)   # annotation ids dropped
    has_rle: bool = False                                  # non-crowd RLE masks present
    clean: dict | None = None                              # the JSON with zero-size boxes dropped


def _fmt(items: list, n: int = 5) -> str:
    return ", ".join(str(i) for i in items[:n]) + (f" ... (+{len(items) - n} more)" if len(items) > n else "")


def check_coco_json(json_file: str | os.PathLike, image_root: str | os.PathLike) -> CocoCheck:
    """Validates a COCO instances file against its image folder (see the module docstring)."""
    json_file, image_root = Path(json_file), Path(image_root)
    if not json_file.is_file():
        raise CocoDataError(f"annotation file not found: {json_file}")
    if not image_root.is_dir():
        raise CocoDataError(f"image folder not found: {image_root}")
    try:
        coco = json.loads(json_file.read_text())
    except json.JSONDecodeError as e:
        raise CocoDataError(f"{json_file}: not valid JSON ({e})") from e
    missing_keys = [k for k in ("images", "annotations", "categories") if k not in coco]
    if missing_keys:
        raise CocoDataError(f"{json_file}: no {missing_keys} (COCO instances format needs images, annotations, "
                            "categories)")
    if not coco["categories"]:
        raise CocoDataError(f"{json_file}: 'categories' is empty")
    cat_ids = {c["id"] for c in coco["categories"]}
    img_ids = {im["id"] for im in coco["images"]}
    bad_cat = [(a.get("id"), a["image_id"], a["category_id"]) for a in coco["annotations"]
               if a.get("category_id") not in cat_ids]
    if bad_cat:
        raise CocoDataError(f"{json_file}: {len(bad_cat)} annotation(s) with a category id not in 'categories' "
                            f"{sorted(cat_ids)}: (annotation id, image id, category id) = {_fmt(bad_cat)}")
    bad_img = [(a.get("id"), a["image_id"]) for a in coco["annotations"] if a["image_id"] not in img_ids]
    if bad_img:
        raise CocoDataError(f"{json_file}: {len(bad_img)} annotation(s) for an image id not in 'images': "
                            f"(annotation id, image id) = {_fmt(bad_img)}")
    absent = [im["file_name"] for im in coco["images"] if not (image_root / im["file_name"]).is_file()]
    if absent:
        raise CocoDataError(f"{json_file}: {len(absent)} of {len(coco['images'])} listed image(s) not found in "
                            f"{image_root}: {_fmt(absent)}")
    check = CocoCheck(str(json_file), str(image_root), len(coco["images"]), len(coco["annotations"]),
                      coco["categories"])
    kept = []
    for a in coco["annotations"]:
        box = a.get("bbox")
        if box is None or len(box) != 4:
            raise CocoDataError(f"{json_file}: annotation {a.get('id')} (image {a['image_id']}) has no 4-number "
                                f"'bbox': {box!r}")
        if box[2] <= 0 or box[3] <= 0:
            check.zero_size.append(a.get("id"))
            continue
        if isinstance(a.get("segmentation"), dict) and not a.get("iscrowd", 0):
            check.has_rle = True
        kept.append(a)
    if check.zero_size:
        logger.warning("%s: skipping %d annotation(s) with a zero-size box (width or height <= 0): ids %s",
                       json_file, len(check.zero_size), _fmt(check.zero_size))
        check.clean = dict(coco, annotations=kept)
    return check


def register_coco(name: str, json_file: str | os.PathLike, image_root: str | os.PathLike,
                  work_dir: str | os.PathLike | None = None) -> CocoCheck:
    """Checks a set and registers it under `name` (replacing an earlier registration of that name).

    Where annotations were dropped, the cleaned JSON is written to `work_dir` (so that training and the
    COCOEvaluator's ground truth agree) and registered instead.
    """
    check = check_coco_json(json_file, image_root)
    json_used = str(json_file)
    if check.clean is not None:
        if work_dir is None:
            raise CocoDataError(f"{json_file}: annotations need dropping but no folder was given for the clean copy")
        Path(work_dir).mkdir(parents=True, exist_ok=True)
        json_used = str(Path(work_dir) / f"{name}.checked.json")
        atomic_write_json(check.clean, json_used, indent=None)
        check.clean = None
    if name in DatasetCatalog.list():
        DatasetCatalog.remove(name)
        MetadataCatalog.remove(name)
    root = str(image_root)
    DatasetCatalog.register(name, lambda: load_coco_json(json_used, root, name))
    MetadataCatalog.get(name).set(json_file=json_used, image_root=root, evaluator_type="coco")
    logger.info("registered %s: %d images, %d annotations, %d categories (%s)", name, check.num_images,
                check.num_annotations - len(check.zero_size), len(check.categories), json_used)
    return check

