"""Config handling of tools/train_ade20k.py: AMP only through AmpOptimWrapper, typos in overrides are errors."""
import pytest
import torch

pytest.importorskip("mmseg")
pytestmark = pytest.mark.mmseg

from _mmseg_helpers import BASE, SMOKE  # noqa: E402

from mae_core.config import ConfigError  # noqa: E402
from transfer.mmseg.cli import build_parser, job_from_args  # noqa: E402
from transfer.mmseg.train import build_config  # noqa: E402


def parse_args(argv):
    return job_from_args(build_parser().parse_args(argv))


def args(tmp_path, config, *overrides, **flags):
    argv = ["--config", str(config), "--data-root", str(tmp_path), "--num-classes", str(flags.get("n", 10)),
            "--output-dir", str(tmp_path / "out"), *overrides]
    return parse_args(argv)


def test_amp_is_the_optim_wrapper_type(tmp_path):
    if torch.cuda.is_available():
        assert build_config(args(tmp_path, BASE, n=150)).optim_wrapper.type == "AmpOptimWrapper"
    cfg = build_config(args(tmp_path, BASE, "optim_wrapper.type=OptimWrapper", n=150))
    assert cfg.optim_wrapper.type == "OptimWrapper" and "loss_scale" not in cfg.optim_wrapper
    assert cfg.training_precision["precision"] == "fp32"
    assert cfg.train_dataloader.dataset.type == "ADE20KDataset"
    cfg_file = tmp_path / "fp16.py"
    cfg_file.write_text(f"_base_ = [{str(SMOKE)!r}]\nfp16 = dict(loss_scale='dynamic')\n")
    with pytest.raises(ConfigError, match="AmpOptimWrapper"):
        build_config(args(tmp_path, cfg_file))


@pytest.mark.parametrize("faster", ["bf16", "fp32"])
def test_amp_on_a_cpu_is_bf16_autocast_where_faster(tmp_path, monkeypatch, faster):
    """The B config's AmpOptimWrapper (fp16, dynamic loss scale: a GPU's) on a CPU: bf16 autocast where the precision
    choice finds it the faster, else fp32; no loss scale either way; the choice is what metrics.json records."""
    import transfer.mmseg.train as train
    from transfer.mmseg.optim import CpuBf16OptimWrapper
    monkeypatch.setattr(train.torch.cuda, "is_available", lambda: False)
    seen = {}

    def choice(precision, device, key, dim):
        seen.update(precision=precision, device=device.type, dim=dim)
        return {"precision": faster, "chosen_by": "test", "bf16_speedup": None}
    monkeypatch.setattr(train, "precision_choice", choice)
    cfg = build_config(args(tmp_path, BASE, n=150))
    assert seen == {"precision": "auto", "device": "cpu", "dim": cfg.model.backbone.embed_dim}
    assert cfg.optim_wrapper.type == {"bf16": "CpuBf16OptimWrapper", "fp32": "OptimWrapper"}[faster]
    assert "loss_scale" not in cfg.optim_wrapper and "dtype" not in cfg.optim_wrapper
    assert cfg.training_precision["precision"] == faster
    model = torch.nn.Linear(4, 4)
    wrapper = CpuBf16OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    with wrapper.optim_context(model):
        assert model(torch.randn(2, 4)).dtype == torch.bfloat16
    assert model(torch.randn(2, 4)).dtype == torch.float32


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
    with pytest.raises(ConfigError, match="did you mean 'train_cfg.max_iters'"):
        build_config(args(tmp_path, SMOKE, "train_cfg.max_iter=3", n=3))
    assert not build_config(args(tmp_path, SMOKE, "--resume", n=3)).resume    # nothing to resume from: a new run
    with pytest.raises(FileNotFoundError, match="--eval-only"):
        build_config(args(tmp_path, SMOKE, "--eval-only", n=3))
    with pytest.raises(FileNotFoundError, match="--pretrained"):
        build_config(parse_args(["--config", str(SMOKE), "--data-root", str(tmp_path), "--num-classes", "3",
                                 "--pretrained", str(tmp_path / "none.pth"), "--output-dir", str(tmp_path)]))


def test_ade20k_recipes_hold_their_sources_values():
    """ViT-B: mmseg's MAE config (lr 1e-4, wd 0.05, layer decay 0.65 over 12 blocks, 1,500 warmup + poly to 160k,
    batch 16, drop path 0.1); ViT-L: the same with 24 blocks, layer decay 0.75 and drop path 0.2 (FINETUNE.md's
    ViT-L values); the schedule's end and the loop's length agree."""
    from mmengine.config import Config
    large = BASE.with_name("upernet_mae_vit_large_160k.py")
    for path, depth, decay, dp in ((BASE, 12, 0.65, 0.1), (large, 24, 0.75, 0.2)):
        cfg = Config.fromfile(str(path))
        o = cfg.optim_wrapper
        assert (o.type, o.optimizer.lr, o.optimizer.weight_decay, tuple(o.optimizer.betas)) == \
            ("AmpOptimWrapper", 1e-4, 0.05, (0.9, 0.999))
        assert (o.paramwise_cfg.num_layers, o.paramwise_cfg.layer_decay_rate) == (depth, decay)
        assert (cfg.model.backbone.depth, cfg.model.backbone.drop_path_rate) == (depth, dp)
        assert cfg.model.backbone.rel_pos == "bias" and cfg.train_dataloader.batch_size * 8 == 16
        warm, poly = cfg.param_scheduler
        assert (warm.end, poly.begin, poly.end, poly.power) == (1500, 1500, 160000, 1.0)
        assert cfg.train_cfg.max_iters == poly.end == 160000
        assert ("53.6" if depth == 24 else "48.1") in open(path).read()
