"""dVAE-token target: tokenizers (this project's dVAE, the DALL-E encoder), cross-entropy over the vocabulary,
the loss decreasing on Fashion-MNIST, the tokenizer's identity in the checkpoint manifest."""
import math

import pytest
import torch
import torch.nn.functional as F

from mae_core.config import ConfigError, load_config
from mae_core.data.datasets import read_fashion_mnist
from mae_core.engine.trainer import pretrain
from mae_core.models.mae import MaskedAutoencoder
from mae_core.targets.base import build_target
from mae_core.targets.tokenizers import load_tokenizer, sha256_of
from mae_core.targets.tokenizers.dvae import save_dvae
from mae_core.targets.tokenizers.train import to_unit, train_dvae


@pytest.fixture(scope="module")
def dvae_file(tmp_path_factory):
    """A small dVAE trained for 100 steps on real Fashion-MNIST images; returns (path, history)."""
    torch.manual_seed(0)
    x, _ = read_fashion_mnist("train")
    xv, _ = read_fashion_mnist("test")
    model, history = train_dvae(x[:2000], xv[:300], steps=100, batch_size=32, vocab_size=64, hidden=16,
                                stride=4, eval_every=50)
    return save_dvae(model, tmp_path_factory.mktemp("tok") / "dvae.pth", {"history": history}), history


def test_trained_tokenizer_reconstructions_improve(dvae_file):
    _, history = dvae_file
    first, last = history[0]["val_hard_mse"], history[-1]["val_hard_mse"]
    assert last < 0.7 * first, history
    assert history[-1]["codes_used"] > 4


def test_token_loss_is_cross_entropy_over_the_vocabulary(dvae_file):
    path, _ = dvae_file
    target = build_target("dvae_token", 4, 1, tokenizer="dvae", path=str(path))
    target.set_input_stats((0.5,), (0.5,))
    imgs = torch.randn(3, 1, 28, 28).clamp(-1, 1)
    ids = target(imgs)
    assert ids.shape == (3, 49) and ids.dtype == torch.long and int(ids.max()) < 64
    pred, mask = torch.randn(3, 49, 64), (torch.rand(3, 49) > 0.5).float()
    manual = (F.cross_entropy(pred.reshape(-1, 64), ids.reshape(-1), reduction="none").reshape(3, 49) * mask).sum()
    assert target.loss(pred, ids, mask).item() == pytest.approx(manual.item() / mask.sum().item(), rel=1e-5)
    # ids come from the tokenizer on the de-normalised image, on the MAE's patch grid
    tok = load_tokenizer("dvae", path)
    assert torch.equal(ids, tok.tokenize((imgs * 0.5 + 0.5).clamp(0, 1)).flatten(1))


def test_token_path_loss_decreases_on_fashion_mnist(dvae_file):
    path, _ = dvae_file
    torch.manual_seed(0)
    x, _ = read_fashion_mnist("train")
    imgs = (to_unit(x[:256], 1) - 0.5) / 0.5
    mae = MaskedAutoencoder(img_size=28, patch_size=4, in_chans=1, embed_dim=64, depth=2, num_heads=2,
                            decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2, target="dvae_token",
                            target_kwargs={"tokenizer": "dvae", "path": str(path)})
    mae.target.set_input_stats((0.5,), (0.5,))
    assert mae.decoder_pred.out_features == 64
    opt = torch.optim.AdamW(mae.parameters(), lr=2e-3)
    losses = []
    for step in range(40):
        loss = mae(imgs[(step * 32) % 256:][:32])[0]
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] == pytest.approx(math.log(64), rel=0.25)  # chance level at the start
    assert sum(losses[-5:]) / 5 < 0.85 * sum(losses[:5]) / 5, losses


def test_manifest_records_the_tokenizer_and_its_weights_stay_out(dvae_file, fashion_folder, tmp_path):
    path, _ = dvae_file
    cfg = load_config("configs/pretrain/smoke.py", [f"data.path={fashion_folder}", "model.target=dvae_token",
                                                    f"model.target_args=tokenizer=dvae,path={path}",
                                                    "train.batch_size=8", "train.max_steps=2"])
    m = pretrain(cfg, tmp_path / "run")
    ck = torch.load(m["checkpoint"], weights_only=False)
    tok = ck["manifest"]["target"]["tokenizer"]
    assert tok == {"kind": "dvae", "path": str(path), "sha256": sha256_of(path), "vocab": 64, "stride": 4,
                   "in_chans": 1}
    assert ck["manifest"]["target"]["out_dim"] == 64
    assert not any(k.startswith("target.") for k in ck["model"])  # the frozen tokenizer is not in the state dict


@pytest.mark.parametrize("args,match", [("", "needs a tokenizer"), ("tokenizer=dvae,path=missing.pth", "not a file"),
                                        ("tokenizer=vqgan,path=x", "not one of")])
def test_token_target_without_a_usable_tokenizer_is_an_error_before_training(args, match):
    with pytest.raises(ConfigError, match=match) as e:
        load_config("configs/pretrain/demo.py", ["model.target=dvae_token", f"model.target_args={args}"])
    assert "model.target_args" in str(e.value)


def test_dalle_encoder_loads_in_its_published_format(tmp_path):
    pytest.importorskip("dall_e")
    from dall_e import Encoder, map_pixels
    torch.manual_seed(0)
    enc = Encoder(n_hid=64, n_blk_per_group=1, vocab_size=512)  # random weights, the real architecture
    torch.save(enc, tmp_path / "encoder.pkl")                    # the official encoder.pkl is a pickled module
    torch.save(enc.state_dict(), tmp_path / "encoder_sd.pth")
    x01 = torch.rand(2, 3, 28, 28)
    target = build_target("dvae_token", 4, 3, tokenizer="dalle", path=str(tmp_path / "encoder.pkl"))
    target.set_input_stats((0.0,) * 3, (1.0,) * 3)
    ids = target(x01)
    assert ids.shape == (2, 49) and target.out_dim == 512
    resized = F.interpolate(x01, size=(56, 56), mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
    assert torch.equal(ids, enc(map_pixels(resized)).argmax(1).flatten(1))
    desc = target.describe()["tokenizer"]
    assert desc["kind"] == "dalle" and desc["stride"] == 8 and desc["vocab"] == 512
    assert desc["sha256"] == sha256_of(tmp_path / "encoder.pkl")
    sd_tok = load_tokenizer("dalle", tmp_path / "encoder_sd.pth")
    assert torch.equal(sd_tok.tokenize(resized), ids.reshape(2, 7, 7))
