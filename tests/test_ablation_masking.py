"""Mask sampling rows of Table 1(f): each strategy keeps the count it promises, and looks like what it claims."""
import math

import pytest
import torch

from mae_core.config import ConfigError, load_config
from mae_core.models.masking import block_masking, build_mask_generator, grid_masking, num_kept


def components(grid: torch.Tensor) -> int:
    """Number of 4-connected components of the True cells of a [h, w] bool grid."""
    seen, h, w, count = torch.zeros_like(grid), *grid.shape, 0
    for i in range(h):
        for j in range(w):
            if grid[i, j] and not seen[i, j]:
                count += 1
                stack = [(i, j)]
                while stack:
                    a, b = stack.pop()
                    if 0 <= a < h and 0 <= b < w and grid[a, b] and not seen[a, b]:
                        seen[a, b] = True
                        stack += [(a + 1, b), (a - 1, b), (a, b + 1), (a, b - 1)]
    return count


@pytest.mark.parametrize("name,ratio", [("random", 0.75), ("block", 0.5), ("block", 0.75), ("grid", 0.75),
                                        ("random", 0.6), ("block", 0.4), ("grid", 8 / 9)])
@pytest.mark.parametrize("grid", [(7, 7), (14, 14), (6, 9)])
def test_every_strategy_keeps_a_fixed_count_per_batch(name, ratio, grid):
    L = grid[0] * grid[1]
    m = build_mask_generator(name)(8, grid, ratio, generator=torch.Generator().manual_seed(3))
    keep = num_kept(L, ratio)
    if name == "grid":  # one patch per s x s cell; a partial cell at the border still keeps its corner
        s = round((1 / (1 - ratio)) ** 0.5)
        keep = math.ceil(grid[0] / s) * math.ceil(grid[1] / s)
    assert m.ids_keep.shape == (8, keep)
    assert torch.all((m.mask == 0).sum(1) == keep)
    # ids_keep lists exactly the visible patches, ids_restore inverts the shuffle
    for i in range(8):
        assert set(m.ids_keep[i].tolist()) == set((m.mask[i] == 0).nonzero().flatten().tolist())
    shuffle = torch.argsort(m.ids_restore, 1)
    assert torch.equal(torch.gather(shuffle, 1, m.ids_restore), torch.arange(L).expand(8, -1))


def test_block_masks_are_few_contiguous_blocks_random_masks_are_not():
    g = torch.Generator().manual_seed(0)
    block = block_masking(16, (14, 14), 0.5, generator=g).mask.reshape(16, 14, 14).bool()
    rand = build_mask_generator("random")(16, (14, 14), 0.5, generator=g).mask.reshape(16, 14, 14).bool()
    n_block = sum(components(b) for b in block) / 16
    n_rand = sum(components(r) for r in rand) / 16
    assert n_block <= 6 and n_rand > 3 * n_block


def test_block_masking_trims_the_last_block_to_the_exact_count():
    # 7x7 grid: 75% asks for exactly 49 - int(49 * 0.25) = 37 removed patches, which no set of whole
    # rectangles of area >= 16 hits by chance every time
    for seed in range(20):
        m = block_masking(1, (7, 7), 0.75, generator=torch.Generator().manual_seed(seed))
        assert int(m.mask.sum()) == 37


@pytest.mark.parametrize("s,grid", [(2, (8, 8)), (3, (9, 9)), (2, (14, 14))])
def test_grid_masking_is_a_regular_lattice(s, grid):
    m = grid_masking(3, grid, 1 - 1 / s ** 2)
    kept = (m.mask.reshape(3, *grid) == 0)
    expect = torch.zeros(grid, dtype=torch.bool)
    expect[::s, ::s] = True
    assert torch.equal(kept, expect.expand(3, -1, -1))


@pytest.mark.parametrize("overrides,names", [
    (["model.masking=block", "model.mask_ratio=0.99"], ["model.masking", "model.mask_ratio"]),
    (["model.masking=grid", "model.mask_ratio=0.5"], ["model.masking", "model.mask_ratio"]),
])
def test_unreachable_mask_ratio_is_a_config_error_naming_the_setting(overrides, names):
    with pytest.raises(ConfigError) as e:
        load_config("configs/pretrain/demo.py", overrides)
    assert all(n in str(e.value) for n in names)
