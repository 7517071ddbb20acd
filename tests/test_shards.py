"""Tar shards: writing, streaming per rank and worker, determinism, mid-epoch resume, corrupt samples, the fast
JPEG decode, pretraining from shards, and the data benchmark at toy size."""
from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms as T

from mae_core.config import load_config
from mae_core.data.datasets import DataError, read_fashion_mnist
from mae_core.data.decode import READ_ERRORS, FastRandomResizedCrop, first_readable
from mae_core.data.shard_writer import main as make_shards_main
from mae_core.data.shard_writer import write_shards
from mae_core.data.shards import ShardDataset, expand_braces, resolve_shards, resume_plan
from mae_core.engine.trainer import pretrain


def _png(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def ident(data: bytes) -> torch.Tensor:
    """Test transform: the decoded pixels as floats (no augmentation) [1, 4, 4]."""
    return torch.from_numpy(np.asarray(Image.open(io.BytesIO(data)), dtype=np.float32))[None]


def write_id_shards(out: Path, n: int = 40, shard_size: int = 5, garbage: int = -1) -> Path:
    """n real Fashion-MNIST crops (4 x 4) as samples whose label is their id; sample `garbage` is not an image."""
    images, _ = read_fashion_mnist("train")
    samples = ((f"s{i:04d}", "png", b"not an image" if i == garbage else _png(images[i, 10:14, 10:14]), i)
               for i in range(n))
    write_shards(samples, n, out, shard_size)
    return out


def labels_of(ds: ShardDataset, epoch: int = 0, skip: int = 0, batch: int = 4, workers: int = 0) -> list[int]:
    return [int(x) for b in ds.loader(epoch, skip, batch, workers) for x in b[1]]


@pytest.fixture(scope="module")
def id_shards(tmp_path_factory) -> Path:
    return write_id_shards(tmp_path_factory.mktemp("ids"))


def test_index_and_sources(id_shards):
    index = json.loads((id_shards / "index.json").read_text())
    assert [s["count"] for s in index["shards"]] == [5] * 8 and index["total"] == 40
    by_pattern = resolve_shards(str(id_shards / "train-{000000..000007}.tar"))
    assert by_pattern.counts == [5] * 8 and by_pattern.paths == resolve_shards(str(id_shards)).paths
    assert expand_braces("a-{08..10}.tar") == ["a-08.tar", "a-09.tar", "a-10.tar"]
    with pytest.raises(DataError, match="train-000009.tar"):
        resolve_shards(str(id_shards / "train-{000000..000009}.tar"))


def test_ranks_and_workers_see_disjoint_samples_covering_the_epoch(id_shards):
    seen = []
    for rank in (0, 1):
        ds = ShardDataset(str(id_shards), ident, seed=3, rank=rank, world_size=2, shuffle=4)
        got = labels_of(ds, batch=4, workers=2)
        assert len(got) == 20 == ds.batches_per_rank(4) * 4
        seen.append(set(got))
    assert not seen[0] & seen[1] and seen[0] | seen[1] == set(range(40))


def test_same_seed_and_epoch_give_the_same_order(id_shards):
    ds = ShardDataset(str(id_shards), ident, seed=1, shuffle=8)
    a, b, c = labels_of(ds, 0, workers=2), labels_of(ds, 0, workers=2), labels_of(ds, 1, workers=2)
    assert a == b and a != c and sorted(a) == sorted(c) == list(range(40))
    # the augmentation of a sample is seeded by (seed, epoch, key), not by the worker that decodes it
    noisy = ShardDataset(str(id_shards), ident, seed=1, noise_len=6)
    n0 = {int(lab): nz for b in noisy.loader(0, 0, 4, 0) for lab, nz in zip(b[1], b[2])}
    n2 = {int(lab): nz for b in noisy.loader(0, 0, 4, 2) for lab, nz in zip(b[1], b[2])}
    assert all(torch.equal(n0[k], n2[k]) for k in n0)


@pytest.mark.parametrize("workers,batch", [(0, 4), (2, 3), (3, 4)])
@pytest.mark.filterwarnings("ignore:This DataLoader will create 3 worker processes:UserWarning")  # 3 on purpose
def test_resume_mid_epoch_gives_the_same_remaining_samples(id_shards, workers, batch):
    ds = ShardDataset(str(id_shards), ident, seed=5, shuffle=3)
    full = labels_of(ds, 2, batch=batch, workers=workers)
    for skip in (1, 3, ds.batches_per_rank(batch) - 1):
        assert labels_of(ds, 2, skip, batch=batch, workers=workers) == full[skip * batch:]


def test_resume_plan_replays_the_loader_order():
    # two workers with 5 and 3 samples in chunks of 2: order w0[0:2] w1[0:2] w0[2:4] w1[2:3] w0[4:5]
    assert resume_plan([5, 3], 2, 5) == (0, [3, 2])     # inside w0's 2nd chunk: w0 goes on first
    assert resume_plan([5, 3], 2, 6) == (1, [4, 2])
    assert resume_plan([5, 3], 2, 7) == (0, [4, 3])
    assert resume_plan([5, 3], 2, 0) == (0, [0, 0])


def test_corrupt_samples_are_skipped_and_counted_or_fatal_in_strict_mode(tmp_path):
    root = write_id_shards(tmp_path / "bad", garbage=7)
    shard = root / "train-000003.tar"
    shard.write_bytes(shard.read_bytes()[:3172])   # truncated inside its 2nd sample (2 KiB per sample)
    ds = ShardDataset(str(root), ident, seed=0, shuffle=1)
    got = labels_of(ds, batch=4)
    assert len(got) == 40 and 7 not in got and ds.skipped == 1 + 4   # garbage + the truncated shard's lost ones
    assert not {16, 17, 18, 19} & set(got)                           # lost samples; duplicates top up the epoch
    strict = ShardDataset(str(root), ident, seed=0, shuffle=1, strict=True)
    with pytest.raises(DataError, match=r"train-000001.tar key s0007|train-000003.tar after key s0015"):
        labels_of(strict, batch=4, workers=1)


def test_every_image_unreadable_is_said(tmp_path):
    for i in range(3):
        (tmp_path / f"{i}.jpg").write_bytes(b"garbage")
    with pytest.raises(DataError, match="every one of its 3 images is unreadable"):
        first_readable(sorted(tmp_path.glob("*.jpg")), where=str(tmp_path))
    cfg = load_config("configs/pretrain/smoke.py", [f"data.path={tmp_path}"])
    with pytest.raises(DataError, match=f"{tmp_path}: every one of its 3 images is unreadable"):
        pretrain(cfg, tmp_path / "out")


def _jpeg(size=(500, 375)) -> bytes:
    images, _ = read_fashion_mnist("train")
    tiles = [Image.fromarray(images[i]).resize((125, 125), Image.BICUBIC) for i in range(12)]
    canvas = Image.new("RGB", size)
    for k, t in enumerate(tiles):
        canvas.paste(Image.merge("RGB", (t, tiles[(k + 1) % 12], tiles[(k + 5) % 12])), ((k % 4) * 125, (k // 4) * 125))
    buf = io.BytesIO()
    canvas.save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def test_fast_decode_matches_torchvision_crop_and_flip():
    data = _jpeg()
    ref_tf = T.Compose([T.RandomResizedCrop(64, scale=(0.2, 1.0), interpolation=T.InterpolationMode.BICUBIC),
                        T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.5,) * 3, (0.25,) * 3)])
    for draft, tol in ((False, 0.02), (True, 0.1)):
        fast = FastRandomResizedCrop(64, (0.2, 1.0), mean=(0.5,) * 3, std=(0.25,) * 3, draft=draft)
        for seed in range(6):
            torch.manual_seed(seed)
            ref = ref_tf(Image.open(io.BytesIO(data)).convert("RGB"))
            torch.manual_seed(seed)
            ours = fast(data)
            assert ours.shape == ref.shape == (3, 64, 64)
            assert (ours - ref).abs().mean() < tol, (draft, seed, (ours - ref).abs().mean())


@pytest.mark.parametrize("fmt,mode,tol", [("PNG", "RGB", 1e-3), ("WEBP", "RGB", 1e-3), ("BMP", "RGB", 1e-3),
                                          ("JPEG", "L", 0.05)])
def test_fast_decode_other_formats_and_grey(fmt, mode, tol):
    """Formats torchvision decodes (PNG, WebP) and those only Pillow does (BMP) give torchvision's crop; a JPEG read
    as grey (libjpeg's luma, Pillow's conversion in the reference) is within a couple of grey levels."""
    buf = io.BytesIO()
    Image.open(io.BytesIO(_jpeg())).save(buf, format=fmt)
    data = buf.getvalue()
    c = 3 if mode == "RGB" else 1
    ref_tf = T.Compose([T.RandomResizedCrop(48, scale=(0.2, 1.0), interpolation=T.InterpolationMode.BICUBIC),
                        T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.5,) * c, (0.25,) * c)])
    fast = FastRandomResizedCrop(48, (0.2, 1.0), mean=(0.5,) * c, std=(0.25,) * c, mode=mode)
    for seed in range(3):
        torch.manual_seed(seed)
        ref = ref_tf(Image.open(io.BytesIO(data)).convert(mode))
        torch.manual_seed(seed)
        ours = fast(data)
        assert ours.shape == ref.shape == (c, 48, 48) and ours.is_contiguous()
        assert (ours - ref).abs().mean() < tol, (fmt, seed, (ours - ref).abs().mean())


def test_fast_decode_without_torchvision_decoders_uses_pillow(monkeypatch):
    """Where torchvision's image decoders are gone (deprecated in 0.29), Pillow decodes and only its crop is
    resized: the same pixels as torchvision's transforms."""
    from mae_core.data import decode
    monkeypatch.setattr(decode, "decode_image", None)
    data = _jpeg()
    ref_tf = T.Compose([T.RandomResizedCrop(40, scale=(0.2, 1.0), interpolation=T.InterpolationMode.BICUBIC),
                        T.RandomHorizontalFlip(), T.ToTensor(), T.Normalize((0.5,) * 3, (0.25,) * 3)])
    fast = FastRandomResizedCrop(40, (0.2, 1.0), mean=(0.5,) * 3, std=(0.25,) * 3, draft=False)
    for seed in range(3):
        torch.manual_seed(seed)
        ref = ref_tf(Image.open(io.BytesIO(data)).convert("RGB"))
        torch.manual_seed(seed)
        assert (fast(data) - ref).abs().mean() < 1e-3


def test_fast_decode_of_damaged_bytes_raises_a_read_error():
    """What the shard reader counts as a corrupt sample: Pillow's OSError, whichever decoder saw the bytes first."""
    data = _jpeg()
    fast = FastRandomResizedCrop(32)
    for cut in (len(data) // 2, 600, 40):
        with pytest.raises(READ_ERRORS):
            fast(data[:cut])
    with pytest.raises(ValueError, match="mode"):
        FastRandomResizedCrop(32, mode="CMYK")


def test_make_shards_tool_keeps_folder_labels(fashion_folder, tmp_path):
    assert make_shards_main(["--data-path", str(fashion_folder), "--output-dir", str(tmp_path / "s"),
                             "--shard-size", "10"]) == 0
    index = json.loads((tmp_path / "s/index.json").read_text())
    assert index["classes"] == ["class_0", "class_1", "class_2"] and index["total"] == 24
    ds = ShardDataset(str(tmp_path / "s"), ident_rgb, seed=0)
    got = sorted(int(x) for b in ds.loader(0, 0, 8, 0) for x in b[1])
    assert got == [0] * 8 + [1] * 8 + [2] * 8


def ident_rgb(data: bytes) -> torch.Tensor:
    return torch.zeros(1)


def test_pretrain_two_steps_from_shards(tmp_path):
    make_shards_main(["--data-path", "fashion-mnist", "--output-dir", str(tmp_path / "s"), "--shard-size", "16",
                      "--limit", "64"])
    cfg = load_config("configs/pretrain/smoke.py", [f"data.path={tmp_path / 's'}", "train.log_every=1",
                                                     "train.max_steps=2", "train.batch_size=8", "data.num_workers=2"])
    m = pretrain(cfg, tmp_path / "run")
    assert m["step"] == 2 and np.isfinite(m["final_loss"])


def test_data_benchmark_runs_at_toy_size(tmp_path):
    from transfer.studies.bench.data import DataBenchSpec, run_data_bench
    r = run_data_bench(DataBenchSpec(images=4, rounds=1, size=64, target_ips=3200, workdir=str(tmp_path)))
    assert r["ours_ips"] > 0 and r["baseline_ips"] > 0 and r["cores_needed_ours"] > 0
    assert r["ratio"] == pytest.approx(r["ours_ips"] / r["baseline_ips"], rel=1e-2)
