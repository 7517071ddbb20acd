"""`make demo`: pretrain the demo MAE on Fashion-MNIST, then compare frozen features (probe + k-NN)."""
from __future__ import annotations

import argparse
import copy
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

from mae_core.checkpoint.pretrained import load_encoder
from mae_core.cli import parse_overrides, setup_logging, tool_main
from mae_core.config import load_config, shipped_config
from mae_core.engine.metrics_log import run_context, write_metrics
from mae_core.engine.trainer import Pretrainer, pretrain
from mae_core.models.vit import VisionTransformer
from mae_core.overrides import Overrides
from transfer.studies.probe_eval import evaluate_encoder, evaluate_raw_pixels, fashion_loaders

logger = logging.getLogger(__name__)


def run_demo(config: str, output_dir: str, overrides: Overrides = None, limit: int = 0,
             budget_minutes: float = 0.0) -> dict:
    """Pretrains (within ``budget_minutes`` of wall clock when > 0, see :func:`fit_to_budget`), probes, draws."""
    cfg = load_config(config, overrides)
    before = run_context()
    t0 = time.time()
    budget = fit_to_budget(cfg, budget_minutes, Path(output_dir)) if budget_minutes > 0 else None
    pre = pretrain(cfg, output_dir)
    pretrain_s = time.time() - t0
    mode = "L" if cfg.model.in_chans == 1 else "RGB"
    train_loader, test_loader = fashion_loaders(cfg.model.img_size, cfg.data.mean, cfg.data.std, mode, limit=limit)
    encoder, _ = load_encoder(pre["checkpoint"])
    bf16 = pre.get("precision", cfg.train.precision) == "bf16"   # the precision the engine resolved (auto)
    mae = evaluate_encoder(encoder, train_loader, test_loader, bf16)
    torch.manual_seed(cfg.train.seed)
    random_enc = VisionTransformer(**encoder_kwargs(encoder))
    rand = evaluate_encoder(random_enc, train_loader, test_loader, bf16)
    pixels = evaluate_raw_pixels(limit)
    recon = demo_reconstruction(cfg, pre["checkpoint"], Path(output_dir) / "vis" / "test_split.png")
    result = {"pretrain": pre, "pretrain_minutes": round(pretrain_s / 60, 2), "budget": budget, "mae_encoder": mae,
              "random_encoder": rand, "raw_pixels": pixels, "reconstruction": recon,
              "output_dir": str(output_dir), "machine": before,
              "loadavg_after": run_context()["loadavg"]}
    write_metrics(output_dir, result)
    return result


def schedule_for_budget(recipe_epochs: float, warmup_epochs: float, steps_per_epoch: int, step_s: float,
                        seconds: float, margin: float = 0.92) -> dict:
    """The recipe's schedule shrunk to fit `seconds` of training at `step_s` per step (times `margin`, for what the
    timed steps leave out: checkpoints, pictures, logs and, with loader workers, their share of the cores), never
    longer than the recipe; warmup keeps its share of the schedule. -> {"steps", "epochs", "warmup_epochs"}."""
    recipe_steps = round(recipe_epochs * steps_per_epoch)
    steps = max(1, min(recipe_steps, int(seconds * margin / step_s)))
    epochs = steps / steps_per_epoch
    return {"steps": steps, "epochs": epochs, "warmup_epochs": warmup_epochs * epochs / recipe_epochs}


def time_pretrain_step(cfg, steps: int = 6, warmup: int = 2) -> float:
    """Seconds per pretraining step of `cfg` on this machine: the engine's own run (model, optimizer, precision and
    device as it resolves them) on the next batches of its own loader (augmentation and masking noise included),
    in a throw-away output folder."""
    from mae_core.engine.run_state import autocast
    from transfer.studies.bench.pretrain_step import time_steps
    with tempfile.TemporaryDirectory() as tmp:
        run = Pretrainer(copy.deepcopy(cfg), tmp, resume=False)
        device, batches, amp = run.info.device, iter(run.loader(0, 0)), autocast(run.info.device, run.precision)

        def step() -> None:
            batch = next(batches)
            noise = batch[2].to(device) if len(batch) > 2 else None
            with amp:
                loss = run.forward(batch[0].to(device), noise=noise)[0]
            loss.backward()
            run.optimizer.step()
            run.optimizer.zero_grad(set_to_none=True)
        return time_steps(step, steps, warmup, device)


def budget_inputs(cfg, minutes: float) -> dict:
    """What a fitted schedule depends on: the budget, and what sets the step's time and the epoch's length."""
    t, m = cfg.train, cfg.model
    return {"minutes": minutes, "batch_size": t.batch_size, "precision": t.precision, "device": t.device,
            "threads": t.threads, "data.path": cfg.data.path, "data.num_workers": cfg.data.num_workers,
            "data.tensor_augmentation": cfg.data.tensor_augmentation, "recipe_epochs": t.epochs,
            "recipe_warmup_epochs": cfg.optim.warmup_epochs,
            "model": [m.encoder, m.img_size, m.patch_size, m.in_chans, m.decoder_embed_dim, m.decoder_depth]}


FINISH_RESERVE_S = 10.0   # of the budget, for what comes before and after the training loop (model, checkpoint)


def fit_to_budget(cfg, minutes: float, out: Path) -> dict:
    """Fits `cfg`'s schedule (in place) to `minutes` of pretraining on this machine: times the step, shrinks epochs
    and warmup (:func:`schedule_for_budget`: the first estimate of the run's steps), sets ``train.time_limit_min`` to
    what is left and ``train.fit_to_time_limit``, so that the run re-fits its cosine's end to the clock while it
    trains (the machine's pace drifts after the calibration), never past the recipe's steps. The calibration counts
    in the budget. A rerun in the same folder (a resume) reuses the schedule in budget.json; one
    with other settings (budget, batch, model, ...) fits again, or, if that folder holds the old run's checkpoint,
    fails naming what changed."""
    from mae_core.checkpoint.atomic import atomic_write_json
    from mae_core.engine.trainer import build_pretrain_dataset
    from mae_core.config import ConfigError
    from mae_core.engine.run_state import resume_checkpoint
    path, inputs = out / "budget.json", budget_inputs(cfg, minutes)
    fitted = json.loads(path.read_text()) if path.exists() else None
    if fitted is not None and fitted.get("inputs") != inputs:
        before = fitted.get("inputs") or {}
        changed = ", ".join(f"{k}: {before.get(k)!r} -> {v!r}" for k, v in inputs.items() if before.get(k) != v)
        if resume_checkpoint(out) is not None:
            raise ConfigError(f"{path} was fitted for other settings ({changed}) and {out} holds that run's "
                              "checkpoint: resume with the same settings, or use a new output folder")
        logger.info("pretraining budget: %s was fitted for other settings (%s); fitting again", path, changed)
        fitted = None
    if fitted is not None:
        logger.info("pretraining budget: reusing %s (%d steps)", path, fitted["steps"])
    else:
        t0 = time.time()
        steps_per_epoch = len(build_pretrain_dataset(cfg)) // cfg.train.batch_size
        step_s = time_pretrain_step(cfg)
        calibration_s = time.time() - t0
        fitted = {"step_s": round(step_s, 4), "calibration_s": round(calibration_s, 1), "inputs": inputs,
                  **schedule_for_budget(cfg.train.epochs, cfg.optim.warmup_epochs, steps_per_epoch, step_s,
                                        60 * minutes - calibration_s)}
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(fitted, path)
        logger.info("pretraining budget %.1f min: %.3f s per step here -> %d steps (%.2f epochs, warmup %.2f; the "
                    "recipe: %s epochs)", minutes, step_s, fitted["steps"], fitted["epochs"], fitted["warmup_epochs"],
                    cfg.train.epochs)
    recipe_steps = round(cfg.train.epochs * fitted["steps"] / fitted["epochs"])   # steps / epochs: steps per epoch
    cfg.train.max_steps = min(cfg.train.max_steps or recipe_steps, recipe_steps)
    cfg.train.epochs, cfg.optim.warmup_epochs = fitted["epochs"], fitted["warmup_epochs"]
    reserve_s = min(FINISH_RESERVE_S, 3 * minutes)    # 5% of a short budget
    cfg.train.time_limit_min = max(minutes - (fitted["calibration_s"] + reserve_s) / 60, 1e-3)
    cfg.train.fit_to_time_limit = True
    return fitted


def demo_reconstruction(cfg, checkpoint: str, path: Path, n: int = 16) -> dict:
    """The final MAE on the first `n` Fashion-MNIST test images (fixed masks): the picture at `path` and PSNR of its
    masked patches vs mean fill (see mae_core.engine.visualize) -> {"psnr_db", "mean_fill_psnr_db", ...}."""
    from mae_core.checkpoint.io import read_state_dict
    from mae_core.data.datasets import read_fashion_mnist
    from mae_core.engine.trainer import build_mae
    from mae_core.engine.visualize import reconstruction_psnr, save_reconstruction_grid
    model = build_mae(cfg.model)
    model.load_state_dict(read_state_dict(checkpoint, "model")[0])
    images, _ = read_fashion_mnist("test")
    x = torch.from_numpy(images[:n].copy()).float().div(255).unsqueeze(1)              # [n, 1, 28, 28]
    x = torch.nn.functional.interpolate(x, size=cfg.model.img_size, mode="bicubic").clamp(0, 1)
    x = x.expand(-1, cfg.model.in_chans, -1, -1)
    x = (x - torch.tensor(cfg.data.mean).view(1, -1, 1, 1)) / torch.tensor(cfg.data.std).view(1, -1, 1, 1)
    noise = torch.rand(n, model.patch_embed.num_patches, generator=torch.Generator().manual_seed(0)) \
        if cfg.model.masking == "random" else None
    save_reconstruction_grid(model, x, cfg.data.mean, cfg.data.std, path, noise=noise)
    rec = reconstruction_psnr(model, x, cfg.data.mean, cfg.data.std, noise=noise)
    logger.info("reconstruction of %d test images (%s): masked-patch PSNR %.2f dB, mean fill %.2f dB", n, path,
                rec["psnr_db"], rec["mean_fill_psnr_db"])
    return {**rec, "picture": str(path)}


def encoder_kwargs(model: VisionTransformer) -> dict:
    pe = model.patch_embed
    return dict(img_size=pe.img_size, patch_size=pe.patch_size[0], in_chans=pe.proj.in_channels,
                embed_dim=model.embed_dim, depth=len(model.blocks), num_heads=model.num_heads)


def print_table(r: dict) -> None:
    print(f"\nFashion-MNIST test split, frozen features (pretraining: {r['pretrain']['step']} steps, "
          f"{r['pretrain_minutes']} min)")
    if r.get("budget"):
        b = r["budget"]
        print(f"(a {b['inputs']['minutes']:g}-minute budget: {b['step_s']:.3f} s per step timed here -> "
              f"{b['steps']} steps, {b['epochs']:.2f} of the recipe's {b['inputs']['recipe_epochs']:g} epochs)")
    print(f"{'features':<28}{'linear probe':>14}{'k-NN (k=20)':>14}")
    for name, key in (("MAE encoder", "mae_encoder"), ("random encoder", "random_encoder")):
        for pool in ("cls", "avg"):
            v = r[key][pool]
            print(f"{name + ' (' + pool + ')':<28}{v['linear']:>13.2f}%{v['knn']:>13.2f}%")
    print(f"{'raw pixels':<28}{r['raw_pixels']['linear']:>13.2f}%{r['raw_pixels']['knn']:>13.2f}%")
    rec = r["reconstruction"]
    print(f"\nreconstruction of masked patches ({rec['picture']}): PSNR {rec['psnr_db']:.2f} dB vs mean fill "
          f"{rec['mean_fill_psnr_db']:.2f} dB ({rec['mean_fill']})")
    print(f"\noutputs (checkpoints, reconstructions in vis/, log.jsonl, tensorboard/, metrics.json): "
          f"{Path(r['output_dir']).resolve()}")


@tool_main
def main(argv: list[str] | None = None) -> int:
    """``mae-demo``: pretrains the demo config, then prints the probe table."""
    p = argparse.ArgumentParser(description="MAE demo on Fashion-MNIST")
    p.add_argument("--config", default=str(shipped_config("pretrain/demo.py")))
    p.add_argument("--output-dir", default="runs/demo")
    p.add_argument("--limit", type=int, default=0, help="use only the first N images of each split for evaluation")
    p.add_argument("--budget-minutes", type=float, default=10.0,
                   help="fit the pretraining schedule to this many minutes on this machine (0 = the config's epochs)")
    p.add_argument("overrides", nargs="*", default=[], help="config overrides, key=value (typed)")
    args = p.parse_args(argv)
    setup_logging()
    r = run_demo(args.config, args.output_dir, parse_overrides(args.overrides), args.limit, args.budget_minutes)
    print_table(r)
    print(json.dumps({k: r[k] for k in ("mae_encoder", "random_encoder", "raw_pixels")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
