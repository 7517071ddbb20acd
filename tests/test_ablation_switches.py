"""Table 1 switches: every row config builds its model; decoder depth/width; the mask token in the encoder and its
FLOPs; augmentations; bad ablation values are errors before training naming the setting."""
import pytest
import torch

from mae_core.config import ConfigError, load_config
from mae_core.data.transforms import build_pretrain_transform
from mae_core.engine.pretrain_config import ModelConfig
from mae_core.engine.trainer import build_mae
from mae_core.models.flops import encoder_flops, pretrain_flops, vit_encoder_flops
from mae_core.targets.tokenizers.dvae import DVAE, save_dvae
from transfer.studies.ablation.report import summarize
from transfer.studies.ablation.rows import TABLES, Row, find_rows

ALL_ROWS = [r for t in TABLES for r in find_rows(t)]


@pytest.fixture(scope="module")
def token_files(tmp_path_factory):
    """Untrained tokenizer files in both formats (only shapes matter for building models)."""
    d = tmp_path_factory.mktemp("tokenizers")
    save_dvae(DVAE(1, 64, 8, 4), d / "dvae.pth")
    out = {"dvae": d / "dvae.pth"}
    try:
        from dall_e import Encoder
        torch.save(Encoder(n_hid=64, n_blk_per_group=1, vocab_size=512), d / "encoder.pkl")
        out["dalle"] = d / "encoder.pkl"
    except ImportError:
        pass
    return out


def with_tokenizer(cfg, token_files):
    if cfg.model.target == "dvae_token":
        kind = "dalle" if "dalle" in cfg.model.target_args else "dvae"
        if kind not in token_files:
            pytest.skip("dall-e is not installed")
        cfg.model.target_args = f"tokenizer={kind},path={token_files[kind]}"
    return cfg


def test_every_table_has_its_rows_and_one_default():
    counts = {t: len(find_rows(t)) for t in TABLES}
    assert counts == {"a": 5, "b": 5, "c": 2, "d": 5, "e": 4, "f": 4}
    for t in TABLES:
        assert sum(r.baseline for r in find_rows(t)) == 1
    # the paper's ablation default is pixels without normalisation; only table (d) changes the target
    for r in ALL_ROWS:
        if r.table != "d":
            assert r.load("small").model.target == "pixel" and r.load("full").model.target == "pixel"


@pytest.mark.parametrize("row", ALL_ROWS, ids=lambda r: r.key)
def test_small_config_builds_its_model_and_runs_a_step(row, token_files):
    cfg = with_tokenizer(row.load("small"), token_files)
    cfg.validate()
    model = build_mae(cfg.model)
    model.target.set_input_stats(cfg.data.mean, cfg.data.std)
    imgs = torch.randn(2, cfg.model.in_chans, cfg.model.img_size, cfg.model.img_size)
    if model.target.needs_fit:
        model.target.fit(imgs)
    loss, pred, mask = model(imgs)
    assert torch.isfinite(loss) and pred.shape == (2, 49, model.target.out_dim) and mask.shape == (2, 49)


@pytest.mark.parametrize("row", ALL_ROWS, ids=lambda r: r.key)
def test_full_scale_config_validates_and_builds_at_224(row, token_files):
    """The paper-scale row (ViT-L/16 at 224) validates; its model is built and run with the encoder swapped for
    ViT-Ti/16 (same 14x14 grid, so the same decoder, target, masking) to keep the test small."""
    cfg = with_tokenizer(row.load("full"), token_files)
    assert cfg.model.encoder == "vit_large_patch16" and cfg.train.epochs == 800
    cfg.validate()
    cfg.model.encoder = "vit_tiny_patch16"
    model = build_mae(cfg.model)
    assert len(model.decoder_blocks) == cfg.model.decoder_depth
    assert model.decoder_embed.out_features == cfg.model.decoder_embed_dim
    imgs = torch.randn(1, 3, 224, 224)
    if model.target.needs_fit:
        model.target.fit(torch.randn(4, 3, 224, 224))
    with torch.no_grad():
        loss, pred, _ = model(imgs)
    assert torch.isfinite(loss) and pred.shape == (1, 196, model.target.out_dim)


@pytest.mark.parametrize("width,heads,expect", [(96, 0, 3), (512, 0, 16), (48, 6, 6), (1024, 0, 32)])
def test_decoder_width_any_value_with_heads_derived_or_given(width, heads, expect):
    m = ModelConfig(encoder="vit_micro_patch4", img_size=32, patch_size=4, decoder_embed_dim=width,
                    decoder_num_heads=heads, decoder_depth=3)
    assert m.decoder_heads() == expect
    model = build_mae(m)
    assert model.decoder_blocks[0].attn.num_heads == expect and len(model.decoder_blocks) == 3


def test_mask_token_in_encoder_outputs_and_measured_flop_factor():
    base = load_config("configs/pretrain/demo.py", ["model.target=pixel"])
    withm = load_config("configs/pretrain/demo.py", ["model.target=pixel", "model.mask_token_in_encoder=true"])
    a, b = build_mae(base.model).eval(), build_mae(withm.model).eval()
    missing = b.load_state_dict(a.state_dict(), strict=False).missing_keys
    assert missing == ["encoder_mask_token"]                       # the same weights apart from the ablation's token
    imgs = torch.randn(2, 3, 28, 28)
    noise = torch.rand(2, 49)
    with torch.no_grad():
        (la, pa, ma), (lb, pb, mb) = a(imgs, noise=noise), b(imgs, noise=noise)
        assert pa.shape == pb.shape == (2, 49, 48) and torch.equal(ma, mb)
        # nothing removed: no mask token anywhere, so both encoders compute the same predictions
        assert torch.allclose(a(imgs, 0.0, noise)[1], b(imgs, 0.0, noise)[1], atol=1e-5)
        # with 75% removed the encoder's mask tokens change what the visible tokens attend to
        assert not torch.allclose(pa, pb, atol=1e-3) and la.item() != lb.item()
        b.mask_token.add_(torch.randn(b.mask_token.shape[-1]))       # the decoder's token is unused by (c) ...
        assert torch.equal(b(imgs, noise=noise)[1], pb)
        b.encoder_mask_token.add_(torch.randn(192))                 # ... the encoder's is what the model sees
        assert not torch.allclose(b(imgs, noise=noise)[1], pb, atol=1e-3)
    assert a.forward_encoder(imgs, 0.75)[0].shape == (2, 1 + 12, 192)   # visible tokens only
    assert b.forward_encoder(imgs, 0.75)[0].shape == (2, 1 + 49, 192)   # every position
    fa, fb = encoder_flops(a, 28, 3), encoder_flops(b, 28, 3)
    # the counter agrees with the analytic count, and the factor is the one the token counts give
    assert fa == vit_encoder_flops(192, 6, 13, 49, 48) and fb == vit_encoder_flops(192, 6, 50, 49, 48)
    assert fb / fa == pytest.approx(vit_encoder_flops(192, 6, 50, 49, 48) / vit_encoder_flops(192, 6, 13, 49, 48))
    assert 50 / 13 < fb / fa < (50 / 13) ** 2
    assert pretrain_flops(b, 28, 3) > 2 * pretrain_flops(a, 28, 3)


def test_four_augmentations():
    """Each setting is told apart by what it can and cannot produce from one colour image (seeded)."""
    import numpy as np
    from PIL import Image
    from torchvision import transforms as T
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (28, 28, 3), dtype=np.uint8))
    norm = T.Normalize((0.5,) * 3, (0.5,) * 3)
    big = norm(T.ToTensor()(T.Resize(32, interpolation=T.InterpolationMode.BICUBIC)(img)))   # fixed_crop's canvas
    windows = [w for i in range(5) for j in range(5) for w in (big[:, i:i + 28, j:j + 28],
                                                               big[:, i:i + 28, j:j + 28].flip(-1))]

    def outs(aug: str) -> list[torch.Tensor]:
        tf = build_pretrain_transform(28, aug, (0.5,) * 3, (0.5,) * 3)
        res = []
        for seed in range(8):
            torch.manual_seed(seed)
            res.append(tf(img))
        return res

    none, fixed, rrc, jit = (outs(a) for a in ("none", "fixed_crop", "random_resized_crop",
                                               "random_resized_crop_color_jitter"))
    assert all(x.shape == (3, 28, 28) for x in none + fixed + rrc + jit)
    # none: the image itself at every seed (28 px in, 28 px out, centre crop)
    assert all(torch.allclose(x, norm(T.ToTensor()(img)), atol=1e-6) for x in none)
    # fixed_crop: always an exact 28 px window (or its mirror) of the image resized to 32, and not always the same
    assert all(any(torch.equal(x, w) for w in windows) for x in fixed) and len({x.sum().item() for x in fixed}) > 1
    # random_resized_crop: the scale varies, so some crops are no window of that canvas
    assert not all(any(torch.allclose(x, w, atol=1e-4) for w in windows) for x in rrc)
    # colour jitter: from the same seeds, the colours differ from the crop-only setting (channel means move)
    assert all(not torch.allclose(a.mean((1, 2)), b.mean((1, 2)), atol=1e-3) for a, b in zip(rrc, jit))
    torch.manual_seed(3)
    assert torch.equal(build_pretrain_transform(28, "random_resized_crop", (0.5,) * 3, (0.5,) * 3)(img), rrc[3])


@pytest.mark.parametrize("overrides,setting", [
    (["model.decoder_embed_dim=100", "model.decoder_num_heads=16"], "model.decoder_num_heads"),
    (["model.decoder_embed_dim=100", "model.decoder_num_heads=0"], "model.decoder_num_heads"),
    (["model.decoder_depth=0"], "model.decoder_depth"),
    (["model.masking=block", "model.mask_ratio=0.99"], "model.mask_ratio"),
    (["model.target=dvae_token"], "model.target_args"),
    (["model.target=pixel", "model.target_args=components=8"], "model.target_args"),
    (["model.target=pca2"], "model.target"),
    (["data.augmentation=crop"], "data.augmentation"),
    (["data.crop_min_scale=0"], "data.crop_min_scale"),
    (["data.crop_min_scale=1.5"], "data.crop_min_scale"),
])
def test_bad_ablation_value_is_an_error_before_training(overrides, setting, tmp_path):
    with pytest.raises(ConfigError, match=setting.replace(".", r"\.")):
        load_config("configs/pretrain/demo.py", overrides)


def test_table_summary_relative_flops_and_seed_means():
    rows = [Row("x", "x1", "a", None, True, (1, 2)), Row("x", "x2", "b", None, False, ())]
    runs = [dict(row="x1", ft=80.0, lin=70.0, knn=60.0, pretrain_flops_per_image=100, pretrain_wall_s=10),
            dict(row="x1", ft=82.0, lin=72.0, knn=62.0, pretrain_flops_per_image=100, pretrain_wall_s=12),
            dict(row="x2", ft=75.0, lin=65.0, knn=55.0, pretrain_flops_per_image=330, pretrain_wall_s=30)]
    lines = summarize(rows, runs)
    assert lines[0]["ft"] == 81.0 and lines[0]["seeds"] == 2 and lines[0]["ft_std"] == pytest.approx(1.41, abs=0.01)
    assert lines[1]["relative_flops"] == 3.3 and lines[1]["seeds"] == 1


def test_decoder_width_rows_keep_the_heads_fixed_as_the_official_decoder():
    """Table 1(b): the official decoder keeps 16 heads at every width; the small scale keeps the demo decoder's 4.
    Only the width changes across the rows, and every width is divisible by its head count."""
    rows = find_rows("b")
    full_widths, small_widths = [], []
    for row in rows:
        full, small = row.load("full").model, row.load("small").model
        assert (full.decoder_heads(), small.decoder_heads()) == (16, 4), row.key
        assert full.decoder_embed_dim % 16 == 0 and small.decoder_embed_dim % 4 == 0, row.key
        assert full.decoder_embed_dim == 4 * small.decoder_embed_dim, row.key
        full_widths.append(full.decoder_embed_dim)
        small_widths.append(small.decoder_embed_dim)
        assert build_mae(small).decoder_blocks[0].attn.num_heads == 4
    assert full_widths == [128, 256, 512, 768, 1024] and small_widths == [32, 64, 128, 192, 256]


# file -> (epochs, the fine-tuning top-1 its docstring promises, the paper table that number belongs to)
PRETRAIN_PROMISES = {"mae_vit_base.py": (1600, "83.6", "Table 3"), "mae_vit_large.py": (1600, "85.9", "Table 3"),
                     "mae_vit_huge.py": (1600, "86.9", "Table 3"), "mae_vit_large_800ep.py": (800, "85.4", "Table 1d")}


@pytest.mark.parametrize("name", sorted(PRETRAIN_PROMISES))
def test_pretraining_configs_promise_the_number_of_the_epochs_they_set(name):
    """83.6 / 85.9 / 86.9 are Table 3's 1600-epoch results; 85.4 is Table 1d's 800-epoch ViT-L (normalised pixels)."""
    path = f"configs/pretrain/{name}"
    epochs, number, table = PRETRAIN_PROMISES[name]
    cfg = load_config(path)
    assert cfg.train.epochs == epochs and cfg.model.target == "norm_pixel"
    assert cfg.train.batch_size * cfg.train.accum_iter * 8 == 4096 and cfg.optim.base_lr == 1.5e-4
    assert cfg.optim.warmup_epochs == 40 and cfg.model.decoder_heads() == 16 and cfg.train.precision == "bf16"
    doc = open(path).read().split('"""')[1]
    assert f"{number}%" in doc and table in doc and f"{epochs} epochs" in doc


def test_ablation_rows_are_800_epoch_vit_l_runs():
    for r in ALL_ROWS:
        full = r.load("full")
        assert (full.model.encoder, full.train.epochs) == ("vit_large_patch16", 800), r.key
        if r.paper:   # a row with a paper number names the 800-epoch setting that number belongs to
            assert "800 epochs" in open(r.path).read().split('"""')[1], r.key
