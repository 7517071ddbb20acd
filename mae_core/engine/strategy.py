"""Training strategies over torch.distributed: DDP, or FSDP2 (``fully_shard``) for models too large to replicate.

One checkpoint vocabulary for both, through ``torch.distributed.checkpoint.state_dict`` (parameter names without
wrapper prefixes, optimizer state keyed by those names):

- DDP (and one process) writes one file, ``checkpoint-last.pth`` = {"model", "optimizer", ...} of full tensors;
- FSDP writes a ``torch.distributed.checkpoint`` folder (``checkpoint-last.dcp/``, each rank its shards) and the
  run's small state (step, RNG, manifest) in ``extra.pt`` inside it.

Either kind resumes under either strategy and any world size (:func:`load_training_state`), and a folder becomes the
single-file layout every other tool reads with :func:`consolidate` (``read_state_dict`` does it on the fly).
"""
from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
import torch.nn as nn
from torch.distributed.checkpoint.state_dict import (
    StateDictOptions,
    get_model_state_dict,
    get_optimizer_state_dict,
    set_model_state_dict,
    set_optimizer_state_dict,
)
from torch.nn.parallel import DistributedDataParallel

logger = logging.getLogger(__name__)

STRATEGIES = ("ddp", "fsdp")
LAST_SHARDED, PREV_SHARDED = "checkpoint-last.dcp", "checkpoint-prev.dcp"
EXTRA = "extra.pt"
FULL = StateDictOptions(full_state_dict=True, cpu_offload=True)


def is_sharded_checkpoint(path: str | os.PathLike) -> bool:
    """True for a torch.distributed.checkpoint folder (it holds ``.metadata``)."""
    return Path(path).is_dir() and (Path(path) / ".metadata").exists()


def is_fully_sharded(model: nn.Module) -> bool:
    """True when `model` was sharded by :func:`wrap_model` with the fsdp strategy."""
    from torch.distributed.fsdp import FSDPModule

    return isinstance(model, FSDPModule)


def wrap_model(model: nn.Module, strategy: str, distributed: bool, bf16: bool = False,
               activation_checkpointing: bool = False) -> nn.Module:
    """-> the module the training step calls. One process: `model` itself. DDP: ``DistributedDataParallel``.
    FSDP: every transformer block (``blocks``, ``decoder_blocks``) and then the root sharded in place with
    ``fully_shard``; under bf16 the parameters are gathered in bf16 and gradients reduced in fp32."""
    if strategy not in STRATEGIES:
        raise ValueError(f"train.strategy={strategy!r}: expected one of {', '.join(STRATEGIES)}")
    if activation_checkpointing and hasattr(model, "set_grad_checkpointing"):
        model.set_grad_checkpointing(True)
    if not distributed:
        return model
    if strategy == "ddp":
        return DistributedDataParallel(model)
    from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

    policy = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) if bf16 else \
        MixedPrecisionPolicy()
    for name in ("blocks", "decoder_blocks"):
        for block in getattr(model, name, ()):
            fully_shard(block, mp_policy=policy)
    fully_shard(model, mp_policy=policy)
    return model


def training_state(model: nn.Module, optimizer: torch.optim.Optimizer, sharded: bool) -> dict:
    """{"model", "optimizer"} by parameter name: full CPU tensors (collective under FSDP: every rank calls it), or
    this rank's shards when `sharded`."""
    opts = StateDictOptions() if sharded else FULL
    return {"model": get_model_state_dict(model, options=opts),
            "optimizer": get_optimizer_state_dict(model, optimizer, options=opts)}


def save_sharded(folder: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer, extra: dict,
                 rank: int, keep_previous: str | os.PathLike | None = None) -> Path:
    """Writes a torch.distributed.checkpoint folder atomically (written beside, then renamed by rank 0); every rank
    calls it. `extra` (step, RNG, manifest: small) goes to ``extra.pt`` from rank 0. The folder it replaces becomes
    `keep_previous` when given (else it is deleted)."""
    folder = Path(folder)
    tmp = folder.with_name(folder.name + ".tmp")
    if rank == 0 and tmp.exists():
        shutil.rmtree(tmp)
    dist.barrier()
    dcp.save(training_state(model, optimizer, sharded=True), checkpoint_id=str(tmp))
    if rank == 0:
        torch.save(extra, tmp / EXTRA)
        old = Path(keep_previous) if keep_previous else folder.with_name(folder.name + ".old")
        if folder.exists():
            if old.exists():
                shutil.rmtree(old)
            folder.rename(old)
        tmp.rename(folder)
        if not keep_previous and old.exists():
            shutil.rmtree(old)
    dist.barrier()
    return folder


def load_optimizer_state(model: nn.Module, optimizer: torch.optim.Optimizer, state: dict) -> None:
    """Optimizer state by parameter name (what :func:`training_state` writes) or by index (``optimizer.state_dict()``
    of older checkpoints) into `optimizer`."""
    first = (state.get("param_groups") or [{}])[0].get("params") or [0]
    if isinstance(first[0], int):
        optimizer.load_state_dict(state)
    else:
        set_optimizer_state_dict(model, optimizer, state, options=StateDictOptions(full_state_dict=True))


def load_training_state(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None,
                        checkpoint: dict | None = None) -> dict:
    """Loads model (+ optimizer) state from a single file (or its already-read `checkpoint` dict) or a checkpoint
    folder into `model`, whatever the strategy and world size it was written with or runs with now -> the
    checkpoint's other entries (step, rng, ...). Raises ``RuntimeError`` naming the file and the names that differ."""
    path = Path(path)
    if is_sharded_checkpoint(path):
        state = training_state(model, optimizer, sharded=True) if optimizer is not None else \
            {"model": get_model_state_dict(model)}
        dcp.load(state, checkpoint_id=str(path))
        set_model_state_dict(model, state["model"])
        if optimizer is not None:
            set_optimizer_state_dict(model, optimizer, state["optimizer"])
        return torch.load(path / EXTRA, map_location="cpu", weights_only=False)
    ckpt = checkpoint if checkpoint is not None else torch.load(path, map_location="cpu", weights_only=False)
    ours = set(get_model_state_dict(model))   # names only: the same on every rank and strategy
    theirs = set(ckpt["model"])
    if ours != theirs:
        raise RuntimeError(f"{path}: the checkpoint's parameters differ from the model's: missing "
                           f"{sorted(ours - theirs)[:5]}, unexpected {sorted(theirs - ours)[:5]}")
    set_model_state_dict(model, ckpt["model"], options=StateDictOptions(full_state_dict=True))
    if optimizer is not None and ckpt.get("optimizer") is not None:
        load_optimizer_state(model, optimizer, ckpt["optimizer"])
    return {k: v for k, v in ckpt.items() if k not in ("model", "optimizer")}


def consolidate(folder: str | os.PathLike, out: str | os.PathLike | None = None) -> dict:
    """A checkpoint folder -> the single-file layout ({"model", "optimizer", step, rng, manifest, ...}) in memory,
    written atomically to `out` when given. Runs in one process, no process group needed."""
    from torch.distributed.checkpoint.format_utils import dcp_to_torch_save

    folder = Path(folder)
    if not is_sharded_checkpoint(folder):
        raise FileNotFoundError(f"{folder}: not a torch.distributed.checkpoint folder (no .metadata)")
    tmp = folder.with_name(folder.name + ".consolidated.tmp")
    dcp_to_torch_save(str(folder), str(tmp))
    state = torch.load(tmp, map_location="cpu", weights_only=False)
    tmp.unlink()
    state.update(torch.load(folder / EXTRA, map_location="cpu", weights_only=False))
    if out is not None:
        from mae_core.checkpoint.io import atomic_save
        atomic_save(state, out)
    return state
