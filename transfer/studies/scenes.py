"""The one scene composer: several real items pasted, with occlusion, on a textured canvas, and its three writers.

A scene is an RGB canvas [S, S, 3] (S >= 128 by default) holding ``items_per_scene`` items, each scaled to
S/5..S/2.5, tinted when grey, and placed so that some overlap (later items occlude earlier ones). For every item
the composer keeps its visible mask (its own pixels minus what later items cover). The writers turn the same scenes
into:

- ``coco/``: ``{train,val}/*.png`` + ``annotations/{train,val}.json`` (instances, polygon or compressed-RLE masks,
  alternating, as COCO's files do) for detectron2;
- ``ade/``: ``images/{training,validation}/*.jpg`` + ``annotations/.../*.png`` label maps (0 = background, ignored
  under ``reduce_zero_label``; class k -> k + 1) + ``classes.json`` for mmseg;
- ``folders/``: ``{train,val}/<class>/*.png``, the crop of every visible item's box, for classification.

Items: Fashion-MNIST (the Debian package) or ``--items DIR`` with ``train/<class>/*`` and ``val/<class>/*`` images
of any size. Train scenes take items only from the train split (Fashion-MNIST's train split), val scenes only from
the val split (Fashion-MNIST's test split), so no item is in both.
"""
# Adapted from: the copy-paste idea of synthetic instance canvases; written for this project.
from __future__ import annotations

import argparse
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from mae_core.cli import int_range, setup_logging, tool_main
from mae_core.data.datasets import FASHION_MNIST_CLASSES, read_fashion_mnist

logger = logging.getLogger(__name__)

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
FG_THRESHOLD = 30          # grey items: a pixel brighter than this (after scaling) is the item's own
SPLITS = {"train": "train", "val": "test"}   # scene split -> Fashion-MNIST split


@dataclass
class Items:
    """Item images of one split: ``images[i]`` uint8 [h, w] (grey) or [h, w, 3|4] (colour, 4 = alpha), label
    ``labels[i]`` in 0..K-1, class names ``classes[k]``."""
    images: list[np.ndarray]
    labels: np.ndarray
    classes: list[str]


@dataclass
class Scene:
    """image uint8 [S, S, 3]; instances [(label, visible mask bool [S, S])]; label map uint8 [S, S] (0 = none)."""
    image: np.ndarray
    instances: list[tuple[int, np.ndarray]] = field(default_factory=list)
    label_map: np.ndarray | None = None


def fashion_items(split: str, classes: tuple[int, ...] | None = None,
                  fashion_root: str | os.PathLike | None = None) -> Items:
    """Fashion-MNIST items of scene split `split` ('train' -> its train split, 'val' -> its test split)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, got {split!r}")
    images, labels = read_fashion_mnist(SPLITS[split], fashion_root)
    keep = np.arange(10) if classes is None else np.asarray(classes)
    sel = np.isin(labels, keep)
    remap = {int(c): k for k, c in enumerate(keep)}
    return Items(list(images[sel]), np.array([remap[int(y)] for y in labels[sel]], dtype=np.int64),
                 [FASHION_MNIST_CLASSES[int(c)] for c in keep])


def folder_items(root: str | os.PathLike, split: str) -> Items:
    """``root/<split>/<class>/*`` images of any size -> Items (classes sorted by folder name)."""
    d = Path(root) / split
    if not d.is_dir():
        raise FileNotFoundError(f"--items {root}: no '{split}/' folder (expected {split}/<class>/<image> files)")
    classes = sorted(p.name for p in d.iterdir() if p.is_dir())
    if not classes:
        raise ValueError(f"--items {root}: '{split}/' has no class folders")
    images, labels = [], []
    for k, name in enumerate(classes):
        files = sorted(f for f in (d / name).iterdir() if f.suffix.lower() in IMAGE_EXTS)
        if not files:
            raise ValueError(f"--items {root}: class folder {d / name} holds no images ({', '.join(IMAGE_EXTS)})")
        for f in files:
            with Image.open(f) as im:
                mode = "RGBA" if im.mode in ("RGBA", "LA", "P") and "transparency" in im.info or im.mode in (
                    "RGBA", "LA") else ("L" if im.mode in ("L", "1", "I;16", "I") else "RGB")
                images.append(np.asarray(im.convert(mode)))
            labels.append(k)
    return Items(images, np.asarray(labels, dtype=np.int64), classes)


def load_items(split: str, items_dir: str | os.PathLike | None = None,
               classes: tuple[int, ...] | None = None) -> Items:
    """The user's items (`items_dir`) or Fashion-MNIST (restricted to `classes` when given)."""
    if items_dir:
        return folder_items(items_dir, split)
    return fashion_items(split, classes)


def _item_layers(item: np.ndarray, side: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """item -> (colour float [h, w, 3], foreground bool [h, w]) with its long side scaled to `side`."""
    h, w = item.shape[:2]
    f = side / max(h, w)
    size = (max(1, round(w * f)), max(1, round(h * f)))
    if item.ndim == 2:   # grey item: its bright pixels, tinted
        arr = np.asarray(Image.fromarray(item).resize(size, Image.BILINEAR), dtype=np.float32)
        fg = arr > FG_THRESHOLD
        return arr[..., None] * rng.uniform(0.5, 1.0, size=3).astype(np.float32), fg
    arr = np.asarray(Image.fromarray(item).resize(size, Image.BILINEAR), dtype=np.float32)
    if arr.shape[-1] == 4:   # alpha says what is the item
        return arr[..., :3], arr[..., 3] > 127
    border = np.concatenate([arr[0], arr[-1], arr[:, 0], arr[:, -1]])
    bg = np.median(border, axis=0)
    fg = np.abs(arr - bg).max(-1) > FG_THRESHOLD
    if fg.sum() < 0.05 * fg.size:   # no clear background: the whole item
        fg[:] = True
    return arr, fg


def compose_scene(items: Items, size: int, rng: np.random.Generator, n_items: int,
                  scale: tuple[float, float] = (0.2, 0.4), overlap: float = 0.5) -> Scene:
    """One scene of `n_items` random items of `items` -> Scene (image [size, size, 3], visible masks, label map).

    With probability `overlap` an item is placed next to the previous one so that the two overlap (occlusion)."""
    yy, xx = np.mgrid[0:size, 0:size] / size
    slope = rng.uniform(-40, 40, size=(2, 3))
    img = rng.uniform(15, 80, size=3) + yy[..., None] * slope[0] + xx[..., None] * slope[1]
    img = img + rng.normal(0, 6, size=(size, size, 3))
    placed: list[tuple[int, np.ndarray]] = []
    prev = None
    for _ in range(n_items):
        i = int(rng.integers(len(items.images)))
        side = round(size * rng.uniform(*scale))
        colour, fg = _item_layers(items.images[i], side, rng)
        h, w = fg.shape
        if prev is not None and rng.random() < overlap:   # near the last item, half a side away at most
            y = int(np.clip(prev[0] + rng.integers(-h // 2, h // 2 + 1), 0, size - h))
            x = int(np.clip(prev[1] + rng.integers(-w // 2, w // 2 + 1), 0, size - w))
        else:
            y, x = int(rng.integers(0, size - h + 1)), int(rng.integers(0, size - w + 1))
        prev = (y, x)
        mask = np.zeros((size, size), dtype=bool)
        mask[y:y + h, x:x + w] = fg
        img[y:y + h, x:x + w][fg] = colour[fg]
        placed = [(lab, m & ~mask) for lab, m in placed]
        placed.append((int(items.labels[i]), mask))
    label_map = np.zeros((size, size), np.uint8)
    for lab, m in placed:
        label_map[m] = lab + 1
    return Scene(np.clip(img, 0, 255).astype(np.uint8), placed, label_map)


def compose_scenes(items: Items, num: int, size: int = 128, seed: int = 0,
                   items_per_scene: tuple[int, int] = (2, 5), **kw) -> list[Scene]:
    """`num` scenes from `items` (seeded)."""
    rng = np.random.default_rng(seed)
    return [compose_scene(items, size, rng, int(rng.integers(items_per_scene[0], items_per_scene[1] + 1)), **kw)
            for _ in range(num)]


def item_cover(scenes: list[Scene]) -> float:
    """The share of the scenes' pixels that their items cover (the rest is background)."""
    return round(float(np.mean([(s.label_map > 0).mean() for s in scenes])), 4) if scenes else 0.0


# --------------------------------------------------------------------------------------------------- writers
def mask_to_segmentation(mask: np.ndarray, as_polygon: bool) -> list | dict:
    """Binary mask [H, W] -> COCO polygons (list of flat xy lists) or compressed RLE (counts as str)."""
    from pycocotools import mask as mask_util
    if as_polygon:
        import cv2
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        polys = [c.reshape(-1).astype(float).tolist() for c in contours if len(c) >= 3]
        if polys:
            return polys
    rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
    rle["counts"] = rle["counts"].decode("ascii")
    return rle


def write_images(scenes: list[Scene], image_dir: Path) -> int:
    """The scenes' images alone -> ``image_dir/*.png`` -> count."""
    image_dir.mkdir(parents=True, exist_ok=True)
    for i, scene in enumerate(scenes, start=1):
        Image.fromarray(scene.image).save(image_dir / f"{i:06d}.png")
    return len(scenes)


def write_coco(scenes: list[Scene], classes: list[str], image_dir: Path, json_path: Path,
               min_area: int = 20) -> dict[str, str]:
    """Scenes -> ``image_dir/*.png`` + COCO instances JSON (category ids 1..K) -> {"json", "images"}."""
    image_dir.mkdir(parents=True, exist_ok=True)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    coco = {"images": [], "annotations": [],
            "categories": [{"id": k + 1, "name": c, "supercategory": "item"} for k, c in enumerate(classes)]}
    for img_id, scene in enumerate(scenes, start=1):
        name = f"{img_id:06d}.png"
        Image.fromarray(scene.image).save(image_dir / name)
        s = scene.image.shape[0]
        coco["images"].append({"id": img_id, "file_name": name, "height": s, "width": scene.image.shape[1]})
        for label, mask in scene.instances:
            area = int(mask.sum())
            if area < min_area:   # (almost) hidden by later items: not an instance any more
                continue
            ys, xs = np.nonzero(mask)
            box = [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]
            ann_id = len(coco["annotations"]) + 1
            coco["annotations"].append({
                "id": ann_id, "image_id": img_id, "category_id": label + 1, "bbox": box, "area": area, "iscrowd": 0,
                "segmentation": mask_to_segmentation(mask, as_polygon=ann_id % 2 == 0)})
    json_path.write_text(json.dumps(coco))
    logger.info("wrote %s: %d images, %d instances", json_path, len(scenes), len(coco["annotations"]))
    return {"json": str(json_path), "images": str(image_dir)}


def write_ade(scenes: list[Scene], root: Path, split: str, prefix: str = "scene") -> int:
    """Scenes -> ``root/images/<split>/*.jpg`` + ``root/annotations/<split>/*.png`` label maps -> count."""
    img_dir, ann_dir = root / "images" / split, root / "annotations" / split
    img_dir.mkdir(parents=True, exist_ok=True)
    ann_dir.mkdir(parents=True, exist_ok=True)
    for i, scene in enumerate(scenes):
        name = f"{prefix}_{split}_{i:05d}"
        Image.fromarray(scene.image).save(img_dir / f"{name}.jpg", quality=95)
        Image.fromarray(scene.label_map).save(ann_dir / f"{name}.png")
    return len(scenes)


def folder_names(classes: list[str]) -> list[str]:
    """Folder-safe class names, prefixed by the label so that sorting keeps the label order."""
    return [f"{i:02d}_{c.replace('/', '_').replace(' ', '_')}" for i, c in enumerate(classes)]


def write_crops(scenes: list[Scene], classes: list[str], root: Path, min_area: int = 60, pad: int = 2) -> int:
    """Every visible item's box (plus `pad` px) cropped from its scene -> ``root/<class>/*.png`` -> count."""
    names = folder_names(classes)
    n = 0
    for i, scene in enumerate(scenes):
        s = scene.image.shape[0]
        for j, (label, mask) in enumerate(scene.instances):
            if mask.sum() < min_area:
                continue
            ys, xs = np.nonzero(mask)
            y0, y1 = max(0, ys.min() - pad), min(s, ys.max() + 1 + pad)
            x0, x1 = max(0, xs.min() - pad), min(scene.image.shape[1], xs.max() + 1 + pad)
            d = root / names[label]
            d.mkdir(parents=True, exist_ok=True)
            Image.fromarray(scene.image[y0:y1, x0:x1]).save(d / f"{i:05d}_{j}.png")
            n += 1
    return n


def write_items(items: Items, root: Path, per_class: int = 0) -> int:
    """The raw item images -> ``root/<class>/*.png`` (the first `per_class` of each class; 0 = all) -> count."""
    names = folder_names(items.classes)
    count = np.zeros(len(names), dtype=int)
    for i, (img, y) in enumerate(zip(items.images, items.labels)):
        y = int(y)
        if per_class and count[y] >= per_class:
            continue
        count[y] += 1
        (root / names[y]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / names[y] / f"{i:05d}.png")
    return int(count.sum())


def fill_missing_classes(items: Items, root: Path, size: int, seed: int) -> int:
    """A classifier's folder set needs every class: for each class without a crop in ``root``, one crop of a
    one-item scene of that class (same split's items) -> crops added."""
    names, rng, added = folder_names(items.classes), np.random.default_rng(seed + 7919), 0
    for k, name in enumerate(names):
        if (root / name).is_dir() and any((root / name).iterdir()):
            continue
        idx = np.flatnonzero(items.labels == k)
        if not len(idx):
            raise ValueError(f"class {items.classes[k]!r} has no items in this split")
        only = Items([items.images[i] for i in idx], items.labels[idx], items.classes)
        scene = compose_scene(only, size, rng, n_items=1)
        added += write_crops([scene], items.classes, root, min_area=1)
    return added


FORMATS = ("coco", "ade", "folders", "items")
SCENE_FORMATS = FORMATS[:3]   # the default: what the transfers read


def make_scenes(output_dir: str | os.PathLike, num_train: int = 300, num_val: int = 100, size: int = 128,
                seed: int = 0, items_dir: str | os.PathLike | None = None,
                formats: tuple[str, ...] = SCENE_FORMATS,
                classes: tuple[int, ...] | None = None, items_per_scene: tuple[int, int] = (2, 5),
                items_per_class: int = 0, num_unlabelled: int = 0,
                unlabelled_items_per_scene: tuple[int, int] | None = None) -> dict:
    """Composes train / val scenes and writes them in `formats` under `output_dir` (``coco/``, ``ade/``,
    ``folders/`` item crops; ``items/``: the raw items, `items_per_class` of each class, 0 = all), and
    `num_unlabelled` more train scenes as bare images in ``unlabelled/`` (items of the train split only; for
    pretraining on more images than have labels), of `unlabelled_items_per_scene` items each (default: as many as the
    labelled scenes'; more put more items and less background in each scene). The counts say what share of the
    scenes' pixels the items cover (``item_cover``, ``unlabelled_item_cover``).
    -> {"classes", "coco": {split: {"json", "images"}}, "ade": root, "folders": root, "items": root,
    "unlabelled": folder, "counts"}."""
    bad = set(formats) - set(FORMATS)
    if bad:
        raise ValueError(f"unknown scene formats {sorted(bad)}; known: {', '.join(FORMATS)}")
    if size < 32:
        raise ValueError(f"--size must be >= 32 px (items are scaled to size/5..size/2.5), got {size}")
    for name, rng in (("items per scene", items_per_scene), ("unlabelled items per scene", unlabelled_items_per_scene)):
        if rng is not None and not 1 <= rng[0] <= rng[1]:
            raise ValueError(f"{name}: expected MIN,MAX with 1 <= MIN <= MAX, got {rng[0]},{rng[1]}")
    out = Path(output_dir)
    result: dict = {"counts": {}}
    for k, (split, n) in enumerate((("train", num_train), ("val", num_val))):
        items = load_items(split, items_dir, classes)
        if k and items.classes != result["classes"]:
            raise ValueError(f"--items {items_dir}: val/ classes {items.classes} differ from train/ classes "
                             f"{result['classes']}")
        result["classes"] = items.classes
        counts: dict = {"scenes": n}
        if "items" in formats:
            counts["items"] = write_items(items, out / "items" / split, items_per_class)
            result["items"] = str(out / "items")
        scenes = compose_scenes(items, n, size, seed=seed * 2 + k, items_per_scene=items_per_scene)
        counts["item_cover"] = item_cover(scenes)
        if "coco" in formats:
            result.setdefault("coco", {})[split] = write_coco(scenes, items.classes, out / "coco" / split,
                                                               out / "coco" / "annotations" / f"{split}.json")
        if "ade" in formats:
            write_ade(scenes, out / "ade", {"train": "training", "val": "validation"}[split])
            (out / "ade" / "classes.json").write_text(json.dumps(items.classes))
            result["ade"] = str(out / "ade")
        if "folders" in formats:
            counts["crops"] = write_crops(scenes, items.classes, out / "folders" / split)
            counts["crops"] += fill_missing_classes(items, out / "folders" / split, size, seed * 2 + k)
            result["folders"] = str(out / "folders")
        if k == 0 and num_unlabelled:
            extra = compose_scenes(items, num_unlabelled, size, seed=seed * 2 + 1000,
                                   items_per_scene=unlabelled_items_per_scene or items_per_scene)
            counts["unlabelled"] = write_images(extra, out / "unlabelled")
            counts["unlabelled_item_cover"] = item_cover(extra)
            result["unlabelled"] = str(out / "unlabelled")
        result["counts"][split] = counts
    (out / "scenes.json").write_text(json.dumps({k: v for k, v in result.items()} | {
        "size": size, "seed": seed, "items_per_scene": list(items_per_scene),
        "unlabelled_items_per_scene": list(unlabelled_items_per_scene or items_per_scene),
        "items": str(items_dir) if items_dir else "fashion-mnist"}, indent=1))
    logger.info("wrote %s scenes of %d px to %s", result["counts"], size, out)
    return result


# ------------------------------------------------------------------------- the older entry points, same composer
FASHION_COCO_CLASSES = (0, 1, 7, 8)   # t-shirt/top, trouser, sneaker, bag: four shapes a small detector tells apart


def make_fashion_coco(out_dir: str | os.PathLike, num_train: int = 300, num_val: int = 100, canvas: int = 128,
                      classes: tuple[int, ...] = FASHION_COCO_CLASSES, items_per_image: tuple[int, int] = (2, 5),
                      seed: int = 0) -> dict[str, dict[str, str]]:
    """COCO layout directly under `out_dir` (``{train,val}/*.png``, ``annotations/{train,val}.json``), categories
    1..K = `classes` of Fashion-MNIST -> {"train": {"json", "images"}, "val": {...}}."""
    out = Path(out_dir)
    paths = {}
    for k, (split, n) in enumerate((("train", num_train), ("val", num_val))):
        items = fashion_items(split, classes)
        scenes = compose_scenes(items, n, canvas, seed=seed * 2 + k, items_per_scene=items_per_image)
        paths[split] = write_coco(scenes, items.classes, out / split, out / "annotations" / f"{split}.json")
    return paths


def make_fashion_ade(root: str | os.PathLike, num_train: int = 400, num_val: int = 100, size: int = 128,
                     items_per_image: tuple[int, int] = (2, 5), seed: int = 0) -> dict[str, int]:
    """ADE20K layout directly under `root` with Fashion-MNIST's 10 classes (label k + 1) -> {split: count}."""
    root = Path(root)
    counts = {}
    for k, (split, n) in enumerate((("training", num_train), ("validation", num_val))):
        items = fashion_items("train" if k == 0 else "val")
        counts[split] = write_ade(compose_scenes(items, n, size, seed=seed * 2 + k, items_per_scene=items_per_image),
                                  root, split, prefix="fashion")
    (root / "classes.json").write_text(json.dumps(list(FASHION_MNIST_CLASSES)))
    return counts


@tool_main
def main(argv: list[str] | None = None) -> int:
    """``mae-make-scenes`` (tools/make_scenes.py)."""
    p = argparse.ArgumentParser(description="Composes scenes of real items and writes them for every transfer")
    p.add_argument("--output-dir", required=True)
    p.add_argument("--num-train", type=int, default=300, help="train scenes (items from the train split)")
    p.add_argument("--num-val", type=int, default=100, help="val scenes (items from the val / test split only)")
    p.add_argument("--size", type=int, default=128, help="scene side in pixels")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--items", help="folder with train/<class>/* and val/<class>/* item images of any size")
    p.add_argument("--formats", default="coco,ade,folders", help=f"comma-separated subset of {','.join(FORMATS)}")
    p.add_argument("--classes", help="Fashion-MNIST only: a subset of labels, e.g. 0,1,7,8 (default: all 10)")
    p.add_argument("--items-per-class", type=int, default=0, help="'items' format: first N per class (0 = all)")
    p.add_argument("--num-unlabelled", type=int, default=0, help="more train scenes as bare images in unlabelled/")
    p.add_argument("--unlabelled-items-per-scene", type=int_range, metavar="MIN,MAX",
                   help="items in each unlabelled scene (default: as many as the labelled scenes', 2,5)")
    a = p.parse_args(argv)
    setup_logging()
    res = make_scenes(a.output_dir, a.num_train, a.num_val, a.size, a.seed, a.items,
                      tuple(f for f in a.formats.split(",") if f), items_per_class=a.items_per_class,
                      classes=tuple(int(c) for c in a.classes.split(",")) if a.classes else None,
                      num_unlabelled=a.num_unlabelled, unlabelled_items_per_scene=a.unlabelled_items_per_scene)
    print(json.dumps(res, indent=1))
    return 0

