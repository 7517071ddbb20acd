"""The pretraining engine: data, model, AdamW + warmup/cosine per step, bf16 autocast, accumulation, DDP, resume.

``pretrain(cfg, output_dir)`` is what ``tools/pretrain.py`` calls. Starting again in the same output folder resumes
from ``checkpoint-last.pth``: model, optimizer, step, and RNG states, so the next losses equal those of a run that
was never stopped (augmentations are seeded per sample by (seed, epoch, index); masks come from the restored RNG).
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import math
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Sampler
from tqdm import tqdm

from mae_core.checkpoint.io import atomic_save, load_weights, package_versions
from mae_core.config import ConfigError, to_dict
from mae_core.data.datasets import (
    ArrayImageDataset,
    DataError,
    ImageFolderDataset,
    SeededDataset,
    is_fashion_mnist_dir,
    read_fashion_mnist,
)
from mae_core.data.transforms import build_pretrain_transform
from mae_core.engine.distributed import DistInfo, all_reduce_mean, all_true, init_distributed
from mae_core.engine.lr_decay import param_groups_lrd
from mae_core.engine.metrics_log import MetricLog, write_metrics
from mae_core.engine.pretrain_config import ModelConfig, PretrainConfig
from mae_core.engine.schedule import WarmupCosine
from mae_core.engine.visualize import save_reconstruction_grid
from mae_core.models.mae import MaskedAutoencoder, create_mae
from mae_core.models.vit import VIT_SIZES
from mae_core.targets.base import parse_target_args

logger = logging.getLogger(__name__)
LAST = "checkpoint-last.pth"


class NonFiniteLossError(RuntimeError):
    """Training stopped after too many non-finite losses in a row."""


# ------------------------------------------------------------------------------------------------ builders
def build_mae(m: ModelConfig) -> MaskedAutoencoder:
    kwargs = dict(img_size=m.img_size, in_chans=m.in_chans, decoder_embed_dim=m.decoder_embed_dim,
                  decoder_depth=m.decoder_depth, decoder_num_heads=m.decoder_heads(), target=m.target,
                  mask_ratio=m.mask_ratio, masking=m.masking, mask_token_in_encoder=m.mask_token_in_encoder,
                  drop_path_rate=m.drop_path_rate, grad_checkpointing=m.grad_checkpointing,
                  target_kwargs=parse_target_args(m.target_args))
    if m.patch_size:
        kwargs["patch_size"] = m.patch_size
    try:
        return create_mae(m.encoder, **kwargs)
    except ValueError as e:
        raise ConfigError(f"model: {e}") from None


def build_pretrain_dataset(cfg: PretrainConfig):
    """A folder of images (recursive) or Fashion-MNIST ('fashion-mnist' or a folder of its IDX files)."""
    d, m = cfg.data, cfg.model
    mode = "L" if (d.grayscale == "single" or m.in_chans == 1) else "RGB"
    tf = build_pretrain_transform(m.img_size, d.augmentation, d.mean, d.std, d.crop_min_scale, mode)
    if not d.path:
        raise DataError("no data path: give --data-path (a folder of images, or 'fashion-mnist')")
    if d.path == "fashion-mnist" or is_fashion_mnist_dir(d.path):
        images, labels = read_fashion_mnist("train", None if d.path == "fashion-mnist" else d.path)
        return ArrayImageDataset(images, labels, tf)
    return ImageFolderDataset(d.path, tf, strict=d.strict)


def build_optimizer(model: torch.nn.Module, weight_decay: float, lr: float,
                    betas: tuple[float, float] = (0.9, 0.95)) -> torch.optim.AdamW:
    """AdamW without weight decay on biases and 1-D parameters; the fused kernel (one op per step for all
    parameters) where this torch has it for the device, which on a CPU removes most of the optimizer's cost."""
    groups = param_groups_lrd(model, weight_decay, layer_decay=1.0)
    for g in groups:
        g.pop("names", None)
    try:
        return torch.optim.AdamW(groups, lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(groups, lr=lr, betas=betas)


def lr_at(epoch_float: float, cfg: PretrainConfig, peak_lr: float) -> float:
    """The recipe's lr at a fractional epoch (warmup, then half-cycle cosine to min_lr), evaluated every step."""
    return WarmupCosine(peak_lr, cfg.optim.min_lr, cfg.optim.warmup_epochs, cfg.train.epochs)(epoch_float)


class SkipSampler(Sampler):
    """Skips the first `skip` indices of `base` (a resumed run continues mid-epoch)."""

    def __init__(self, base: Sampler, skip: int) -> None:
        self.base, self.skip = base, skip

    def __iter__(self):
        return itertools.islice(iter(self.base), self.skip, None)

    def __len__(self) -> int:
        return max(len(self.base) - self.skip, 0)


def rng_state() -> dict:
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def manifest(model: MaskedAutoencoder, cfg: PretrainConfig, step: int) -> dict:
    return {"format": "mae-toolkit/1", "encoder": model.encoder_config(),
            "decoder": {"embed_dim": cfg.model.decoder_embed_dim, "depth": cfg.model.decoder_depth,
                        "num_heads": cfg.model.decoder_heads()},
            "target": model.target.describe(), "img_size": cfg.model.img_size, "patch_size": model.patch_size,
            "mask_ratio": cfg.model.mask_ratio, "masking": cfg.model.masking,
            "mean": list(cfg.data.mean), "std": list(cfg.data.std), "step": step,
            "versions": package_versions(), "config": to_dict(cfg)}


def save_initial_checkpoint(cfg: PretrainConfig, path: str | Path, seed: int) -> str:
    """The MAE of `cfg` at its initialisation (seeded), saved atomically with the manifest (step 0): the
    'no pretraining' floor of the ablation tables and the target study -> the path."""
    torch.manual_seed(seed)
    model = build_mae(cfg.model)
    atomic_save({"model": model.state_dict(), "manifest": manifest(model, cfg, 0)}, path)
    return str(path)


# ------------------------------------------------------------------------------------------------ the loop
class Pretrainer:
    """Holds the state of one pretraining run; ``run()`` trains until the epochs, max_steps or time limit end."""

    def __init__(self, cfg: PretrainConfig, output_dir: str | Path, resume: bool = True) -> None:
        cfg.validate()
        self.cfg, self.out = cfg, Path(output_dir)
        t = cfg.train
        self.info: DistInfo = init_distributed(t.device)
        if t.threads:
            torch.set_num_threads(t.threads)
        torch.manual_seed(t.seed + self.info.rank)
        np.random.seed(t.seed + self.info.rank)
        random.seed(t.seed + self.info.rank)
        # data errors surface before the model is built; random masks come with each sample (see SeededDataset)
        patch = cfg.model.patch_size or VIT_SIZES[cfg.model.encoder][3]
        noise_len = (cfg.model.img_size // patch) ** 2 if cfg.model.masking == "random" else 0
        self.dataset = SeededDataset(build_pretrain_dataset(cfg), t.seed, noise_len)
        self.sampler = DistributedSampler(self.dataset, self.info.world_size, self.info.rank, shuffle=True,
                                          seed=t.seed, drop_last=True)
        self.steps_per_epoch = len(self.sampler) // (t.batch_size * t.accum_iter)
        if self.steps_per_epoch < 1:
            raise DataError(f"{cfg.data.path}: {len(self.dataset)} images give no full step of "
                            f"{t.batch_size * t.accum_iter * self.info.world_size} (batch x accum_iter x processes)")
        self.model = build_mae(cfg.model).to(self.info.device)
        self.model.target.set_input_stats(cfg.data.mean, cfg.data.std)
        self.eff_batch = t.batch_size * t.accum_iter * self.info.world_size
        self.peak_lr = cfg.optim.lr or cfg.optim.base_lr * self.eff_batch / 256
        self.optimizer = build_optimizer(self.model, cfg.optim.weight_decay, self.peak_lr, tuple(cfg.optim.betas))
        self.ddp = DistributedDataParallel(self.model) if self.info.enabled else None
        self.step, self.skipped, self.bad_in_row = 0, 0, 0
        self.last_good = None
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        if resume and (self.out / LAST).exists():
            self.load(self.out / LAST)
        elif self.model.target.needs_fit:
            self.fit_target()
        self.forward = torch.compile(self.ddp or self.model) if t.compile else (self.ddp or self.model)

    # ------------------------------------------------------------------------------------------- state
    def state(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(), "scaler": None,
                "step": self.step, "skipped": self.skipped, "rng": rng_state(),
                "manifest": manifest(self.model, self.cfg, self.step)}

    def save(self, name: str = LAST) -> Path | None:
        if not self.info.is_main:
            return None
        path = self.out / name
        atomic_save(self.state(), path)
        self.last_good = path
        return path

    def load(self, path: Path) -> None:
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
        load_weights(self.model, ckpt["model"], source=str(path))   # the one loader, strict
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.step, self.skipped = ckpt["step"], ckpt.get("skipped", 0)
        set_rng_state(ckpt["rng"])
        self.last_good = path
        logger.info("resumed from %s at step %d", path, self.step)

    @torch.no_grad()
    def fit_target(self) -> None:
        """Fits a target that needs data (PCA) on `model.target_fit_images` training images (epoch-0 views, same
        seeded indices on every process, so every rank fits the same basis); its buffers then live in checkpoints."""
        n = min(self.cfg.model.target_fit_images, len(self.dataset))
        idx = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.cfg.train.seed))[:n]
        self.dataset.set_epoch(0)
        imgs = torch.stack([self.dataset[int(i)][0] for i in idx]).to(self.info.device)
        self.model.target.fit(imgs)
        logger.info("fitted target %r on %d training images", self.model.target.kind, n)

    # ------------------------------------------------------------------------------------------- loop
    def loader(self, epoch: int, skip_batches: int) -> DataLoader:
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)
        sampler = SkipSampler(self.sampler, skip_batches * self.cfg.train.batch_size)
        return DataLoader(self.dataset, batch_size=self.cfg.train.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.cfg.data.num_workers, pin_memory=self.info.device.type == "cuda",
                          generator=torch.Generator().manual_seed(self.cfg.train.seed * 7919 + epoch),
                          persistent_workers=False)

    def run(self) -> dict:
        t = self.cfg.train
        total = t.epochs * self.steps_per_epoch
        if t.max_steps:
            total = min(total, t.max_steps)
        log = MetricLog(self.out, enabled=self.info.is_main)
        bar = tqdm(total=total, initial=self.step, disable=not self.info.is_main, dynamic_ncols=True, desc="pretrain",
                   mininterval=1.0 if sys.stderr.isatty() else 30.0)
        vis_batch, start, seen, loss_sum, n_loss = None, time.time(), 0, 0.0, 0
        tick = time.time()
        stop = self.step >= total
        autocast = torch.autocast(self.info.device.type, dtype=torch.bfloat16, enabled=t.precision == "bf16")
        while not stop:
            epoch = self.step // self.steps_per_epoch
            skip = (self.step % self.steps_per_epoch) * t.accum_iter
            micro_losses = []
            for i, batch in enumerate(self.loader(epoch, skip)):
                imgs = batch[0].to(self.info.device, non_blocking=True)
                noise = batch[2].to(self.info.device) if len(batch) > 2 else None
                if vis_batch is None:
                    vis_batch = imgs[:8].clone()
                micro = i % t.accum_iter
                if micro == 0:
                    lr = lr_at(self.step / self.steps_per_epoch, self.cfg, self.peak_lr)
                    for g in self.optimizer.param_groups:
                        g["lr"] = lr * g.get("lr_scale", 1.0)
                last_micro = micro == t.accum_iter - 1
                sync = contextlib.nullcontext() if (self.ddp is None or last_micro) else self.ddp.no_sync()
                with sync:
                    with autocast:
                        loss = self.forward(imgs, noise=noise)[0]
                    (loss / t.accum_iter).backward()
                micro_losses.append(loss.detach())
                if not last_micro:
                    continue
                step_loss = torch.stack(micro_losses).float().mean().item()
                micro_losses = []
                self.optimizer_step(step_loss)
                seen += imgs.shape[0] * t.accum_iter * self.info.world_size
                if math.isfinite(step_loss):
                    loss_sum, n_loss = loss_sum + step_loss, n_loss + 1
                bar.update(1)
                if self.step % t.log_every == 0 or self.step == total:
                    ips = seen / max(time.time() - tick, 1e-9)
                    avg = all_reduce_mean(loss_sum / n_loss if n_loss else float("nan"), self.info)
                    log.log(self.step, {"loss": avg, "lr": lr, "images_per_s": ips, "epoch": epoch,
                                        "skipped_steps": self.skipped})
                    bar.set_postfix(loss=f"{avg:.4f}", lr=f"{lr:.2e}", ips=f"{ips:.0f}")
                    seen, loss_sum, n_loss, tick = 0, 0.0, 0, time.time()
                if t.vis_every_steps and self.step % t.vis_every_steps == 0 and self.info.is_main:
                    self.draw(vis_batch, f"vis/step_{self.step:07d}.png")
                if t.save_every_steps and self.step % t.save_every_steps == 0 and not self.bad_in_row:
                    self.save()
                timed_out = t.time_limit_min and time.time() - start > 60 * t.time_limit_min
                if self.step >= total or timed_out:
                    stop = True
                    break
            if (self.step % self.steps_per_epoch == 0 or stop) and not self.bad_in_row:
                self.save()
        bar.close()
        final = self.save("checkpoint-final.pth") if self.info.is_main else None
        if self.info.is_main and vis_batch is not None and t.vis_every_steps:
            self.draw(vis_batch, "vis/final.png")
        log.close()
        metrics = {"step": self.step, "final_loss": self.last_logged_loss(), "skipped_steps": self.skipped,
                   "checkpoint": str(final) if final else None, "effective_batch": self.eff_batch,
                   "peak_lr": self.peak_lr, "wall_s": round(time.time() - start, 1)}
        if self.info.is_main:
            write_metrics(self.out, metrics)
        return metrics

    def optimizer_step(self, step_loss: float) -> None:
        """Steps unless a loss was non-finite on any rank; stops after `nonfinite_patience` such steps in a row."""
        t = self.cfg.train
        if all_true(math.isfinite(step_loss), self.info):
            if self.cfg.optim.clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.clip_grad)
            self.optimizer.step()
            self.bad_in_row = 0
        else:
            self.skipped += 1
            self.bad_in_row += 1
            logger.warning("non-finite loss at step %d: step skipped (%d in a row)", self.step + 1, self.bad_in_row)
            if self.bad_in_row >= t.nonfinite_patience:
                raise NonFiniteLossError(f"{self.bad_in_row} non-finite losses in a row, the last at step {self.step + 1}; "
                                         f"last good checkpoint: {self.last_good or 'none written yet'}")
        self.optimizer.zero_grad(set_to_none=True)
        self.step += 1

    def last_logged_loss(self) -> float | None:
        path = self.out / "log.jsonl"
        if not path.exists():
            return None
        import json
        lines = path.read_text().strip().splitlines()
        return json.loads(lines[-1])["loss"] if lines else None

    def draw(self, imgs: torch.Tensor, name: str) -> None:
        if not hasattr(self.model.target, "to_patches"):
            return
        noise = torch.rand(imgs.shape[0], self.model.patch_embed.num_patches, generator=torch.Generator().manual_seed(0))
        save_reconstruction_grid(self.model, imgs, self.cfg.data.mean, self.cfg.data.std, self.out / name,
                                 noise=noise.to(imgs.device) if self.cfg.model.masking == "random" else None)


def pretrain(cfg: PretrainConfig, output_dir: str | Path, resume: bool = True) -> dict:
    """Trains an MAE as `cfg` says; returns (and writes to metrics.json) the final figures."""
    return Pretrainer(cfg, output_dir, resume).run()
