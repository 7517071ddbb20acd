"""PCA target: basis fitted on real patches, stored as buffers, patches reconstructed from it; the engine fits it."""
import json

import numpy as np
import pytest
import torch

from mae_core.config import ConfigError, load_config
from mae_core.data.datasets import read_fashion_mnist
from mae_core.engine.trainer import pretrain
from mae_core.models.patches import patchify
from mae_core.targets.base import build_target


def fashion_images(n: int = 64, size: int = 28) -> torch.Tensor:
    x, _ = read_fashion_mnist("test")
    imgs = torch.from_numpy(np.array(x[:n])).float().div(255).unsqueeze(1)
    return torch.nn.functional.interpolate(imgs, size=size, mode="bilinear") if size != 28 else imgs


def test_pca_reconstructs_patches_from_the_stored_basis():
    imgs = fashion_images()
    full = build_target("pca", 4, 1, components=16)
    assert full.needs_fit
    full.fit(imgs)
    patches = patchify(imgs, 4)
    # all 16 components: the basis is orthonormal and reconstruction is exact
    assert torch.allclose(full.components @ full.components.T, torch.eye(16), atol=1e-5)
    assert torch.allclose(full.reconstruct(full(imgs)), patches, atol=1e-4)
    # k components: the mean squared residual equals the variance of the dropped directions
    part = build_target("pca", 4, 1, components=4)
    part.fit(imgs)
    coeffs = part(imgs)
    assert coeffs.shape == (64, 49, 4)
    resid = (part.reconstruct(coeffs) - patches).pow(2).sum(-1).mean()
    dropped = torch.linalg.eigvalsh(torch.cov(patches.reshape(-1, 16).T.double())).sort().values[:12].sum()
    assert resid.item() == pytest.approx(dropped.item() * (len(patches.reshape(-1, 16)) - 1) / 49 / 64, rel=1e-3)
    assert resid < 0.5 * patches.var(1).sum(-1).mean()


def test_basis_is_in_the_state_dict_and_reloads():
    imgs = fashion_images()
    a = build_target("pca", 4, 1, components=6)
    a.fit(imgs)
    sd = a.state_dict()
    assert {"mean", "components", "explained", "fitted"} <= set(sd)
    b = build_target("pca", 4, 1, components=6)
    with pytest.raises(RuntimeError, match="not fitted"):
        b(imgs)
    b.load_state_dict(sd)
    assert not b.needs_fit and torch.equal(a(imgs), b(imgs))


def test_to_patches_draws_predicted_coefficients():
    imgs = fashion_images(8)
    t = build_target("pca", 4, 1, components=16)
    t.fit(imgs)
    mask = torch.ones(8, 49)
    assert torch.allclose(t.to_patches(t(imgs), imgs, mask), patchify(imgs, 4), atol=1e-4)


def test_too_many_components_is_a_config_error():
    with pytest.raises(ConfigError, match="model.target_args"):
        load_config("configs/pretrain/demo.py", ["model.target=pca", "model.target_args=components=49"])
    with pytest.raises(ConfigError, match="unknown argument"):
        load_config("configs/pretrain/demo.py", ["model.target=pca", "model.target_args=comps=4"])


def test_engine_fits_the_basis_before_training_and_keeps_it_on_resume(fashion_folder, tmp_path):
    over = [f"data.path={fashion_folder}", "model.target=pca", "model.target_args=components=12",
            "model.target_fit_images=16", "train.batch_size=8", "train.log_every=1"]
    out = tmp_path / "run"
    m1 = pretrain(load_config("configs/pretrain/smoke.py", over + ["train.max_steps=2"]), out)
    ck = torch.load(m1["checkpoint"], weights_only=False)
    comps = ck["model"]["target.components"]
    assert ck["model"]["target.fitted"] and comps.shape == (12, 48) and comps.abs().sum() > 0
    assert ck["manifest"]["target"]["kind"] == "pca" and ck["manifest"]["target"]["fitted"]
    # resumed: the basis comes from the checkpoint (another fit sample size would give another basis)
    m2 = pretrain(load_config("configs/pretrain/smoke.py", over[:3] + ["model.target_fit_images=24"] + over[4:]
                              + ["train.max_steps=4"]), out)
    ck2 = torch.load(m2["checkpoint"], weights_only=False)
    assert m2["step"] == 4 and torch.equal(ck2["model"]["target.components"], comps)
    assert json.loads((out / "metrics.json").read_text())["final_loss"] is not None
