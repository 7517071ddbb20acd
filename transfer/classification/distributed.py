"""torch.distributed from torchrun's environment (gloo on CPU, nccl on GPU), and an exact evaluation sharder."""
from __future__ import annotations

import logging

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from mae_core.engine.distributed import DistInfo
from mae_core.engine.distributed import init_distributed as init_distributed_core

logger = logging.getLogger(__name__)


def init_distributed(timeout_min: float = 30.0) -> DistInfo:
    """-> the core's DistInfo (rank, world size, device), through its set-up (torchrun's or the SLURM launcher's
    environment; gloo / nccl; collectives time out after `timeout_min`)."""
    return init_distributed_core("auto", timeout_min)


def is_main() -> bool:
    return not dist.is_initialized() or dist.get_rank() == 0


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    if dist.is_initialized():
        dist.all_reduce(t)
    return t


class ShardSampler(Sampler):
    """Indices rank, rank + world, ...: every sample is evaluated exactly once across processes (no padding)."""

    def __init__(self, n: int, rank: int, world: int) -> None:
        self.indices = list(range(rank, n, world))

    def __iter__(self):
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
