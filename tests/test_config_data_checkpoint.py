import gzip
import logging
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from mae_core.checkpoint.io import CheckpointMismatchError, atomic_save, load_weights, read_state_dict
from mae_core.config import ConfigError, apply_overrides, load_config
from mae_core.data.datasets import DataError, ImageFolderDataset, read_idx, scan_images
from mae_core.engine.pretrain_config import PretrainConfig
from mae_core.models.vit import create_vit

CONFIGS = ["configs/pretrain/demo.py", "configs/pretrain/smoke.py", "configs/pretrain/mae_vit_base.py",
           "configs/pretrain/mae_vit_large.py", "configs/pretrain/mae_vit_huge.py"]


@pytest.mark.parametrize("path", CONFIGS)
def test_config_files_load_and_build(path):
    cfg = load_config(path)
    assert isinstance(cfg, PretrainConfig)
    if "demo" in path or "smoke" in path:
        from mae_core.engine.trainer import build_mae
        mae = build_mae(cfg.model)
        loss = mae(torch.randn(2, cfg.model.in_chans, cfg.model.img_size, cfg.model.img_size))[0]
        assert torch.isfinite(loss)


def test_overrides_are_typed_and_unknown_keys_named():
    cfg = PretrainConfig()
    apply_overrides(cfg, ["train.epochs=3", "optim.betas=(0.9,0.99)", "train.precision=bf16", "batch_size=8"])
    assert cfg.train.epochs == 3 and cfg.optim.betas == (0.9, 0.99) and cfg.train.batch_size == 8
    with pytest.raises(ConfigError, match=r"unknown config key 'train.epoch'.*train.epochs"):
        apply_overrides(cfg, ["train.epoch=3"])
    with pytest.raises(ConfigError, match="train.batch_size: expected int"):
        apply_overrides(cfg, ["train.batch_size=three"])
    apply_overrides(cfg, ["train.epochs=1.5"])                            # fractional epochs (a budget-fitted schedule)
    assert cfg.train.epochs == 1.5
    with pytest.raises(ConfigError, match="train.epochs must be > 0"):
        apply_overrides(cfg, ["train.epochs=0"])
        cfg.validate()
    with pytest.raises(ConfigError, match="decoder_num_heads"):
        load_config("configs/pretrain/demo.py", ["model.decoder_embed_dim=100", "model.decoder_num_heads=16"])
    with pytest.raises(ConfigError, match="grid masking"):
        load_config("configs/pretrain/demo.py", ["model.masking=grid", "model.mask_ratio=0.6"])


def test_idx_reader(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = tmp_path / "x-idx3-ubyte.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 3, 4) + arr.tobytes())
    assert np.array_equal(read_idx(path), arr)
    bad = tmp_path / "bad.gz"
    with gzip.open(bad, "wb") as f:
        f.write(bytes([0, 0, 8, 3]) + struct.pack(">III", 2, 3, 4) + arr.tobytes()[:-5])
    with pytest.raises(DataError, match="truncated"):
        read_idx(bad)


def test_corrupt_image_is_skipped_and_named(fashion_folder, caplog):
    bad = fashion_folder / "class_0" / "broken.png"
    good = next((fashion_folder / "class_0").glob("*.png"))
    bad.write_bytes(good.read_bytes()[:40])  # a truncated PNG
    ds = ImageFolderDataset(fashion_folder)
    i = ds.files.index(bad)
    with caplog.at_level(logging.WARNING):
        img, label = ds[i]
    assert isinstance(img, Image.Image) and label in (0, 1, 2)
    assert "broken.png" in caplog.text and ds.skipped == [str(bad)]
    with pytest.raises(DataError, match="broken.png"):
        ImageFolderDataset(fashion_folder, strict=True)[i]


def test_bad_data_paths(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        scan_images(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no image files"):
        scan_images(tmp_path / "empty")


def test_loader_reports_mismatched_keys(tmp_path):
    vit = create_vit("vit_micro_patch4")
    sd = vit.state_dict()
    sd["blocks.0.attn.extra"] = torch.zeros(1)
    del sd["blocks.1.mlp.fc2.bias"]
    with pytest.raises(CheckpointMismatchError, match=r"(?s)blocks.1.mlp.fc2.bias.*blocks.0.attn.extra"):
        load_weights(create_vit("vit_micro_patch4"), sd)
    report = load_weights(create_vit("vit_micro_patch4"), sd, allow_missing=("blocks.1.mlp.fc2.*",),
                          allow_unexpected=("*.extra",))
    assert report.missing == ["blocks.1.mlp.fc2.bias"] and report.unexpected == ["blocks.0.attn.extra"]
    # position tables of another grid are resampled
    big = create_vit("vit_micro_patch4", img_size=48)
    rep = load_weights(big, vit.state_dict())
    assert rep.resized == ["pos_embed"]


def test_atomic_save_and_read(tmp_path):
    path = tmp_path / "ck.pth"
    atomic_save({"model": {"w": torch.ones(2)}}, path)
    sd, whole = read_state_dict(path)
    assert torch.equal(sd["w"], torch.ones(2)) and list(tmp_path.iterdir()) == [path]
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointMismatchError, match="junk.pth"):
        read_state_dict(tmp_path / "junk.pth")
