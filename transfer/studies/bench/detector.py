"""Mask R-CNN training steps on the CPU: bf16 autocast (``train.amp.enabled``, transfer.detectron2.train's
CpuBf16Trainer) vs fp32, side by side in one run.

Both variants build the same LazyConfig model (by default the transfer study's detector with the 256-wide mask
head) from the same seed, with the same optimizer, and step on the same batches (drawn once from the config's own
train loader over composed 128 px scenes of Fashion-MNIST items, augmentations included). A round times ``steps``
steps of each variant after ``warmup`` untimed ones; variants alternate over ``rounds`` rounds and the best round of
each is kept (transfer.studies.bench.precision). The figure is training iterations per second; the ratio is bf16's
over fp32's.
"""
from __future__ import annotations

import copy
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from transfer.studies.bench.precision import PrecisionBenchSpec, autocast_step, best_rates, config_path


@dataclass
class DetectorBenchSpec(PrecisionBenchSpec):
    config: str = "configs/coco/transfer_study_mask_head4_256.py"
    batch: int = 4              # the study's detector batch
    num_scenes: int = 32
    workdir: str = ""           # where the scenes go (default: a temporary folder)


def _batches(cfg, n: int, workdir: Path, num_scenes: int) -> list:
    """`n` training batches from the config's train loader over freshly composed scenes."""
    from detectron2.config import instantiate

    from transfer.detectron2.data import register_coco
    from transfer.studies.scenes import make_fashion_coco
    paths = make_fashion_coco(workdir / "scenes", num_train=num_scenes, num_val=4, canvas=128, seed=0)
    name = f"bench_detector_train_{id(workdir)}"
    register_coco(name, paths["train"]["json"], paths["train"]["images"], work_dir=workdir)
    cfg.dataloader.train.dataset.names = name
    it = iter(instantiate(cfg.dataloader.train))
    return [next(it) for _ in range(n)]


def run_detector_bench(spec: DetectorBenchSpec) -> dict:
    from detectron2.config import LazyConfig, instantiate
    from detectron2.utils.events import EventStorage

    from transfer.detectron2.train import apply_overrides
    cfg = apply_overrides(LazyConfig.load(str(config_path(spec))), [f"dataloader.train.total_batch_size={spec.batch}",
                                                        "train.device=cpu"])
    with tempfile.TemporaryDirectory(dir=spec.workdir or None) as tmp:
        batches = _batches(cfg, spec.warmup + spec.steps, Path(tmp), spec.num_scenes)
    torch.manual_seed(0)
    base = instantiate(cfg.model)
    variants = {}
    for name in ("fp32", "bf16"):
        model = copy.deepcopy(base).train()
        cfg.optimizer.params.model = model
        variants[name] = (model, instantiate(cfg.optimizer))
    steps = {name: (lambda i, m=model, o=optim, bf16=name == "bf16":
                    autocast_step(o, lambda: sum(m(batches[i]).values()), bf16))
             for name, (model, optim) in variants.items()}
    with EventStorage():
        rates = best_rates(steps, spec)
    return {"what": "detector", **asdict(spec), "threads": torch.get_num_threads(), **rates}
