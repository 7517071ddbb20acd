"""Run under torchrun (2 gloo processes): DDP vs FSDP updates and resume across strategies on a micro MAE.

    python -m torch.distributed.run --nproc_per_node 2 tests/workers/strategy_worker.py OUT_DIR
Writes OUT_DIR/result.json from rank 0.
"""
import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from mae_core.checkpoint.io import atomic_save
from mae_core.engine.strategy import load_training_state, save_sharded, training_state, wrap_model
from mae_core.models.mae import create_mae


def build(seed: int):
    torch.manual_seed(seed)
    return create_mae("vit_micro_patch4", decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2, img_size=16)


def batch(step: int, rank: int):
    g = torch.Generator().manual_seed(1000 * step + rank)
    return torch.randn(4, 3, 16, 16, generator=g), torch.rand(4, 16, generator=g)


def train(model, wrapped, opt, steps: range, rank: int) -> list[float]:
    losses = []
    for s in steps:
        imgs, noise = batch(s, rank)
        loss = wrapped(imgs, noise=noise)[0]
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        t = loss.detach().clone()
        dist.all_reduce(t)
        losses.append(t.item() / dist.get_world_size())
    return losses


def session(strategy: str, seed: int):
    model = build(seed)
    wrapped = wrap_model(model, strategy, distributed=True)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.95), weight_decay=0.05)
    return model, wrapped, opt


def save(strategy: str, model, opt, out: Path, rank: int) -> Path:
    extra = {"step": 2}
    if strategy == "fsdp":
        return save_sharded(out / "ckpt.dcp", model, opt, extra, rank)
    state = training_state(model, opt, sharded=False)
    if rank == 0:
        atomic_save({**state, **extra}, out / "ckpt.pth")
    dist.barrier()
    return out / "ckpt.pth"


def main(out: Path) -> None:
    dist.init_process_group("gloo")
    rank = dist.get_rank()
    result = {}
    # 1. one update from the same weights on the same data: DDP == FSDP
    params = {}
    for strategy in ("ddp", "fsdp"):
        model, wrapped, opt = session(strategy, seed=0)
        train(model, wrapped, opt, range(1), rank)
        params[strategy] = training_state(model, opt, sharded=False)["model"]
    if rank == 0:   # full state dicts are gathered on rank 0 only
        result["max_param_diff"] = max((params["ddp"][k] - params["fsdp"][k]).abs().max().item() for k in params["ddp"])
        result["num_params"] = len(params["ddp"])
    # 2. 2 steps under A, checkpoint, 2 steps (reference); then a new model under B resumes the checkpoint
    for a, b in (("fsdp", "ddp"), ("ddp", "fsdp")):
        model, wrapped, opt = session(a, seed=0)
        train(model, wrapped, opt, range(2), rank)
        path = save(a, model, opt, out / a, rank)
        reference = train(model, wrapped, opt, range(2, 4), rank)
        model, wrapped, opt = session(b, seed=123)       # other initial weights: all must come from the checkpoint
        extra = load_training_state(path, model, opt)
        resumed = train(model, wrapped, opt, range(2, 4), rank)
        result[f"{a}_to_{b}"] = {"reference": reference, "resumed": resumed, "step": extra["step"]}
    if rank == 0:
        (out / "result.json").write_text(json.dumps(result, indent=1))
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
