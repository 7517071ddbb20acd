"""ViT fine-tuning steps on the CPU: bf16 autocast (``train.precision=bf16``) vs fp32, side by side in one run.

Both variants are the same classifier of the config (model size, input size, pooling, drop path; by default the
transfer study's crop fine-tuning at its patch 8) from the same seed, trained with AdamW and label-smoothed cross
entropy on the same batches of normal noise (the content of an image does not change the cost of a step). A round
times ``steps`` steps of each variant after ``warmup`` untimed ones; variants alternate over ``rounds`` rounds and
the best round of each is kept. The figure is training steps per second; the ratio is bf16's over fp32's.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from transfer.studies.bench.rounds import best_rates

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class ClassifierBenchSpec:
    config: str = "configs/classification/transfer_study.py"
    patch: int = 8              # the study's ViT patch (there the pretraining checkpoint sets it)
    num_classes: int = 4        # the study's four classes
    batch: int = 0              # 0: the config's finetune.batch_size
    steps: int = 20             # timed steps per round and variant
    warmup: int = 3
    rounds: int = 2


def _step(model, optim, x, y, bf16: bool) -> None:
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = torch.nn.functional.cross_entropy(model(x), y, label_smoothing=0.1)
    optim.zero_grad()
    loss.backward()
    optim.step()


def run_classifier_bench(spec: ClassifierBenchSpec) -> dict:
    from mae_core.config import load_config
    from mae_core.models.vit import create_vit
    path = Path(spec.config) if Path(spec.config).is_file() else ROOT / spec.config
    if not path.is_file():
        raise FileNotFoundError(f"--config {spec.config}: no such config file")
    cfg = load_config(path)
    batch, size = spec.batch or cfg.finetune.batch_size, cfg.data.input_size
    torch.manual_seed(0)
    base = create_vit(cfg.model.name, patch_size=spec.patch, img_size=size, num_classes=spec.num_classes,
                      global_pool=cfg.model.global_pool, drop_path_rate=cfg.model.drop_path)
    data = [(torch.randn(batch, 3, size, size), torch.randint(spec.num_classes, (batch,)))
            for _ in range(spec.warmup + spec.steps)]
    variants = {}
    for name in ("fp32", "bf16"):
        model = copy.deepcopy(base).train()
        variants[name] = (model, torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.05))
    best = best_rates({name: (lambda i, m=model, o=optim, bf16=name == "bf16": _step(m, o, *data[i], bf16))
                       for name, (model, optim) in variants.items()}, spec.warmup, spec.steps, spec.rounds)
    return {"what": "classifier", **asdict(spec), "batch": batch, "input_size": size,
            "threads": torch.get_num_threads(), "fp32_its": round(best["fp32"], 3),
            "bf16_its": round(best["bf16"], 3), "ratio": round(best["bf16"] / best["fp32"], 3)}
