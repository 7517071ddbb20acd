"""ViT fine-tuning steps on the CPU: bf16 autocast (``train.precision=bf16``) vs fp32, side by side in one run.

Both variants are the same classifier of the config (model size, input size, pooling, drop path, trained position
table; by default the transfer study's crop fine-tuning at its patch 8) from the same seed, trained as
transfer.classification.finetune trains it (AdamW over the layer-decay groups, the config's criterion) on the same
batches of normal noise (the content of an image does not change the cost of a step). A round times ``steps`` steps
of each variant after ``warmup`` untimed ones; variants alternate over ``rounds`` rounds and the best round of each
is kept (transfer.studies.bench.precision). The figure is training steps per second; the ratio is bf16's over fp32's.
"""
from __future__ import annotations

import copy
from dataclasses import asdict, dataclass

import torch

from transfer.studies.bench.precision import PrecisionBenchSpec, autocast_step, best_rates, config_path


@dataclass
class ClassifierBenchSpec(PrecisionBenchSpec):
    config: str = "configs/classification/transfer_study.py"
    batch: int = 0              # 0: the config's finetune.batch_size
    steps: int = 20
    warmup: int = 3
    patch: int = 8              # the study's ViT patch (there the pretraining checkpoint sets it)
    num_classes: int = 4        # the study's four classes


def run_classifier_bench(spec: ClassifierBenchSpec) -> dict:
    from mae_core.config import load_config
    from mae_core.engine.lr_decay import param_groups_lrd
    from mae_core.models.vit import create_vit
    from transfer.classification.finetune import criterion_for
    cfg = load_config(config_path(spec))
    f, batch, size = cfg.finetune, spec.batch or cfg.finetune.batch_size, cfg.data.input_size
    torch.manual_seed(0)
    base = create_vit(cfg.model.name, patch_size=spec.patch, img_size=size, num_classes=spec.num_classes,
                      global_pool=cfg.model.global_pool, drop_path_rate=cfg.model.drop_path,
                      learn_pos_embed=cfg.model.learn_pos_embed)
    criterion = criterion_for(cfg)
    data = [(torch.randn(batch, 3, size, size), torch.randint(spec.num_classes, (batch,)))
            for _ in range(spec.warmup + spec.steps)]
    variants = {}
    for name in ("fp32", "bf16"):
        model = copy.deepcopy(base).train()
        groups = param_groups_lrd(model, f.weight_decay, f.layer_decay, skip_names=model.no_weight_decay())
        variants[name] = (model, torch.optim.AdamW(groups, lr=1e-4))
    rates = best_rates({name: (lambda i, m=model, o=optim, bf16=name == "bf16":
                               autocast_step(o, lambda: criterion(m(data[i][0]), data[i][1]), bf16))
                        for name, (model, optim) in variants.items()}, spec)
    return {"what": "classifier", **asdict(spec), "batch": batch, "input_size": size,
            "threads": torch.get_num_threads(), **rates}
