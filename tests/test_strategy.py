"""DDP and FSDP2 (fully_shard) on 2 gloo processes: the same update, checkpoints that resume across strategies and
world sizes, and a sharded checkpoint folder consolidated into the single-file layout."""
from __future__ import annotations

import importlib.util
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from mae_core.checkpoint.io import read_state_dict
from mae_core.engine.strategy import consolidate, is_sharded_checkpoint, load_training_state, wrap_model

ROOT = Path(__file__).resolve().parents[1]


def worker():
    """The torchrun worker module (its micro MAE builder), loaded by path: tests/ is not a package."""
    spec = importlib.util.spec_from_file_location("strategy_worker", ROOT / "tests/workers/strategy_worker.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("strategies")
    for a in ("ddp", "fsdp"):
        (out / a).mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1")
    r = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port",
                        str(free_port()), str(ROOT / "tests/workers/strategy_worker.py"), str(out)],
                       capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stderr[-4000:]
    return out


@pytest.mark.slow
def test_fsdp_update_equals_ddp(run):
    res = json.loads((run / "result.json").read_text())
    assert res["num_params"] > 40
    assert res["max_param_diff"] < 1e-6


@pytest.mark.slow
@pytest.mark.parametrize("pair", ["fsdp_to_ddp", "ddp_to_fsdp"])
def test_resume_across_strategies_gives_the_same_next_losses(run, pair):
    res = json.loads((run / "result.json").read_text())[pair]
    assert res["step"] == 2
    assert res["reference"][0] != res["reference"][1]            # it trains
    assert res["resumed"] == pytest.approx(res["reference"], rel=1e-6, abs=1e-7)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:torch.distributed is disabled:UserWarning")  # one process, on purpose
def test_sharded_folder_consolidates_and_loads_in_one_process(run, tmp_path):
    folder = run / "fsdp" / "ckpt.dcp"
    assert is_sharded_checkpoint(folder)
    single = consolidate(folder, tmp_path / "single.pth")
    assert single["step"] == 2 and set(single) >= {"model", "optimizer", "step"}
    ddp = torch.load(run / "ddp" / "ckpt.pth", map_location="cpu", weights_only=False)
    assert set(single["model"]) == set(ddp["model"])
    for k, v in ddp["model"].items():                             # the two runs hold the same weights at step 2
        assert torch.allclose(single["model"][k], v, atol=1e-6), k
    sd, _ = read_state_dict(folder)                               # every tool reads the folder as it is
    assert torch.equal(sd["decoder_pred.weight"], single["model"]["decoder_pred.weight"])
    # world size 2 -> 1: the folder loads straight into a one-process model and optimizer
    build = worker().build
    model = build(seed=7)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    extra = load_training_state(folder, wrap_model(model, "fsdp", distributed=False), opt)
    assert extra["step"] == 2
    assert torch.equal(model.state_dict()["blocks.0.attn.qkv.weight"], single["model"]["blocks.0.attn.qkv.weight"])
    assert len(opt.state) == sum(p.requires_grad for p in model.parameters())   # every trained tensor has moments


def test_unknown_strategy_and_mismatched_checkpoint_are_named(tmp_path):
    build = worker().build
    with pytest.raises(ValueError, match="train.strategy='zero3'"):
        wrap_model(build(0), "zero3", distributed=False)
    other = torch.nn.Linear(2, 2)
    torch.save({"model": other.state_dict(), "optimizer": None}, tmp_path / "other.pth")
    with pytest.raises(RuntimeError, match="other.pth.*missing"):
        load_training_state(tmp_path / "other.pth", build(0), None)


def _engine_worker(rank: int, world: int, data: str, jobs: list[tuple[str, str, int, int]]) -> None:
    """Runs the pretraining `jobs` ((output folder, strategy, steps, port)) one after the other in this rank; after
    each, rank 0 writes the folder's file names and whether it holds a sharded checkpoint folder to
    ``<folder>/files-after-<steps>.json``."""
    from mae_core.config import load_config, shipped_config
    from mae_core.engine.trainer import pretrain
    torch.set_num_threads(1)
    for out, strategy, steps, port in jobs:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                          LOCAL_RANK=str(rank))
        cfg = load_config(shipped_config("pretrain/smoke.py"), [
            f"data.path={data}", "train.log_every=1", "train.batch_size=4", f"train.max_steps={steps}",
            "train.device=cpu", f"train.strategy={strategy}", "train.save_every_steps=1", "train.vis_every_steps=0"])
        pretrain(cfg, out)
        if torch.distributed.is_initialized():
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()
        if rank == 0:
            files = sorted(p.name for p in Path(out).iterdir())
            sharded = is_sharded_checkpoint(Path(out) / "checkpoint-last.dcp")
            (Path(out) / f"files-after-{steps}.json").write_text(json.dumps({"files": files, "sharded": sharded}))


def _losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows}


@pytest.mark.slow
def test_engine_fsdp_run_resumes_under_ddp_with_the_same_next_losses(fashion_folder, tmp_path):
    """An FSDP reference run of 4 steps; an FSDP run of 2 steps (a sharded checkpoint folder) resumed under DDP to
    step 4 gives the reference's losses. The three runs go one after the other in one pair of processes."""
    import torch.multiprocessing as mp
    ref, run = tmp_path / "ref", tmp_path / "run"
    jobs = [(str(ref), "fsdp", 4, free_port()), (str(run), "fsdp", 2, free_port()), (str(run), "ddp", 4, free_port())]
    mp.spawn(_engine_worker, args=(2, str(fashion_folder), jobs), nprocs=2, join=True)
    after_fsdp = json.loads((run / "files-after-2.json").read_text())
    assert after_fsdp["sharded"] and "checkpoint-last.pth" not in after_fsdp["files"]
    ref_l, run_l = _losses(ref), _losses(run)
    assert [run_l[s] for s in (3, 4)] == pytest.approx([ref_l[s] for s in (3, 4)], rel=1e-5)
    assert (run / "checkpoint-last.pth").exists() and not (run / "checkpoint-last.dcp").exists()
    final = torch.load(ref / "checkpoint-final.pth", map_location="cpu", weights_only=False)
    assert final["manifest"]["step"] == 4 and "blocks.0.attn.qkv.weight" in final["model"]   # one file, full tensors
