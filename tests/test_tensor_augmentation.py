"""data.tensor_augmentation: the random resized crop + flip of in-memory images on tensors, a batch at a time."""
import numpy as np
import pytest
import torch
from torchvision import transforms as T
from torchvision.transforms import InterpolationMode
from torchvision.transforms.v2 import functional as F2

from mae_core.config import load_config, shipped_config
from mae_core.data.datasets import ArrayImageDataset, SeededDataset
from mae_core.data.transforms import TensorCropFlip, random_resized_crop_params
from mae_core.engine.trainer import build_pretrain_dataset

MEAN, STD = (0.3, 0.4, 0.5), (0.2, 0.25, 0.3)


def _images(n: int = 6, size: int = 12) -> np.ndarray:
    rng = np.random.default_rng(0)
    return rng.integers(0, 256, size=(n, size, size), dtype=np.uint8)


def _normalised(imgs: torch.Tensor) -> torch.Tensor:
    """uint8 grey [B, 1, H, W] -> replicated to 3 channels, each normalised with its own mean / std."""
    return (imgs.float().div(255).expand(-1, 3, -1, -1) - torch.tensor(MEAN).view(1, 3, 1, 1)) \
        / torch.tensor(STD).view(1, 3, 1, 1)


def test_whole_image_draw_is_the_normalised_image_and_a_flip_mirrors_it():
    tf = TensorCropFlip(12, 0.35, MEAN, STD, channels=3)
    imgs = torch.from_numpy(_images()).unsqueeze(1)                                 # [6, 1, 12, 12] grey
    out = tf.apply(imgs[:2], [(0, 0, 12, 12, False), (0, 0, 12, 12, True)])
    assert out.shape == (2, 3, 12, 12) and out.dtype == torch.float32
    want = _normalised(imgs[:2])
    torch.testing.assert_close(out[0], want[0])
    torch.testing.assert_close(out[1], want[1].flip(-1))
    part = tf.apply(imgs[:1], [(2, 3, 6, 6, False)])                               # a quarter, enlarged twice:
    assert part.shape == (1, 3, 12, 12) and not torch.allclose(part, want[:1])     # the crop's content, not the whole
    torch.testing.assert_close(part[..., ::2, ::2].mean(), want[0, :, 2:8, 3:9].mean(), atol=0.15, rtol=0)


def test_draws_follow_torchvision_random_resized_crop():
    tf = TensorCropFlip(28, 0.35, MEAN, STD, channels=3)
    torch.manual_seed(0)
    draws = [tf.draw(28, 28) for _ in range(300)]
    areas = np.array([h * w / 28 ** 2 for _, _, h, w, _ in draws])
    assert areas.min() >= 0.3 and areas.max() <= 1.0 and areas.mean() == pytest.approx(0.675, abs=0.06)
    assert all(0 <= i <= 28 - h and 0 <= j <= 28 - w for i, j, h, w, _ in draws)
    assert 0.4 < np.mean([f for *_, f in draws]) < 0.6


@pytest.mark.parametrize("height,width", [(12, 12), (28, 28), (12, 20), (30, 20), (10, 40), (20, 24), (24, 20)])
def test_no_crop_params_are_torchvision_outcome_without_its_draws(height, width):
    """Scale range (1, 1): the crop torchvision falls back to (whole image, or its centre at a ratio within 3/4 to
    4/3), with no random number drawn; torchvision's rare successful try on a non-square image is a pixel smaller."""
    torch.manual_seed(0)
    theirs = {tuple(T.RandomResizedCrop.get_params(torch.empty(1, height, width), [1.0, 1.0], [3 / 4, 4 / 3]))
              for _ in range(100)}
    state = torch.get_rng_state()
    ours = random_resized_crop_params(height, width, (1.0, 1.0))
    assert torch.equal(torch.get_rng_state(), state) and ours in theirs
    if height == width or not 3 / 4 <= width / height <= 4 / 3:
        assert theirs == {ours}
    assert all(abs(h - ours[2]) <= 1 and abs(w - ours[3]) <= 1 for _, _, h, w in theirs)


def test_no_crop_draws_only_the_flip_and_keeps_the_image():
    """crop_min_scale 1.0: one random number per draw (the flip); the whole image, only flipped and normalised (the
    resize it skips would have returned it unchanged)."""
    tf = TensorCropFlip(12, 1.0, MEAN, STD, channels=3)
    torch.manual_seed(0)
    draws = [tf.draw(12, 12) for _ in range(200)]
    torch.manual_seed(0)
    assert [d[4] for d in draws] == [bool(torch.rand(()) < 0.5) for _ in range(200)]
    assert {d[:4] for d in draws} == {(0, 0, 12, 12)} and 0.35 < np.mean([d[4] for d in draws]) < 0.65
    imgs = torch.from_numpy(_images()).unsqueeze(1)
    out = tf.apply(imgs[:2], [draws[0][:4] + (False,), draws[0][:4] + (True,)])
    resized = F2.resized_crop(imgs[0], 0, 0, 12, 12, [12, 12], interpolation=InterpolationMode.BICUBIC, antialias=True)
    assert torch.equal(resized, imgs[0])
    want = _normalised(imgs[:2])
    torch.testing.assert_close(out[0], want[0])
    torch.testing.assert_close(out[1], want[1].flip(-1))


def test_seeded_batches_equal_the_samples_alone_whatever_the_batch():
    """Each sample's crop, flip and masking noise come from (seed, epoch, index): the batched fetch of any
    indices equals fetching them one by one, so worker counts and resumes see the same samples."""
    ds = SeededDataset(ArrayImageDataset(_images(), np.arange(6), batch_transform=TensorCropFlip(
        8, 0.35, MEAN, STD, channels=3)), seed=3, noise_len=4)
    ds.set_epoch(2)
    batch = ds.__getitems__([4, 1, 5])
    for (img, label, noise), i in zip(batch, [4, 1, 5]):
        alone = ds[i]
        torch.testing.assert_close(img, alone[0])
        torch.testing.assert_close(noise, alone[2])
        assert label == alone[1] == i and img.shape == (3, 8, 8)
    assert not torch.equal(batch[0][0], ds.__getitems__([1])[0][0])
    ds.set_epoch(3)
    assert not torch.equal(batch[0][0], ds[4][0])                                  # another epoch, another crop


def test_tensor_augmentation_applies_to_in_memory_data_with_the_random_resized_crop_only(tmp_path):
    """Where it cannot apply (another augmentation) the per-image path runs; the ablation rows keep the per-image
    path in every row, so Table 1(e) compares augmentations, not implementations."""
    from transfer.studies.ablation.rows import Row, default_rows_dir
    ok = load_config(shipped_config("pretrain/demo.py"))
    assert ok.data.tensor_augmentation and isinstance(build_pretrain_dataset(ok).batch_transform, TensorCropFlip)
    other = load_config(shipped_config("pretrain/demo.py"), ["data.augmentation=fixed_crop"])
    assert build_pretrain_dataset(other).batch_transform is None
    for stem in ("e1_none", "e3_random_crop", "d2_norm_pixel"):
        path = default_rows_dir() / f"{stem}.py"
        assert not Row(stem[0], stem, stem, path, False, ()).load("small").data.tensor_augmentation


def test_an_image_folder_of_one_size_is_decoded_into_memory_and_cropped_on_tensors(fashion_folder, monkeypatch):
    """A folder (class sub-folders, one size) -> its decoded images in memory, labels and classes kept, cropped in
    batches; images of two sizes, or more than the memory limit, take the per-image path."""
    from PIL import Image

    from mae_core.data.datasets import ImageFolderDataset
    from mae_core.engine import trainer
    cfg = load_config(shipped_config("pretrain/demo.py"), [f"data.path={fashion_folder}"])
    ds = build_pretrain_dataset(cfg)
    folder = ImageFolderDataset(fashion_folder)
    assert isinstance(ds, ArrayImageDataset) and isinstance(ds.batch_transform, TensorCropFlip)
    assert ds.images.shape == (len(folder), 32, 32, 3) and ds.classes == folder.classes
    assert ds.labels.tolist() == folder.labels
    assert np.array_equal(ds.images[5], np.asarray(folder.load(5)))
    batch = SeededDataset(ds, seed=0).__getitems__([0, 9, 20])
    assert [b[0].shape for b in batch] == [(3, cfg.model.img_size, cfg.model.img_size)] * 3
    assert [b[1] for b in batch] == [folder.labels[i] for i in (0, 9, 20)]
    monkeypatch.setattr(trainer, "IN_MEMORY_LIMIT_BYTES", 32 * 32 * 3 * len(folder) - 1)
    assert isinstance(build_pretrain_dataset(cfg), ImageFolderDataset)
    monkeypatch.undo()
    folder.files[2].write_bytes(b"not an image")                          # skipped, the others' labels kept
    skipped = build_pretrain_dataset(cfg)
    assert len(skipped.images) == len(folder) - 1
    assert skipped.labels.tolist() == folder.labels[:2] + folder.labels[3:]
    assert np.array_equal(skipped.images[2], np.asarray(folder.load(3)))
    Image.open(folder.files[3]).resize((20, 20)).save(folder.files[3])
    assert isinstance(build_pretrain_dataset(cfg), ImageFolderDataset)
