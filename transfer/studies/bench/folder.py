"""Pretraining on an image folder of one size, end to end: the in-memory tensor path vs per-image PIL crops.

Both variants run ``mae_core.engine.trainer.pretrain`` with the same recipe (by default the transfer study's,
configs/pretrain/transfer_study.py, at its pretraining size), the same images, model, batch, seed and precision;
only the input differs:
  - ``tensor``: ``data.tensor_augmentation`` with no loader worker: the folder decoded into memory once, then each
    batch cropped and flipped on tensors in the training process;
  - ``per_image``: the folder read through the per-image dataset (PIL decode + RandomResizedCrop + flip per image)
    in ``workers`` DataLoader workers, as the study ran before the tensor path covered folders.
The figure is the training loop's steps per second from the run's step log, between its first and last record;
the rest of the run's wall time (``setup_s``: set-up with the decoding into memory, the first ``log_every`` steps,
the final checkpoint) is reported on its own. Variants alternate over ``rounds`` rounds, the best round of each is
kept.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mae_core.config import shipped_config

VARIANTS = {"tensor": {"data.tensor_augmentation": True}, "per_image": {"data.tensor_augmentation": False}}


@dataclass
class FolderBenchSpec:
    config: str = "pretrain/transfer_study.py"   # a config file, or the name of a shipped one
    images: str = ""            # a folder of images of one size (default: scenes composed from Fashion-MNIST items)
    num_images: int = 1000      # scenes to compose when `images` is not given
    scene_size: int = 128
    img_size: int = 64          # the crops the model sees (the transfer study pretrains at 64 px)
    patch_size: int = 8
    batch: int = 64
    steps: int = 200
    rounds: int = 2
    workers: int = 1            # DataLoader workers of the per-image variant
    precision: str = "bf16"
    log_every: int = 20
    workdir: str = ""           # where runs (and composed scenes) go (default: a temporary folder)


def compose_folder(root: Path, num: int, size: int, seed: int = 0) -> Path:
    """`num` scenes of `size` px from Fashion-MNIST's train items -> ``root/*.png``."""
    from transfer.studies.scenes import compose_scenes, fashion_items, write_images
    write_images(compose_scenes(fashion_items("train"), num, size, seed=seed), root)
    return root


def loop_speed(log_jsonl: Path) -> tuple[float, float]:
    """A run's step log -> (steps per second between its first and last record, seconds between them)."""
    recs = [json.loads(line) for line in log_jsonl.read_text().splitlines() if line.strip()]
    recs = [r for r in recs if "step" in r and "time" in r]
    if len(recs) < 2:
        raise ValueError(f"{log_jsonl}: fewer than two step records; raise --steps or lower log_every")
    span = recs[-1]["time"] - recs[0]["time"]
    return (recs[-1]["step"] - recs[0]["step"]) / span, span


def run_variant(spec: FolderBenchSpec, variant: str, data: Path, out: Path) -> dict:
    """One pretraining run of `variant` -> steps_per_s (loop), loop_s, setup_s (the rest of the run's wall time:
    set-up, the first log_every steps, the final checkpoint)."""
    from mae_core.config import load_config
    from mae_core.engine.trainer import pretrain
    over = {"data.path": str(data), "model.img_size": spec.img_size, "model.patch_size": spec.patch_size,
            "train.batch_size": spec.batch, "train.max_steps": spec.steps, "train.epochs": 10 ** 6,
            "train.seed": 0, "train.precision": spec.precision, "train.log_every": spec.log_every,
            "train.vis_every_steps": 0, "data.num_workers": 0 if variant == "tensor" else spec.workers,
            **VARIANTS[variant]}
    t0 = time.perf_counter()
    config = spec.config if Path(spec.config).is_file() else shipped_config(spec.config)
    pretrain(load_config(config, over), out, resume=False)
    wall = time.perf_counter() - t0
    sps, loop_s = loop_speed(out / "log.jsonl")
    return {"steps_per_s": round(sps, 3), "images_per_s": round(sps * spec.batch, 1), "loop_s": round(loop_s, 1),
            "setup_s": round(wall - loop_s, 1), "wall_s": round(wall, 1)}


def run_folder_bench(spec: FolderBenchSpec) -> dict:
    """-> the spec, per variant its best round (steps/s of the loop, set-up s) and every round (`runs`), ratio
    tensor / per_image."""
    if spec.steps < 2 * spec.log_every:
        raise ValueError(f"--steps {spec.steps} < 2 x log_every ({spec.log_every}): no loop to time")
    tmp = None
    root = Path(spec.workdir) if spec.workdir else Path(tmp := tempfile.mkdtemp(prefix="folderbench-"))
    try:
        data = Path(spec.images) if spec.images else compose_folder(root / "scenes", spec.num_images,
                                                                    spec.scene_size)
        rounds = {v: [] for v in VARIANTS}
        for r in range(spec.rounds):
            for v in VARIANTS:
                rounds[v].append(run_variant(spec, v, data, root / f"{v}_{r}"))
                shutil.rmtree(root / f"{v}_{r}", ignore_errors=True)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)
    best = {v: max(rs, key=lambda x: x["steps_per_s"]) for v, rs in rounds.items()}
    return {**asdict(spec), "images_used": str(data) if spec.images else f"{spec.num_images} composed scenes",
            "best": best, "runs": rounds,
            "ratio": round(best["tensor"]["steps_per_s"] / best["per_image"]["steps_per_s"], 3)}
