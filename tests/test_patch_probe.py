"""transfer/studies/patch_probe.py: patch labels, the frozen features' order, the probe, bad scene folders."""
import numpy as np
import pytest
import torch
from PIL import Image

from transfer.studies import patch_probe as pp


def test_patch_labels_take_the_majority_item_and_leave_out_background():
    lab = np.zeros((1, 8, 8), np.uint8)
    lab[0, :4, :4] = 2                      # patch (0, 0): all class 2
    lab[0, :4, 4:6] = 3                     # patch (0, 1): half class 3
    lab[0, 4, 4] = 1                        # patch (1, 1): 1 pixel of 16, under a quarter
    assert pp.patch_labels(lab, 4, num_classes=3).tolist() == [1, 2, -1, -1]


class OracleEncoder(torch.nn.Module):
    """Each patch's mean colour as its feature, row-major like the ViT's tokens: a probe on it reads the label
    exactly when features and labels are aligned patch for patch."""

    def forward_intermediates(self, x, blocks, output_fmt="NLC"):
        y = torch.nn.functional.avg_pool2d(x, 4)                 # [B, 3, h, w]
        return [y.flatten(2).transpose(1, 2) for _ in blocks]    # [B, h*w, 3]


def _scenes(root, split, n, rng):
    (root / "images" / split).mkdir(parents=True)
    (root / "annotations" / split).mkdir(parents=True)
    colours = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]], np.uint8)
    for i in range(n):
        patches = rng.integers(0, 4, size=(4, 4))
        patches[0, 1] = 1 + (i % 3)          # not symmetric: a transposed order would mislabel
        lab = np.kron(patches, np.ones((4, 4), np.int64)).astype(np.uint8)
        Image.fromarray(colours[lab]).save(root / "images" / split / f"s{i}.jpg", quality=100)
        Image.fromarray(lab).save(root / "annotations" / split / f"s{i}.png")


def test_frozen_features_line_up_with_the_patch_labels(tmp_path):
    rng = np.random.default_rng(0)
    _scenes(tmp_path, "training", 12, rng)
    _scenes(tmp_path, "validation", 6, rng)
    (xt, yt), (xv, yv) = pp.read_scenes(tmp_path, "training"), pp.read_scenes(tmp_path, "validation")
    assert xt.shape == (12, 3, 16, 16) and yt.shape == (12, 16, 16)
    lt, lv = pp.patch_labels(yt, 4, 3), pp.patch_labels(yv, 4, 3)
    ft, fv = pp.patch_features(OracleEncoder(), xt, [0])[0], pp.patch_features(OracleEncoder(), xv, [0])[0]
    kt, kv = lt >= 0, lv >= 0
    acc = pp.probe_top1(ft[torch.from_numpy(kt)], torch.from_numpy(lt[kt]), fv[torch.from_numpy(kv)],
                        torch.from_numpy(lv[kv]), 3)
    assert acc == 100.0
    # the same features with the labels of the transposed grid: far from exact
    lt_t = pp.patch_labels(yt.transpose(0, 2, 1), 4, 3)
    lv_t = pp.patch_labels(yv.transpose(0, 2, 1), 4, 3)
    kt, kv = lt_t >= 0, lv_t >= 0
    wrong = pp.probe_top1(ft[torch.from_numpy(kt)], torch.from_numpy(lt_t[kt]), fv[torch.from_numpy(kv)],
                          torch.from_numpy(lv_t[kv]), 3)
    assert wrong < 80.0


def test_missing_scenes_and_label_maps_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="images/training: no .jpg"):
        pp.read_scenes(tmp_path, "training")
    (tmp_path / "images" / "training").mkdir(parents=True)
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "images" / "training" / "a.jpg")
    with pytest.raises(FileNotFoundError, match="annotations/training/a.png"):
        pp.read_scenes(tmp_path, "training")


def test_a_random_vit_checkpoint_is_probed_at_the_study_grid(tmp_path):
    from mae_core.config import load_config, shipped_config
    from mae_core.engine.trainer import save_initial_checkpoint
    rng = np.random.default_rng(1)
    _scenes(tmp_path, "training", 6, rng)
    _scenes(tmp_path, "validation", 3, rng)
    cfg = load_config(shipped_config("pretrain/transfer_study.py"), {"model.img_size": 16, "model.patch_size": 4})
    ckpt = save_initial_checkpoint(cfg, tmp_path / "init.pth", 0)
    r = pp.probe_checkpoint(ckpt, tmp_path, num_classes=3, img_size=16)
    assert sorted(r["per_block"]["patch_acc"]) == [2, 4, 5] and r["patch_acc"] == r["per_block"]["patch_acc"][5]
    assert 0.0 <= r["patch_acc"] <= 100.0 and r["patches"]["train"] > 0
    assert sorted(r["per_block"]["pos_share"]) == [2, 4, 5] and r["pos_share"] == r["per_block"]["pos_share"][5]
    assert 0.0 <= r["pos_share"] <= 100.0


def test_position_share_tells_position_from_content():
    g = torch.Generator().manual_seed(0)
    by_position = torch.randn(1, 16, 8, generator=g).expand(5, 16, 8)      # every image: the same features per patch
    assert pp.position_share(by_position) == 100.0
    by_content = torch.randn(5, 1, 8, generator=g).expand(5, 16, 8)        # every patch of an image: its features
    assert pp.position_share(by_content) == 0.0
    half = by_position + torch.randn(5, 16, 8, generator=g)                  # position and noise of equal variance
    assert 30.0 < pp.position_share(half) < 70.0
    with pytest.raises(ValueError, match="do not vary"):
        pp.position_share(torch.ones(3, 4, 2))
