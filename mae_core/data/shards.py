"""Data sets as tar shards in the webdataset layout (``<key>.jpg`` or ``.png`` + ``<key>.cls`` per sample), written
atomically with an ``index.json`` (shard names, sample counts, classes) by :mod:`.shard_writer`, and streamed per
rank and loader worker here.

The stream of one epoch, for ``world`` processes and ``W`` loader workers:
- the shard list is shuffled by (seed, epoch); rank r takes shards r, r + world, ...; its worker w takes every W-th
  of those; each worker passes its samples (still encoded) through a shuffle buffer seeded by (seed, epoch, rank, w)
  and decodes them in chunks of ``batch`` samples (one message per chunk);
- the loader returns the chunks of the workers in turn; the main process cuts them into batches;
- every rank gives the same number of batches: ``samples_per_rank`` = the sum of the smallest floor(shards / world)
  shard counts (what any rank holds at least), cut to whole batches; the rest of a rank's shards is not read;
- a sample's augmentation and masking noise are seeded by (seed, epoch, key), not by who decodes it;
- resuming mid-epoch skips the first k samples (still encoded, not decoded) by replaying the order in which the
  loader takes chunks; exact while no corrupt sample came before the resume point in that epoch;
- a truncated shard or an undecodable image is skipped and counted, with the shard and key named; ``strict`` makes
  it a DataError. If corrupt samples leave a rank short of its batches, it tops up from the start of its stream.
"""
from __future__ import annotations

import json
import logging
import random
import re
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from mae_core.data.datasets import DataError
from mae_core.data.workers import ignore_stop_signals

logger = logging.getLogger(__name__)
INDEX = "index.json"
IMAGE_EXTS = ("jpg", "jpeg", "png", "webp", "ppm", "bmp")
_BRACE = re.compile(r"\{(\d+)\.\.(\d+)\}")


# ------------------------------------------------------------------------------------------------ finding shards
def expand_braces(pattern: str) -> list[str]:
    """'train-{000000..000002}.tar' -> ['train-000000.tar', 'train-000001.tar', 'train-000002.tar']."""
    m = _BRACE.search(pattern)
    if not m:
        return [pattern]
    lo, hi = m.group(1), m.group(2)
    if int(hi) < int(lo):
        raise DataError(f"shard pattern {pattern!r}: range {lo}..{hi} is empty")
    width = len(lo) if lo.startswith("0") else 0
    return [x for i in range(int(lo), int(hi) + 1)
            for x in expand_braces(pattern[:m.start()] + str(i).zfill(width) + pattern[m.end():])]


def is_shard_source(path: str) -> bool:
    """A folder holding index.json or .tar files, a .tar file, or a brace pattern of .tar files."""
    if not path:
        return False
    p = Path(path)
    if _BRACE.search(path) or path.endswith(".tar"):
        return True
    return p.is_dir() and ((p / INDEX).is_file() or (any(p.glob("*.tar")) and not any(p.rglob("*.jp*g"))))


def count_samples(path: Path) -> int:
    """Samples (distinct keys) in a tar shard, reading only its headers."""
    keys = set()
    try:
        with tarfile.open(path, "r") as tar:
            for m in tar:
                if m.isfile():
                    keys.add(m.name.split(".", 1)[0])
    except (tarfile.TarError, OSError, EOFError) as e:
        raise DataError(f"{path}: not a readable tar shard ({e})") from e
    return len(keys)


@dataclass
class ShardSet:
    paths: list[Path]
    counts: list[int]
    classes: list[str]


def resolve_shards(source: str) -> ShardSet:
    """A folder (with index.json, else every .tar in it), one .tar, or a brace pattern -> shard paths and counts
    (from index.json beside the shards where it lists them, else counted from the tar headers)."""
    p = Path(source)
    if p.is_dir():
        idx = p / INDEX
        if idx.is_file():
            try:
                index = json.loads(idx.read_text())
                entries = [(p / s["name"], int(s["count"])) for s in index["shards"]]
            except (OSError, ValueError, KeyError, TypeError) as e:
                raise DataError(f"{idx}: not a shard index (needs 'shards': [{{'name', 'count'}}]): {e}") from e
            missing = [str(x) for x, _ in entries if not x.is_file()]
            if missing:
                raise DataError(f"{idx}: lists shards that do not exist: {', '.join(missing[:5])}")
            return ShardSet([x for x, _ in entries], [c for _, c in entries], list(index.get("classes", [])))
        paths = sorted(p.glob("*.tar"))
    else:
        paths = [Path(x) for x in expand_braces(source)]
    if not paths:
        raise DataError(f"{source}: no .tar shards found")
    missing = [str(x) for x in paths if not x.is_file()]
    if missing:
        raise DataError(f"{source}: shard not found: {', '.join(missing[:5])}")
    listed, classes = {}, []
    idx = paths[0].parent / INDEX
    if idx.is_file():
        try:
            index = json.loads(idx.read_text())
            listed = {s["name"]: int(s["count"]) for s in index["shards"]}
            classes = list(index.get("classes", []))
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(f"{idx}: not a shard index: {e}") from e
    counts = [listed[x.name] if x.name in listed else count_samples(x) for x in paths]
    return ShardSet(paths, counts, classes)


# ------------------------------------------------------------------------------------------------ reading
def iter_tar(path: Path) -> Iterator[tuple[str, dict[str, bytes]]]:
    """(key, {extension: bytes}) of each sample of a shard, in order; a truncated shard raises tarfile.ReadError
    or EOFError after its last whole sample."""
    key, group = None, {}
    with tarfile.open(path, "r|*") as tar:
        for m in tar:
            if not m.isfile():
                continue
            k, _, ext = m.name.partition(".")
            f = tar.extractfile(m)
            data = f.read() if f is not None else b""
            if len(data) != m.size:
                raise tarfile.ReadError(f"member {m.name} truncated ({len(data)} of {m.size} bytes)")
            if k != key and key is not None:
                yield key, group
                group = {}
            key = k
            group[ext.lower()] = data
    if key is not None:
        yield key, group


def shuffle_buffer(items: Iterable, size: int, rng: random.Random) -> Iterator:
    """Items in a random order drawn from a buffer of `size` (size <= 1 keeps the order)."""
    if size <= 1:
        yield from items
        return
    buf = []
    for x in items:
        if len(buf) < size:
            buf.append(x)
            continue
        i = rng.randrange(size)
        yield buf[i]
        buf[i] = x
    rng.shuffle(buf)
    yield from buf


def chunk_sizes(count: int, chunk: int) -> list[int]:
    return [chunk] * (count // chunk) + ([count % chunk] if count % chunk else [])


def resume_plan(worker_counts: list[int], chunk: int, skip: int) -> tuple[int, list[int]]:
    """Where `skip` samples into the loader's order (chunks taken from the workers in turn, a worker leaving the
    turn when it has no chunk left) each worker stands -> (the worker whose chunk comes next, samples each worker
    skips)."""
    skipped = [0] * len(worker_counts)
    chunks = [chunk_sizes(c, chunk) for c in worker_counts]
    pos, rnd = 0, 0
    while pos < skip:
        active = False
        for w, cs in enumerate(chunks):
            if rnd >= len(cs):
                continue
            active = True
            take = min(cs[rnd], skip - pos)
            skipped[w] += take
            pos += take
            if pos >= skip:
                return (w if take < cs[rnd] else (w + 1) % len(chunks)), skipped
        if not active:
            break
        rnd += 1
    return 0, skipped


def _mix(*xs: int) -> int:
    h = 0
    for x in xs:
        h = (h * 1_000_003 + int(x)) % (2**61 - 1)
    return h


@dataclass
class Chunk:
    """What one worker sends: up to `batch` decoded samples, plus the corrupt ones it skipped."""
    images: torch.Tensor | None        # [n, C, H, W]
    labels: torch.Tensor                # [n]
    noise: torch.Tensor | None          # [n, noise_len]
    raw: int                            # samples of the stream this chunk covers (decoded + skipped)
    skipped: list[str]                  # "shard key: reason" of each skipped sample

    def pin_memory(self) -> Chunk:
        pin = (lambda t: None if t is None else t.pin_memory())
        return Chunk(pin(self.images), self.labels.pin_memory(), pin(self.noise), self.raw, self.skipped)


class ShardDataset(IterableDataset):
    """Streams samples from tar shards as chunks (see the module docstring); ``loader(...)`` gives the batches
    (images [B, C, H, W], labels [B], masking noise [B, noise_len] when noise_len > 0) of one epoch."""

    def __init__(self, source: str, transform: Callable[[bytes], torch.Tensor], seed: int = 0, noise_len: int = 0,
                 rank: int = 0, world_size: int = 1, shuffle: int = 1000, strict: bool = False) -> None:
        self.source, self.transform, self.strict = source, transform, strict
        s = resolve_shards(source)
        self.paths, self.counts, self.classes = s.paths, s.counts, s.classes
        self.seed, self.noise_len, self.shuffle = seed, noise_len, shuffle
        self.epoch, self.chunk, self.first_worker, self.worker_skip = 0, 1, 0, [0]
        self.skipped, self.skipped_names = 0, set()   # corrupt samples met (each counted once per epoch)
        self.configure(rank, world_size)

    def configure(self, rank: int, world_size: int) -> None:
        if len(self.paths) < world_size:
            raise DataError(f"{self.source}: {len(self.paths)} shards for {world_size} processes; each process needs "
                            "at least one (write more, smaller shards with tools/make_shards.py --shard-size)")
        self.rank, self.world_size = rank, world_size
        per_rank = len(self.paths) // world_size
        self.samples_per_rank = sum(sorted(self.counts)[:per_rank])

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.samples_per_rank

    def rank_shards(self) -> list[int]:
        """Indices of this rank's shards this epoch, in reading order."""
        order = list(range(len(self.paths)))
        random.Random(_mix(self.seed, self.epoch, 7)).shuffle(order)
        return order[self.rank::self.world_size]

    def worker_shards(self, worker: int, num_workers: int) -> list[int]:
        return self.rank_shards()[worker::num_workers]

    # -------------------------------------------------------------------------------------- inside a worker
    def raw_samples(self, shards: list[int]) -> Iterator[tuple[str, str, dict | None]]:
        """(shard name, key, {ext: bytes}) of each sample; a sample lost to truncation comes as (shard, '?', None)
        so that the stream keeps the count the index gives."""
        for s in shards:
            path, n, last, held = self.paths[s], 0, "(none)", None
            try:
                for key, group in iter_tar(path):  # a sample is given once the next one starts whole
                    if held is not None:
                        n, last = n + 1, held[0]
                        yield path.name, held[0], held[1]
                    held = (key, group)
                if held is not None and n + 1 < self.counts[s]:   # the last one may have lost members: drop it
                    raise EOFError(f"{n + 1} samples where the index says {self.counts[s]}")
                if held is not None:
                    n, last = n + 1, held[0]
                    yield path.name, held[0], held[1]
            except (tarfile.TarError, OSError, EOFError) as e:
                self._corrupt(f"{path} after key {last} ({n} samples read)", f"truncated or unreadable shard ({e})")
                for j in range(max(self.counts[s] - n, 0)):
                    yield path.name, f"(lost #{j + 1} after key {last})", None

    def _corrupt(self, where: str, reason: str) -> str:
        msg = f"{where}: {reason}"
        if self.strict:
            raise DataError(f"{msg} (data.strict=true)")
        logger.warning("skipping %s", msg)
        return msg

    def decode(self, shard: str, key: str, group: dict | None) -> tuple[torch.Tensor, int, torch.Tensor | None]:
        if group is None:
            raise ValueError("lost in a truncated shard")
        ext = next((e for e in IMAGE_EXTS if e in group), None)
        if ext is None:
            raise ValueError(f"no image ({'/'.join(IMAGE_EXTS)}) among {sorted(group)}")
        label = int(group["cls"].decode().strip()) if "cls" in group else -1
        with torch.random.fork_rng(devices=[]):
            # the CPU generator only (as in SeededDataset): no per-sample seeding of lazy devices
            torch.default_generator.manual_seed(_mix(self.seed, self.epoch, zlib.crc32(f"{shard}/{key}".encode())))
            img = self.transform(group[ext])
            noise = torch.rand(self.noise_len) if self.noise_len else None
        return img, label, noise

    def __iter__(self) -> Iterator[Chunk]:
        info = get_worker_info()
        nw, pw = (info.num_workers, info.id) if info else (1, 0)
        worker = (pw + self.first_worker) % nw
        stream = shuffle_buffer(self.raw_samples(self.worker_shards(worker, nw)), self.shuffle,
                                random.Random(_mix(self.seed, self.epoch, self.rank, worker)))
        skip = self.worker_skip[worker] if worker < len(self.worker_skip) else 0
        for _ in range(skip):
            if next(stream, None) is None:
                return
        first = self.chunk - skip % self.chunk if skip % self.chunk else self.chunk
        while True:
            items = [x for _, x in zip(range(first), stream)]
            if not items:
                return
            yield self._decode_chunk(items)
            first = self.chunk

    def _decode_chunk(self, items: list) -> Chunk:
        imgs, labels, noise, skipped = [], [], [], []
        for shard, key, group in items:
            try:
                img, label, nz = self.decode(shard, key, group)
            except (OSError, ValueError, SyntaxError) as e:
                if group is not None:
                    skipped.append(self._corrupt(f"{shard} key {key}", f"undecodable sample ({e})"))
                else:
                    skipped.append(f"{shard} key {key}: lost in a truncated shard")
                continue
            imgs.append(img)
            labels.append(label)
            noise.append(nz)
        return Chunk(torch.stack(imgs) if imgs else None, torch.tensor(labels, dtype=torch.long),
                     torch.stack(noise) if imgs and self.noise_len else None, len(items), skipped)

    # -------------------------------------------------------------------------------------- main process
    def batches_per_rank(self, batch_size: int) -> int:
        return self.samples_per_rank // batch_size

    def _chunks(self, batch_size: int, num_workers: int, skip: int, pin_memory: bool) -> Iterator[Chunk]:
        nw = max(num_workers, 1)
        counts = [sum(self.counts[s] for s in self.worker_shards(w, nw)) for w in range(nw)]
        self.chunk = batch_size
        self.first_worker, self.worker_skip = resume_plan(counts, batch_size, skip)
        loader = DataLoader(self, batch_size=None, num_workers=num_workers, pin_memory=pin_memory,
                            persistent_workers=False, worker_init_fn=ignore_stop_signals)
        it = iter(loader)
        try:
            yield from it
        finally:
            del it
            self.first_worker, self.worker_skip = 0, [0]

    def loader(self, epoch: int, skip_batches: int, batch_size: int, num_workers: int = 0,
               pin_memory: bool = False) -> Iterator[tuple[torch.Tensor, ...]]:
        """The batches of `epoch` on this rank after the first `skip_batches`: exactly
        batches_per_rank(batch_size) - skip_batches of them, each (images [B, C, H, W], labels [B][, noise])."""
        self.set_epoch(epoch)
        want = self.batches_per_rank(batch_size) - skip_batches
        skip, passes = skip_batches * batch_size, 0
        pending: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]] = []
        while want > 0:
            got_any = False
            for c in self._chunks(batch_size, num_workers, skip, pin_memory):
                self.skipped_names.update((epoch, x) for x in c.skipped)
                self.skipped = len(self.skipped_names)
                if c.images is None:
                    continue
                got_any = True
                pending.append((c.images, c.labels, c.noise))
                while want > 0 and sum(p[0].shape[0] for p in pending) >= batch_size:
                    yield self._take(pending, batch_size)
                    want -= 1
                if want == 0:
                    return
            if not got_any:
                raise DataError(f"{self.source}: every sample of this process's shards in epoch {epoch} is "
                                f"unreadable ({self.skipped} skipped)")
            passes, skip = passes + 1, 0
            logger.warning("%s: %d corrupt samples left rank %d short of its %d batches in epoch %d; topping up "
                           "from the start of its stream (pass %d)", self.source, self.skipped, self.rank,
                           self.batches_per_rank(batch_size), epoch, passes + 1)

    @staticmethod
    def _take(pending: list, n: int) -> tuple[torch.Tensor, ...]:
        parts, have = [], 0
        while have < n:
            imgs, labels, noise = pending[0]
            k = min(n - have, imgs.shape[0])
            parts.append((imgs[:k], labels[:k], None if noise is None else noise[:k]))
            have += k
            if k == imgs.shape[0]:
                pending.pop(0)
            else:
                pending[0] = (imgs[k:], labels[k:], None if noise is None else noise[k:])
        out = [torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])]
        if parts[0][2] is not None:
            out.append(torch.cat([p[2] for p in parts]))
        return tuple(out)

    def first_images(self, n: int) -> torch.Tensor:
        """The first `n` images of epoch 0 on this rank, decoded in this process -> [n, C, H, W]."""
        batches = self.loader(0, 0, 1, num_workers=0)
        return torch.cat([b[0] for _, b in zip(range(min(n, self.samples_per_rank)), batches)])
