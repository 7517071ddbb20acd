import pytest
import torch

from mae_core.models.masking import block_masking, build_mask_generator, grid_masking, num_kept, random_masking
from mae_core.models.patches import patchify, unpatchify


@pytest.mark.parametrize("shape,p", [((2, 3, 32, 32), 4), ((1, 3, 48, 32), 16), ((2, 1, 28, 28), 7)])
def test_unpatchify_inverts_patchify(shape, p):
    x = torch.randn(shape)
    grid = (shape[2] // p, shape[3] // p)
    y = patchify(x, p)
    assert y.shape == (shape[0], grid[0] * grid[1], p * p * shape[1])
    assert torch.equal(unpatchify(y, p, grid, shape[1]), x)


def test_patch_layout_matches_reference_order():
    # inside a patch the order is (row, column, channel): element [0, 1] of patch 0 is pixel (0, 1), channel 0
    x = torch.arange(2 * 4 * 4, dtype=torch.float32).reshape(1, 2, 4, 4)
    y = patchify(x, 2)
    assert y[0, 0].tolist() == [0, 16, 1, 17, 4, 20, 5, 21]


@pytest.mark.parametrize("length,ratio", [(49, 0.75), (196, 0.75), (64, 0.5), (10, 0.9), (16, 0.0)])
def test_random_masking_counts_and_restore(length, ratio):
    m = random_masking(4, length, ratio)
    keep = int(length * (1 - ratio))
    assert m.ids_keep.shape == (4, keep)
    assert torch.all(m.mask.sum(1) == length - keep)
    # the kept ids are exactly where mask == 0
    for i in range(4):
        assert set(m.ids_keep[i].tolist()) == set(torch.nonzero(m.mask[i] == 0).flatten().tolist())
    # ids_restore inverts the shuffle: unshuffling cat(kept, removed) gives back positions 0..L-1
    ids_shuffle = torch.argsort(m.ids_restore, dim=1)
    assert torch.equal(torch.gather(ids_shuffle, 1, m.ids_restore), torch.arange(length).expand(4, -1))


def test_noise_fixes_the_mask():
    noise = torch.rand(3, 49)
    a, b = random_masking(3, 49, 0.75, noise=noise), random_masking(3, 49, 0.75, noise=noise.clone())
    assert torch.equal(a.mask, b.mask) and torch.equal(a.ids_keep, b.ids_keep)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert torch.equal(random_masking(3, 49, 0.75, generator=g1).mask, random_masking(3, 49, 0.75, generator=g2).mask)
    assert not torch.equal(a.mask, random_masking(3, 49, 0.75).mask)


def test_bad_ratio_is_an_error():
    with pytest.raises(ValueError, match="mask ratio"):
        num_kept(49, 1.0)


def test_grid_masking_is_regular():
    m = grid_masking(2, (8, 8), 0.75)
    grid = m.mask[0].reshape(8, 8)
    assert int((grid == 0).sum()) == 16
    assert torch.all(grid[::2, ::2] == 0) and int(grid[1::2].sum()) == 32
    with pytest.raises(ValueError, match="grid masking"):
        grid_masking(1, (8, 8), 0.6)


def test_block_masking_count_and_contiguity():
    m = block_masking(6, (14, 14), 0.5, generator=torch.Generator().manual_seed(1))
    keep = num_kept(196, 0.5)
    assert torch.all((m.mask == 0).sum(1) == keep)
    # blocks are contiguous: most removed patches have a removed 4-neighbour (random scatter would give ~50%)
    grid = m.mask.reshape(6, 14, 14)
    nb = torch.zeros_like(grid)
    nb[:, 1:] += grid[:, :-1]
    nb[:, :-1] += grid[:, 1:]
    nb[:, :, 1:] += grid[:, :, :-1]
    nb[:, :, :-1] += grid[:, :, 1:]
    frac_with_neighbour = ((nb > 0) & (grid > 0)).sum() / grid.sum()
    assert frac_with_neighbour > 0.95


def test_generators_share_one_signature():
    for name in ("random", "grid", "block"):
        m = build_mask_generator(name)(2, (8, 8), 0.75, generator=torch.Generator().manual_seed(0))
        assert m.mask.shape == (2, 64) and m.ids_keep.shape == (2, 16)
