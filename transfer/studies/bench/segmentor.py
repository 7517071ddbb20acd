"""UperNet training steps on the CPU: bf16 autocast (``AmpOptimWrapper`` as transfer.mmseg.train runs it there:
CpuBf16OptimWrapper) vs fp32 (OptimWrapper), side by side in one run.

Both variants build the same mmseg model of the config (by default the transfer study's UperNet) from the same seed,
with the config's optimizer (layer decay included), and step on the same batches (drawn once from the config's own
train pipeline over composed 128 px ADE-style scenes of Fashion-MNIST items, augmentations included). A round times
``steps`` steps of each variant after ``warmup`` untimed ones; variants alternate over ``rounds`` rounds and the best
round of each is kept (transfer.studies.bench.precision). The figure is training iterations per second; the ratio is
bf16's over fp32's.
"""
from __future__ import annotations

import copy
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from transfer.studies.bench.precision import PrecisionBenchSpec, best_rates, config_path

WRAPPERS = {"fp32": "OptimWrapper", "bf16": "CpuBf16OptimWrapper"}


@dataclass
class SegmentorBenchSpec(PrecisionBenchSpec):
    config: str = "configs/ade20k/transfer_study_last_block.py"
    batch: int = 8              # the study's UperNet batch
    num_scenes: int = 32
    workdir: str = ""           # where the scenes go (default: a temporary folder)


def _batches(cfg, n: int, batch: int) -> list:
    """`n` training batches of `batch` samples through the config's train pipeline (pseudo-collated, as mmengine's
    loader gives them to ``train_step``)."""
    from mmengine.dataset import pseudo_collate
    from mmseg.registry import DATASETS
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    g = torch.Generator().manual_seed(0)
    return [pseudo_collate([dataset[int(i)] for i in torch.randint(len(dataset), (batch,), generator=g)])
            for _ in range(n)]


def run_segmentor_bench(spec: SegmentorBenchSpec) -> dict:
    from mmengine.optim import build_optim_wrapper
    from mmengine.registry import init_default_scope
    from mmseg.registry import MODELS

    from transfer.mmseg.train import AdeJob, build_config
    from transfer.studies.scenes import make_fashion_ade
    path = config_path(spec)
    with tempfile.TemporaryDirectory(dir=spec.workdir or None) as tmp:
        make_fashion_ade(tmp, num_train=spec.num_scenes, num_val=2)
        cfg = build_config(AdeJob(config=str(path), data_path=tmp, output_dir=str(Path(tmp) / "run"), num_classes=10,
                                  overrides={"optim_wrapper.type": "OptimWrapper",
                                             "train_dataloader.batch_size": spec.batch}))
        init_default_scope("mmseg")
        batches = _batches(cfg, spec.warmup + spec.steps, spec.batch)
    torch.manual_seed(0)
    base = MODELS.build(cfg.model)
    base.init_weights()
    variants = {}
    for name, wrapper in WRAPPERS.items():
        model = copy.deepcopy(base).train()
        variants[name] = (model, build_optim_wrapper(model, {**cfg.optim_wrapper, "type": wrapper}))
    rates = best_rates({name: (lambda i, m=model, w=wrapper: m.train_step(batches[i], w))
                        for name, (model, wrapper) in variants.items()}, spec)
    return {"what": "segmentor", **asdict(spec), "threads": torch.get_num_threads(), **rates}
