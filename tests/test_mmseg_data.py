"""ADE20K-layout roots: the Fashion-MNIST canvases, and clear errors for bad data, raised before training."""
import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("mmseg")
pytestmark = pytest.mark.mmseg

from mae_core.data.datasets import DataError, read_fashion_mnist  # noqa: E402
from transfer.mmseg.data import check_ade_root, dataset_overrides  # noqa: E402
from transfer.studies.scenes import FG_THRESHOLD, Items, compose_scene, make_fashion_ade  # noqa: E402


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    r = tmp_path_factory.mktemp("ade_fashion")
    make_fashion_ade(r, num_train=6, num_val=3, size=64, seed=1)
    return r


def test_layout_and_labels(root):
    assert check_ade_root(root, 10) == {"training": 6, "validation": 3}
    values = set()
    for p in (root / "annotations" / "training").glob("*.png"):
        a = np.asarray(Image.open(p))
        assert a.shape == (64, 64) and a.dtype == np.uint8
        values |= set(np.unique(a).tolist())
    assert 0 in values and values <= set(range(11)) and len(values) > 2
    assert json.loads((root / "classes.json").read_text())[0] == "t-shirt/top"


def test_labels_are_the_items_own_pixels():
    images, labels = read_fashion_mnist("test")
    scene = compose_scene(Items([images[0]], labels[:1], []), 64, np.random.default_rng(0), n_items=1)
    img, ann = scene.image, scene.label_map
    assert set(np.unique(ann).tolist()) == {0, int(labels[0]) + 1}
    fg = ann > 0
    # labelled pixels are the item's (bright, above the threshold), the rest is the dim background
    assert img[fg].mean() > FG_THRESHOLD * 0.5 and fg.sum() > 50 and (~fg).sum() > 0


def test_label_out_of_range_names_the_file(root, tmp_path):
    import shutil
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    png = sorted((bad / "annotations" / "validation").glob("*.png"))[0]
    a = np.asarray(Image.open(png)).copy()
    a[0, 0], a[0, 1] = 12, 255  # 255 is ignored; 12 is outside 1..10
    Image.fromarray(a).save(png)
    with pytest.raises(DataError, match=rf"{png.name}.*\[12\]"):
        check_ade_root(bad, 10)
    check_ade_root(bad, 12)  # fine with more classes


def test_image_without_annotation_names_the_file(root, tmp_path):
    import shutil
    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    png = sorted((bad / "annotations" / "training").glob("*.png"))[2]
    png.unlink()
    with pytest.raises(DataError, match=rf"image without its annotation: .*{png.stem}\.jpg"):
        check_ade_root(bad, 10)


def test_not_ade_layout(tmp_path):
    (tmp_path / "train").mkdir()
    Image.new("RGB", (8, 8)).save(tmp_path / "train" / "a.jpg")
    with pytest.raises(DataError, match="not in ADE20K layout: missing folder .*images.training"):
        check_ade_root(tmp_path, 10)
    with pytest.raises(DataError, match="does not exist"):
        check_ade_root(tmp_path / "nope", 10)


def test_dataset_choice(root):
    assert dataset_overrides(root, 150)["type"] == "ADE20KDataset"
    ds = dataset_overrides(root, 10)
    assert ds["type"] == "BaseSegDataset" and ds["reduce_zero_label"] and len(ds["metainfo"]["classes"]) == 10
    with pytest.raises(DataError, match="classes.json"):
        dataset_overrides(root, 7)


def test_study_recipe_trains_on_the_first_n_labelled_scenes_with_indices(root, tmp_path):
    """configs/ade20k/transfer_study.py's ``train_dataloader.dataset.indices`` (the label-scarce study's option):
    None reads every labelled scene, N the first N; validation keeps all of its scenes."""
    from mmseg.registry import DATASETS
    from mmseg.utils import register_all_modules

    from mae_core.config import shipped_config
    from transfer.mmseg.train import AdeJob, build_config
    from transfer.studies.transfers import ade_overrides
    register_all_modules()
    config = str(shipped_config("ade20k/transfer_study_last_block.py"))
    sizes = {}
    for options in ((), ("train_dataloader.dataset.indices=2",)):
        over = ade_overrides(config, 5, options=options)[0]
        cfg = build_config(AdeJob(config=config, data_path=str(root), output_dir=str(tmp_path / "w"),
                                  num_classes=10, overrides=over))
        train = DATASETS.build(cfg.train_dataloader.dataset)
        sizes[options] = (len(train), len(DATASETS.build(cfg.val_dataloader.dataset)))
        assert train.get_data_info(0)["img_path"].endswith("00000.jpg")
    assert sizes == {(): (6, 3), ("train_dataloader.dataset.indices=2",): (2, 3)}
