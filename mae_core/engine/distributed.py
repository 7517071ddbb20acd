"""torch.distributed set-up from torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK); one process otherwise.

Collectives time out after ``timeout_min`` (a config key of each trainer: ``train.dist_timeout_min``), so a rank that
dies ends the job with its error instead of leaving the others waiting forever.
"""
from __future__ import annotations

import datetime
import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

logger = logging.getLogger(__name__)

@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str = "auto", timeout_min: float = 30.0) -> DistInfo:
    """Initialises the process group when launched by torchrun or the SLURM launcher (nccl on CUDA, gloo on the
    CPU), with collectives timing out after `timeout_min` minutes."""
    use_cuda = torch.cuda.is_available() if device == "auto" else device == "cuda"
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local)
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if world > 1 and not dist.is_initialized():
        if timeout_min <= 0:
            raise ValueError(f"the distributed timeout must be > 0 minutes, got {timeout_min}")
        dist.init_process_group(backend="nccl" if use_cuda else "gloo",
                                timeout=datetime.timedelta(minutes=timeout_min))
        logger.info("process group: rank %d of %d, %s, collective timeout %.1f min", rank, world,
                    dist.get_backend(), timeout_min)
    return DistInfo(rank, world, local, dev)


def all_reduce_mean(value: float, info: DistInfo) -> float:
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64, device=info.device)
    dist.all_reduce(t)
    return t.item() / info.world_size


def all_true(flag: bool, info: DistInfo) -> bool:
    """True only if `flag` is true on every rank (ranks must agree before skipping a step)."""
    if not info.enabled:
        return flag
    t = torch.tensor([0 if flag else 1], device=info.device)
    dist.all_reduce(t)
    return int(t.item()) == 0


def any_true(flag: bool, info: DistInfo) -> bool:
    """True if `flag` is true on any rank (e.g. a preemption signal seen by one process stops them all)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1 if flag else 0], device=info.device)
    dist.all_reduce(t)
    return int(t.item()) > 0


def agree(finite: bool, stop: bool, info: DistInfo) -> tuple[bool, bool]:
    """One collective per step -> (finite on every rank, stop asked on any rank)."""
    if not info.enabled:
        return finite, stop
    t = torch.tensor([0 if finite else 1, 1 if stop else 0], device=info.device)
    dist.all_reduce(t)
    return int(t[0].item()) == 0, int(t[1].item()) > 0
