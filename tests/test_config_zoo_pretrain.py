"""Config zoo, pretraining: every file under configs/pretrain/ (recipes, demo, smoke, every ablation row at both of
its scales) is loaded the way tools/pretrain.py (or tools/ablate.py) loads it, shrunk only by ``key=value``
overrides, trained for ONE optimizer step on real Fashion-MNIST images, then its final checkpoint is loaded strictly
and run once in evaluation mode. A new config file is picked up by the glob."""
from __future__ import annotations

import json
import math
import runpy
from pathlib import Path

import pytest
import torch

from mae_core.checkpoint.io import load_weights
from mae_core.cli import pretrain_main
from mae_core.config import apply_overrides, load_config
from mae_core.engine.trainer import build_mae, build_pretrain_dataset
from mae_core.models.vit import VIT_SIZES
from mae_core.targets.base import parse_target_args

ROOT = Path(__file__).resolve().parents[1]
PRETRAIN = ROOT / "configs" / "pretrain"
CONFIGS = sorted(p for p in PRETRAIN.rglob("*.py") if p.name != "__init__.py")
ROWS = sorted(p for p in (PRETRAIN / "ablations").glob("*.py") if p.name != "__init__.py")
SMALL_ENCODERS = ("vit_micro_patch4", "vit_demo_patch4")
DECODER_SHRINK = 8      # decoder width / 8, its depth and heads kept (every paper width / 8 divides by 16 heads)


def raw_config(path: Path):
    """The file's `config` before overrides (load_config would validate file paths the test replaces)."""
    return runpy.run_path(str(path))["config"]


def _id(p: Path) -> str:
    return str(p.relative_to(PRETRAIN))


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    from conftest import write_fashion_folder
    return write_fashion_folder(tmp_path_factory.mktemp("zoo_pre"), n_per_class=4, classes=2, size=28)


class Tokenizers:
    """Tokenizer files for the dVAE-token rows, whose configs point at files a user supplies, made on first use: a
    DALL-E encoder in its published format (a pickled module, random weights) and one of this project's dVAEs."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.files = folder, {}

    def get(self, kind: str) -> Path:
        if kind not in self.files:
            if kind == "dalle":
                dall_e = pytest.importorskip("dall_e")
                torch.manual_seed(0)
                torch.save(dall_e.Encoder(n_hid=16, n_blk_per_group=1, vocab_size=512), self.folder / "encoder.pkl")
                self.files[kind] = self.folder / "encoder.pkl"
            elif kind == "dvae":
                from mae_core.targets.tokenizers.cli import train_and_save
                train_and_save(self.folder / "dvae.pth", steps=2, batch_size=8, hidden=8, stride=4, limit=64)
                self.files[kind] = self.folder / "dvae.pth"
            else:
                raise AssertionError(f"the zoo test cannot make a {kind!r} tokenizer; add it here")
        return self.files[kind]


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory) -> Tokenizers:
    return Tokenizers(tmp_path_factory.mktemp("zoo_tok"))


def shrink(cfg, images: Path, tokenizers: Tokenizers) -> list[str]:
    """Overrides that make `cfg` a toy run: a micro encoder with the config's own patch size (when the config's
    encoder is a paper-scale one), a 4 x 4 grid, batch 4, one step, the test's data and tokenizer files."""
    m = cfg.model
    patch = m.patch_size or VIT_SIZES[m.encoder][3]
    ov = [f"data.path={images}", "train.batch_size=4", "train.accum_iter=1", "train.max_steps=1",
          "train.epochs=1", "data.num_workers=0", "train.vis_every_steps=1", "model.target_fit_images=8",
          "train.device=cpu", "train.compile=false"]
    if m.encoder not in SMALL_ENCODERS:
        ov += ["model.encoder=vit_micro_patch4", f"model.patch_size={patch}", f"model.img_size={4 * patch}",
               "model.grad_checkpointing=false"]
    if m.decoder_embed_dim > 128:   # a decoder of the paper's width costs seconds per bf16 step on a CPU
        width = max(m.decoder_embed_dim // DECODER_SHRINK, m.decoder_num_heads, 1)
        ov.append(f"model.decoder_embed_dim={width}")
    if m.target == "dvae_token":
        kind = parse_target_args(m.target_args).get("tokenizer")
        ov.append(f"model.target_args=tokenizer={kind},path={tokenizers.get(kind)}")
    return ov


def check_run(cfg, out: Path) -> None:
    """One optimizer step happened and the final checkpoint loads strictly and evaluates to a finite loss."""
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["step"] == 1 and math.isfinite(metrics["final_loss"]), metrics
    ckpt = torch.load(out / "checkpoint-final.pth", map_location="cpu", weights_only=False)
    assert ckpt["step"] == 1 and ckpt["optimizer"]["state"], "no optimizer state after one step"
    model = build_mae(cfg.model)
    load_weights(model, ckpt["model"], source=str(out / "checkpoint-final.pth"))
    model.target.set_input_stats(cfg.data.mean, cfg.data.std)
    model.eval()
    batch = torch.stack([build_pretrain_dataset(cfg)[i][0] for i in range(2)])
    with torch.no_grad():
        loss = model(batch)[0]
    assert torch.isfinite(loss), f"evaluation loss {loss}"


@pytest.mark.parametrize("path", CONFIGS, ids=_id)
def test_pretrain_config_runs_one_step_through_the_tool(path: Path, images, tokenizers, tmp_path):
    """tools/pretrain.py --config PATH (its `config`), in-process."""
    overrides = shrink(raw_config(path), images, tokenizers)
    out = tmp_path / "run"
    rc = pretrain_main(["--config", str(path), "--output-dir", str(out), *overrides])
    assert rc == 0, f"tools/pretrain.py --config {path} exited {rc}"
    check_run(load_config(path, overrides), out)


@pytest.mark.parametrize("path", ROWS, ids=_id)
def test_ablation_row_small_scale_runs_one_step(path: Path, images, tokenizers, tmp_path):
    """The row's `small` config as tools/ablate.py loads it (Row.load('small')), shrunk the same way."""
    from mae_core.engine.trainer import pretrain
    from transfer.studies.ablation.rows import Row
    row = Row(path.stem[0], path.stem, path.stem, path, False, ())
    cfg = row.load("small")
    cfg = apply_overrides(cfg, shrink(cfg, images, tokenizers))
    cfg.validate()
    pretrain(cfg, tmp_path / "run")
    check_run(cfg, tmp_path / "run")
