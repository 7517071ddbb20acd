"""Which patches the encoder sees.

Every strategy returns a :class:`Masking` with the reference code's meaning: ``mask`` [N, L] is 1 where a patch is
removed, ``ids_keep`` [N, K] lists the visible patches (ascending noise order), ``ids_restore`` [N, L] undoes the
shuffle ``cat(kept, removed)``. Every sample of a batch keeps the same K, so the encoder's input is one tensor.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Masking:
    ids_keep: torch.Tensor     # [N, K] long
    ids_restore: torch.Tensor  # [N, L] long
    mask: torch.Tensor         # [N, L] float, 1 = removed


def num_kept(length: int, ratio: float) -> int:
    """The paper's count of visible patches: int(L * (1 - ratio))."""
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"mask ratio must be in [0, 1), got {ratio}")
    return int(length * (1 - ratio))


def masking_from_noise(noise: torch.Tensor, keep: int) -> Masking:
    """noise [N, L]: the `keep` patches of smallest noise stay visible."""
    ids_shuffle = torch.argsort(noise, dim=1)
    ids_restore = torch.argsort(ids_shuffle, dim=1)
    ids_keep = ids_shuffle[:, :keep]
    mask = torch.ones_like(noise, dtype=torch.float32)
    mask[:, :keep] = 0
    mask = torch.gather(mask, 1, ids_restore)
    return Masking(ids_keep, ids_restore, mask)


def random_masking(batch: int, length: int, ratio: float, noise: torch.Tensor | None = None,
                   generator: torch.Generator | None = None, device: torch.device | str | None = None) -> Masking:
    """The paper's per-sample random masking: argsort uniform noise, keep the first int(L*(1-ratio)).

    Pass ``noise`` [N, L] (or a ``generator``) to fix the mask.
    """
    if noise is None:
        noise = torch.rand(batch, length, generator=generator, device=device if generator is None else None)
        noise = noise.to(device) if device is not None else noise
    elif noise.shape != (batch, length):
        raise ValueError(f"noise has shape {tuple(noise.shape)}, expected {(batch, length)}")
    return masking_from_noise(noise, num_kept(length, ratio))


def masking_from_binary(mask: torch.Tensor, generator: torch.Generator | None = None) -> Masking:
    """mask [N, L] with the same number of zeros per row -> Masking (visible patches in random order)."""
    keep = int((mask[0] == 0).sum())
    if not torch.all((mask == 0).sum(1) == keep):
        raise ValueError("every sample must keep the same number of patches")
    tie = torch.rand(mask.shape, generator=generator).to(mask.device)
    return masking_from_noise(mask.float() * 2 + tie, keep)


def grid_masking(batch: int, grid: tuple[int, int], ratio: float, device=None) -> Masking:
    """Keeps the top-left patch of every s x s cell, with ratio = 1 - 1/s^2 (0.75 keeps one of every four).

    Every sample keeps ceil(h/s) * ceil(w/s) patches: exactly L / s^2 when s divides the grid; otherwise the border's
    partial cells keep their corner too (a 7x7 grid at 0.75 keeps 16 of 49, i.e. removes 67%).
    """
    s = round((1.0 / (1.0 - ratio)) ** 0.5) if ratio < 1 else 0
    if s < 1 or abs((1 - 1 / s ** 2) - ratio) > 1e-6:
        raise ValueError(f"grid masking needs ratio = 1 - 1/s^2 (0.75, 0.888..., ...), got {ratio}")
    h, w = grid
    rows = torch.arange(h).reshape(h, 1).expand(h, w)
    cols = torch.arange(w).reshape(1, w).expand(h, w)
    removed = ((rows % s != 0) | (cols % s != 0)).reshape(1, -1).float()
    noise = removed + torch.arange(h * w).reshape(1, -1) / (h * w * 2)  # kept first, in raster order
    return masking_from_noise(noise.expand(batch, -1).to(device), int((removed == 0).sum()))


def _one_block_mask(grid: tuple[int, int], target: int, min_area: int, gen: torch.Generator) -> torch.Tensor:
    """[h, w] bool with exactly `target` removed patches, as rectangles of random area and aspect (BEiT-style).

    Blocks are added until at least `target` patches are covered; the overshoot is taken back from the last block
    (its patches farthest from the block's first row), so every block but the last stays a full rectangle.
    """
    h, w = grid
    mask = torch.zeros(h, w, dtype=torch.bool)
    log_ar = (torch.log(torch.tensor(0.3)), torch.log(torch.tensor(1 / 0.3)))
    for _ in range(100 * h * w):
        covered = int(mask.sum())
        if covered >= target:
            break
        area = min_area + float(torch.rand(1, generator=gen)) * max(target - covered - min_area, 0)
        ar = torch.exp(log_ar[0] + torch.rand(1, generator=gen) * (log_ar[1] - log_ar[0])).item()
        bh = max(1, min(h, int(round((area * ar) ** 0.5))))
        bw = max(1, min(w, int(round((area / ar) ** 0.5))))
        top = int(torch.randint(0, h - bh + 1, (1,), generator=gen))
        left = int(torch.randint(0, w - bw + 1, (1,), generator=gen))
        new = torch.zeros_like(mask)
        new[top:top + bh, left:left + bw] = True
        new &= ~mask
        excess = covered + int(new.sum()) - target
        if excess > 0:  # take back the last `excess` new patches in raster order
            idx = new.flatten().nonzero().flatten()
            new.view(-1)[idx[len(idx) - excess:]] = False
        mask |= new
    if int(mask.sum()) != target:
        raise RuntimeError(f"block masking could not cover {target} of {h * w} patches")
    return mask


def block_masking(batch: int, grid: tuple[int, int], ratio: float, generator: torch.Generator | None = None,
                  device=None, min_area: int = 16) -> Masking:
    """BEiT-style block-wise masking with exactly L - int(L(1 - ratio)) removed patches per sample."""
    h, w = grid
    keep = num_kept(h * w, ratio)
    if keep < 1:
        raise ValueError(f"block masking at ratio {ratio} leaves no visible patch on a {h}x{w} grid")
    target = h * w - keep
    gen = generator if generator is not None else torch.Generator().manual_seed(int(torch.randint(0, 2**31, (1,))))
    masks = torch.stack([_one_block_mask(grid, target, min(min_area, target), gen).flatten() for _ in range(batch)])
    m = masking_from_binary(masks.float(), generator=gen)
    return m if device is None else Masking(m.ids_keep.to(device), m.ids_restore.to(device), m.mask.to(device))


MASKINGS = ("random", "block", "grid")


def build_mask_generator(name: str):
    """name -> f(batch, grid, ratio, noise=None, device=None, generator=None) -> Masking."""
    if name not in MASKINGS:
        raise ValueError(f"unknown masking {name!r}; known: {', '.join(MASKINGS)}")

    def generate(batch: int, grid: tuple[int, int], ratio: float, noise: torch.Tensor | None = None,
                 device=None, generator: torch.Generator | None = None) -> Masking:
        if name == "random":
            return random_masking(batch, grid[0] * grid[1], ratio, noise=noise, generator=generator, device=device)
        if noise is not None:
            raise ValueError(f"'{name}' masking takes a generator, not noise")
        if name == "grid":
            return grid_masking(batch, grid, ratio, device=device)
        return block_masking(batch, grid, ratio, generator=generator, device=device)
    return generate


def validate_masking(name: str, grid: tuple[int, int], ratio: float) -> None:
    """Raises ValueError naming the setting when a strategy cannot produce `ratio` on `grid` (before training)."""
    try:
        build_mask_generator(name)(1, grid, ratio, generator=torch.Generator().manual_seed(0))
    except (ValueError, RuntimeError) as e:
        raise ValueError(f"model.masking={name!r} with model.mask_ratio={ratio}: {e}") from None
