"""Runs an ablation table: for every row (and seed) pretrain, then fine-tune (ft) and linear-probe (lin) the
encoder; each row is a resumable job (a row whose result.json exists is skipped; its pretraining resumes).

Small scale: Fashion-MNIST and the demo ViT on a CPU, a fixed step budget (``SmallBudget``). Full scale: the
paper's configs (ViT-L, ImageNet); only pretraining and FLOPs are run here, ft/lin come from the classification
transfer on the written checkpoints.
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.checkpoint.pretrained import load_encoder
from mae_core.config import ConfigError, apply_overrides, to_dict
from mae_core.data.datasets import ArrayImageDataset, read_fashion_mnist
from mae_core.data.transforms import build_eval_transform
from mae_core.engine.pretrain_config import PretrainConfig
from mae_core.engine.trainer import build_mae, pretrain, save_initial_checkpoint
from mae_core.models.flops import pretrain_flops
from mae_core.overrides import Overrides, split_overrides
from mae_core.targets.base import parse_target_args
from transfer.classification.features import extract_features
from transfer.classification.probe import CACHED_SOLVERS
from transfer.studies.ablation.report import write_table
from transfer.studies.ablation.rows import Row, find_rows
from transfer.studies.probe_eval import probe_and_knn

logger = logging.getLogger(__name__)


@dataclass
class SmallBudget:
    """What one small-scale row costs: pretraining steps and batch, fine-tuning steps, probe data."""
    pretrain_steps: int = 300
    batch_size: int = 64
    base_lr: float = 1.5e-3        # lr = base_lr * batch / 256 (10x the paper's, for a short run)
    warmup_steps: int = 20
    ft_steps: int = 100
    ft_batch: int = 64
    probe_train: int = 5000        # first N train images for the linear probe / k-NN features
    probe_test: int = 2000         # first N test images for lin, k-NN and ft
    target_fit_images: int = 512   # images the PCA basis is fitted on
    threads: int = 1               # torch CPU threads; 1 avoids OpenMP spin-waits on a busy machine
    probe_solver: str = "lbfgs"    # the lin column's solver (transfer.classification.probe): 'lbfgs' or 'fast'

    def __post_init__(self) -> None:
        if self.probe_solver not in CACHED_SOLVERS:
            raise ConfigError(f"probe_solver must be one of {CACHED_SOLVERS} (cached features), got "
                              f"{self.probe_solver!r}")

    def overrides(self, seed: int) -> dict[str, Any]:
        """The pretraining config's settings for this budget (typed values, for ``apply_overrides``)."""
        steps_per_epoch = 60000 // self.batch_size
        return {"train.max_steps": self.pretrain_steps, "train.batch_size": self.batch_size, "train.epochs": 1,
                "train.seed": seed, "optim.base_lr": self.base_lr, "train.precision": "fp32",
                "optim.warmup_epochs": self.warmup_steps / steps_per_epoch, "train.vis_every_steps": 0,
                "train.log_every": 25, "data.num_workers": 1, "train.threads": self.threads,
                "model.target_fit_images": self.target_fit_images}


def prepare_tokenizer(cfg: PretrainConfig, out: Path, steps: int = 300) -> None:
    """Small scale: a dVAE-token row uses this project's tokenizer, trained once into OUT/tokenizer/dvae.pth."""
    if cfg.model.target != "dvae_token":
        return
    args = parse_target_args(cfg.model.target_args)
    if args.get("tokenizer") != "dvae":
        return
    path = out / "tokenizer" / "dvae.pth"
    if not path.exists():
        from mae_core.targets.tokenizers.cli import train_and_save
        logger.info("training the dVAE tokenizer for the token row -> %s", path)
        train_and_save(path, steps=steps, batch_size=64, hidden=24, stride=cfg.model.patch_size or 4)
    cfg.model.target_args = f"tokenizer=dvae,path={path}"


def count_row_flops(cfg: PretrainConfig) -> int:
    """Pretraining FLOPs per image (forward with the target + backward), measured on a throwaway model."""
    torch.manual_seed(0)
    model = build_mae(cfg.model)
    model.target.set_input_stats(cfg.data.mean, cfg.data.std)
    if model.target.needs_fit:
        model.target.fit(torch.randn(8, cfg.model.in_chans, cfg.model.img_size, cfg.model.img_size))
    return pretrain_flops(model, cfg.model.img_size, cfg.model.in_chans)


def probe(checkpoint: str, cfg: PretrainConfig, budget: SmallBudget) -> dict:
    """Frozen cls-token features: linear probe (lin, ``budget.probe_solver``) and k-NN (k=20) top-1 on the first
    probe_test test images -> {"lin", "knn", "lin_solver"}."""
    encoder, _ = load_encoder(checkpoint)
    mode = "L" if cfg.model.in_chans == 1 else "RGB"
    tf = build_eval_transform(cfg.model.img_size, cfg.data.mean, cfg.data.std, mode)
    feats = {}
    for split, n in (("train", budget.probe_train), ("test", budget.probe_test)):
        x, y = read_fashion_mnist(split)
        loader = torch.utils.data.DataLoader(ArrayImageDataset(x[:n], y[:n], tf), batch_size=500)
        feats[split] = extract_features(encoder, loader, "cls")
    (ftr, ytr), (fte, yte) = feats["train"], feats["test"]
    r = probe_and_knn(ftr, ytr, fte, yte, budget.probe_solver)
    return {"lin": r["linear"], "knn": r["knn"], "lin_solver": r["solver"]}


def run_row(row: Row, out: Path, seed: int, budget: SmallBudget) -> dict:
    """One small-scale row and seed -> result dict (also OUT/<table>/<row>/seed<k>/result.json)."""
    run_dir = out / row.table / row.key / f"seed{seed}"
    result_file = run_dir / "result.json"
    if result_file.exists():
        logger.info("%s seed %d: result exists, skipped", row.key, seed)
        return json.loads(result_file.read_text())
    if budget.threads:
        torch.set_num_threads(budget.threads)
    cfg = apply_overrides(row.load("small"), budget.overrides(seed))
    prepare_tokenizer(cfg, out)
    cfg.validate()
    flops = count_row_flops(cfg)
    t0 = time.time()
    pre = pretrain(cfg, run_dir / "pretrain")
    pretrain_s = time.time() - t0
    lin = probe(pre["checkpoint"], cfg, budget)
    t1 = time.time()
    ft = finetune(pre["checkpoint"], run_dir / "finetune", cfg, budget, seed)
    result = {"table": row.table, "row": row.key, "label": row.label, "seed": seed, "ft": ft["top1"],
              "lin": lin["lin"], "lin_solver": lin["lin_solver"], "knn": lin["knn"],
              "pretrain_flops_per_image": flops,
              "pretrain_wall_s": round(pretrain_s, 1), "finetune_wall_s": round(time.time() - t1, 1),
              "final_loss": pre["final_loss"], "budget": asdict(budget), "config": to_dict(cfg),
              "target": cfg.model.target, "paper": list(row.paper), "baseline": row.baseline}
    run_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(result, result_file, indent=1)
    logger.info("%s seed %d: ft %.2f lin %.2f knn %.2f (%.0f s pretraining)", row.key, seed, result["ft"],
                result["lin"], result["knn"], pretrain_s)
    return result


def finetune(checkpoint: str, out: Path, cfg: PretrainConfig, budget: SmallBudget, seed: int) -> dict:
    """The ft column: the classification transfer's short fine-tune on Fashion-MNIST (test: probe_test images)."""
    from transfer.classification.short_finetune import short_finetune  # transfer builds on mae_core: import late
    return short_finetune(checkpoint, out, cfg.model.img_size, cfg.data.mean, cfg.data.std, steps=budget.ft_steps,
                          batch_size=budget.ft_batch, test_per_class=budget.probe_test // 10, seed=seed)


def random_init_reference(row: Row, out: Path, seed: int, budget: SmallBudget) -> dict:
    """The same lin / k-NN / ft applied to the row's model before any pretraining (step 0): the floor that the
    pretrained rows are to be compared with -> OUT/reference/random_init_seed<k>.json."""
    path = out / "reference" / f"random_init_seed{seed}.json"
    if path.exists():
        return json.loads(path.read_text())
    torch.set_num_threads(budget.threads or torch.get_num_threads())
    cfg = apply_overrides(row.load("small"), budget.overrides(seed))
    ckpt = save_initial_checkpoint(cfg, path.with_suffix(".pth"), seed)
    ft = finetune(ckpt, path.parent / f"random_init_seed{seed}_finetune", cfg, budget, seed)
    result = {"row": "random init (no pretraining)", "seed": seed, "ft": ft["top1"], **probe(ckpt, cfg, budget)}
    atomic_write_json(result, path, indent=1)
    return result


def run_full_row(row: Row, out: Path, data_path: str, overrides: Overrides) -> dict:
    """Full scale: pretrain the paper's config of the row (resumable) and count its FLOPs; ft/lin are left to the
    classification transfer."""
    run_dir = out / row.table / row.key
    cfg = apply_overrides(row.load("full"), {"data.path": data_path, **split_overrides(overrides)})
    cfg.validate()
    flops = count_row_flops(cfg)
    pre = pretrain(cfg, run_dir / "pretrain")
    return {"table": row.table, "row": row.key, "label": row.label, "seed": cfg.train.seed, "ft": None, "lin": None,
            "knn": None, "pretrain_flops_per_image": flops, "pretrain_wall_s": pre["wall_s"],
            "checkpoint": pre["checkpoint"], "paper": list(row.paper), "baseline": row.baseline}


def run_table(table: str, out: str | Path, scale: str = "small", seeds: tuple[int, ...] = (0,),
              budget: SmallBudget | None = None, data_path: str = "", overrides: Overrides = None,
              rows_dir: str | Path | None = None, only: tuple[str, ...] = ()) -> dict:
    """All rows of a table (or those whose key starts with one of `only`, e.g. 'd1') -> the table dict (written as
    OUT/table_<t>.json and .md)."""
    out = Path(out)
    rows = [r for r in find_rows(table, rows_dir) if not only or r.key.startswith(tuple(only))]
    results = []
    for row in rows:
        if scale == "small":
            results += [run_row(row, out, s, budget or SmallBudget()) for s in seeds]
        else:
            results.append(run_full_row(row, out, data_path, overrides or []))
    return write_table(table, rows, results, out, scale, budget if scale == "small" else None)
