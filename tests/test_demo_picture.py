"""The demo's reconstruction picture: grey data drawn in grey, norm-pix patches de-normalised with the target
patches' statistics, and PSNR of the masked patches vs mean fill in the demo's metrics.json."""
import json

import pytest
import torch
from PIL import Image

from mae_core.config import load_config, shipped_config
from mae_core.engine.trainer import build_mae
from mae_core.engine.visualize import is_grey, reconstruction_psnr, save_reconstruction_grid
from mae_core.models.patches import patchify

MEAN, STD = (0.286,), (0.353,)


def _micro_mae(in_chans: int = 1, target: str = "norm_pixel"):
    cfg = load_config(shipped_config("pretrain/demo.py"), [
        "model.encoder=vit_micro_patch4", f"model.in_chans={in_chans}", f"model.target={target}",
        "model.decoder_embed_dim=32", "model.decoder_depth=1", f"data.mean={MEAN * in_chans}",
        f"data.std={STD * in_chans}"])
    torch.manual_seed(0)
    return build_mae(cfg.model)


def _imgs(n=4, c=1):
    from mae_core.data.datasets import read_fashion_mnist
    x = torch.from_numpy(read_fashion_mnist("test")[0][:n].copy()).float().div(255).unsqueeze(1).expand(-1, c, -1, -1)
    return (x - MEAN[0]) / STD[0]


def test_psnr_of_an_exact_and_of_a_zero_prediction(monkeypatch):
    """A prediction equal to the normalised target reconstructs the hidden patches (high PSNR); predicting zeros is
    exactly the per-patch mean fill."""
    model, x = _micro_mae(), _imgs()
    noise = torch.rand(4, model.patch_embed.num_patches, generator=torch.Generator().manual_seed(0))
    true = patchify(x, 4)
    exact = (true - true.mean(-1, keepdim=True)) / (true.var(-1, keepdim=True) + 1e-6) ** 0.5
    mask = torch.zeros(4, 49)
    mask[:, ::2] = 1
    for pred, check in ((exact, lambda r: r["psnr_db"] > r["mean_fill_psnr_db"] + 20),
                        (torch.zeros_like(exact), lambda r: r["psnr_db"] == r["mean_fill_psnr_db"])):
        monkeypatch.setattr(model, "forward", lambda imgs, noise=None, p=pred: (torch.tensor(0.0), p, mask))
        r = reconstruction_psnr(model, x, MEAN, STD, noise=noise)
        assert check(r), r
        assert r["statistics"] == "target patches" and r["hidden_patches"] == 4 * 25
    # the visible-statistics variant compares with the visible pixels' mean
    r = reconstruction_psnr(model, x, MEAN, STD, noise=noise, stats="visible")
    assert r["mean_fill"] == "the visible pixels' mean" and r["mean_fill_psnr_db"] == r["visible_mean_fill_psnr_db"]


def test_grey_data_is_drawn_grey_and_colour_as_colour(tmp_path):
    model = _micro_mae()
    p = save_reconstruction_grid(model, _imgs(), MEAN, STD, tmp_path / "g.png")
    assert Image.open(p).mode == "L"
    model3 = _micro_mae(in_chans=3)
    x3 = _imgs(c=3)
    assert is_grey(x3, MEAN * 3, STD * 3)                       # grey replicated to RGB is still grey
    assert Image.open(save_reconstruction_grid(model3, x3, MEAN * 3, STD * 3, tmp_path / "g3.png")).mode == "L"
    colour = x3.clone()
    colour[:, 0] += 0.5
    assert not is_grey(colour, MEAN * 3, STD * 3)
    assert Image.open(save_reconstruction_grid(model3, colour, MEAN * 3, STD * 3, tmp_path / "c.png")).mode == "RGB"


def test_schedule_for_budget_shrinks_the_recipe_keeping_the_warmup_share():
    from transfer.studies.demo import schedule_for_budget
    s = schedule_for_budget(3, 1, steps_per_epoch=234, step_s=1.2, seconds=600)    # 600 * 0.92 / 1.2 = 460 steps
    assert s["steps"] == 460 and s["epochs"] == pytest.approx(460 / 234)
    assert s["warmup_epochs"] / s["epochs"] == pytest.approx(1 / 3)
    assert schedule_for_budget(3, 1, 234, step_s=0.1, seconds=600)["steps"] == 702   # never longer than the recipe
    assert schedule_for_budget(3, 1, 234, step_s=100.0, seconds=10)["steps"] == 1


@pytest.mark.slow
def test_demo_fits_its_budget_writes_reconstruction_metrics_and_a_grey_picture(tmp_path, monkeypatch):
    """A few seconds of the demo on 1-channel Fashion-MNIST under a budget (0.1 min, the calibrated step pinned to 2 s:
    a first estimate of 2 steps of a fractional-epoch schedule, which the run re-fits to the clock, never past the
    recipe's 6 epochs): budget.json is reused by a rerun; metrics.json has reconstruction.psnr_db and
    mean_fill_psnr_db; vis/ pictures are grey."""
    from transfer.studies import demo
    monkeypatch.setattr(demo, "time_pretrain_step", lambda cfg: 2.0)
    over = ["model.encoder=vit_micro_patch4", "model.in_chans=1", f"data.mean={MEAN}", f"data.std={STD}",
            "model.decoder_embed_dim=32", "model.decoder_depth=1", "train.batch_size=16",
            "train.precision=fp32", "train.vis_every_steps=10", "data.num_workers=0"]
    demo.run_demo(str(shipped_config("pretrain/demo.py")), str(tmp_path), over, limit=100, budget_minutes=0.1)
    m = json.loads((tmp_path / "metrics.json").read_text())
    budget = m["budget"]
    assert 1 <= budget["steps"] <= 5 and 1 <= m["pretrain"]["step"] <= m["pretrain"]["horizon"] <= 6 * 60000 // 16
    assert budget["epochs"] == pytest.approx(budget["steps"] / (60000 // 16)) and budget["inputs"]["recipe_epochs"] == 6
    demo.print_table(m)   # the table the tool prints reads these keys
    rec = m["reconstruction"]
    assert rec["psnr_db"] > 0 and rec["mean_fill_psnr_db"] > 0 and rec["images"] == 16
    pictures = sorted((tmp_path / "vis").glob("*.png"))
    assert len(pictures) >= 2 and all(Image.open(p).mode == "L" for p in pictures)
    monkeypatch.setattr(demo, "time_pretrain_step", lambda cfg: pytest.fail("a rerun must reuse budget.json"))
    cfg = load_config(shipped_config("pretrain/demo.py"), over)
    assert demo.fit_to_budget(cfg, 0.1, tmp_path) == budget and cfg.train.epochs == budget["epochs"]
    # other settings: beside the old run's checkpoint, an error naming what changed; in a folder without one, a refit
    from mae_core.config import ConfigError
    changed = load_config(shipped_config("pretrain/demo.py"), [*over, "train.batch_size=8"])
    with pytest.raises(ConfigError, match=r"batch_size: 16 -> 8.*holds that run's checkpoint"):
        demo.fit_to_budget(changed, 0.1, tmp_path)
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (fresh / "budget.json").write_text((tmp_path / "budget.json").read_text())
    monkeypatch.setattr(demo, "time_pretrain_step", lambda cfg: 3.0)
    refit = demo.fit_to_budget(changed, 0.1, fresh)
    assert refit["step_s"] == 3.0 and refit["inputs"]["batch_size"] == 8


def test_time_pretrain_step_times_the_configured_model():
    from transfer.studies.demo import time_pretrain_step
    cfg = load_config(shipped_config("pretrain/demo.py"), [
        "model.encoder=vit_micro_patch4", "model.decoder_embed_dim=32", "model.decoder_depth=1",
        "train.batch_size=4", "train.precision=fp32"])
    assert 0 < time_pretrain_step(cfg, steps=2, warmup=1) < 60
