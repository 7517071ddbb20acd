"""Config handling of tools/train_ade20k.py: AMP only through AmpOptimWrapper, typos in overrides are errors."""
import pytest
import torch

pytest.importorskip("mmseg")
pytestmark = pytest.mark.mmseg

from _mmseg_helpers import BASE, SMOKE  # noqa: E402

from transfer.mmseg.train import build_config, parse_args  # noqa: E402


def args(tmp_path, config, *overrides, **flags):
    argv = ["--config", str(config), "--data-root", str(tmp_path), "--num-classes", str(flags.get("n", 10)),
            "--output-dir", str(tmp_path / "out"), *overrides]
    return parse_args(argv)


def test_amp_is_the_optim_wrapper_type(tmp_path):
    if torch.cuda.is_available():
        assert build_config(args(tmp_path, BASE, n=150)).optim_wrapper.type == "AmpOptimWrapper"
    else:
        with pytest.raises(RuntimeError, match="AmpOptimWrapper"):
            build_config(args(tmp_path, BASE, n=150))
    cfg = build_config(args(tmp_path, BASE, "optim_wrapper.type=OptimWrapper", n=150))
    assert cfg.optim_wrapper.type == "OptimWrapper" and "loss_scale" not in cfg.optim_wrapper
    assert cfg.train_dataloader.dataset.type == "ADE20KDataset"
    cfg_file = tmp_path / "fp16.py"
    cfg_file.write_text(f"_base_ = [{str(SMOKE)!r}]\nfp16 = dict(loss_scale='dynamic')\n")
    with pytest.raises(KeyError, match="AmpOptimWrapper"):
        build_config(args(tmp_path, cfg_file))


def test_data_classes_pretrained_and_overrides(tmp_path):
    (tmp_path / "classes.json").write_text('["a", "b", "c"]')
    ckpt = tmp_path / "mae.pth"
    ckpt.write_bytes(b"")
    cfg = build_config(parse_args(["--config", str(SMOKE), "--data-root", str(tmp_path), "--num-classes", "3",
                                   "--pretrained", str(ckpt), "--output-dir", str(tmp_path / "o"),
                                   "train_cfg.max_iters=7", "model.test_cfg.mode=slide"]))
    assert cfg.train_cfg.max_iters == 7 and cfg.model.test_cfg.mode == "slide"
    assert cfg.model.decode_head.num_classes == cfg.model.auxiliary_head.num_classes == 3
    ds = cfg.val_dataloader.dataset
    assert ds.type == "BaseSegDataset" and ds.metainfo["classes"] == ("a", "b", "c") and ds.reduce_zero_label
    assert cfg.model.backbone.pretrained == str(ckpt) and cfg.work_dir == str(tmp_path / "o")
    with pytest.raises(KeyError, match="did you mean 'train_cfg.max_iters'"):
        build_config(args(tmp_path, SMOKE, "train_cfg.max_iter=3", n=3))
    with pytest.raises(FileNotFoundError, match="--resume"):
        build_config(args(tmp_path, SMOKE, "--resume", n=3))
    with pytest.raises(FileNotFoundError, match="--pretrained"):
        build_config(parse_args(["--config", str(SMOKE), "--data-root", str(tmp_path), "--num-classes", "3",
                                 "--pretrained", str(tmp_path / "none.pth"), "--output-dir", str(tmp_path)]))
