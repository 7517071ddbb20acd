"""The pretraining engine: data, model, AdamW + warmup/cosine per step, bf16 autocast, accumulation, DDP, resume.

``pretrain(cfg, output_dir)`` is what ``tools/pretrain.py`` calls. Starting again in the same output folder resumes
from ``checkpoint-last.pth`` (or ``checkpoint-prev.pth`` when the last one is damaged): model, optimizer, step, and
RNG states, so the next losses equal those of a run that was never stopped (augmentations are seeded per sample by
(seed, epoch, index); masks come from the restored RNG). SIGTERM / SIGUSR1 write the checkpoint at the next step
boundary and leave with exit code 75 (``run_state.EXIT_PREEMPTED``).
"""
from __future__ import annotations

import contextlib
import itertools
import logging
import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, Sampler
from tqdm import tqdm

from mae_core.checkpoint.io import CheckpointMismatchError, atomic_save, load_weights, package_versions
from mae_core.checkpoint.pretrained import init_mae_from
from mae_core.config import ConfigError, to_dict
from mae_core.data.datasets import (
    ArrayImageDataset,
    DataError,
    ImageFolderDataset,
    SeededDataset,
    is_fashion_mnist_dir,
    read_fashion_mnist,
)
from mae_core.data.decode import build_bytes_transform, first_readable
from mae_core.data.shards import ShardDataset, is_shard_source
from mae_core.data.transforms import TensorCropFlip, build_pretrain_transform
from mae_core.data.workers import ignore_stop_signals
from mae_core.engine.distributed import DistInfo, all_reduce_mean, any_true, init_distributed
from mae_core.engine.lr_decay import param_groups_lrd
from mae_core.engine.metrics_log import MetricLog, write_metrics
from mae_core.engine.pretrain_config import ModelConfig, PretrainConfig
from mae_core.engine.run_state import (
    LAST,
    PREV,
    NonFiniteLossError,
    NonFinitePolicy,
    PreemptionGuard,
    autocast,
    check_world,
    precision_choice,
    resume_checkpoint,
    rng_state,
    run_info,
    set_rng_state,
)
from mae_core.engine.schedule import ClockHorizon, WarmupCosine
from mae_core.engine.strategy import (
    LAST_SHARDED,
    PREV_SHARDED,
    is_sharded_checkpoint,
    load_optimizer_state,
    load_training_state,
    save_sharded,
    training_state,
    wrap_model,
)
from mae_core.engine.visualize import save_reconstruction_grid
from mae_core.models.mae import MaskedAutoencoder, create_mae
from mae_core.models.vit import VIT_SIZES
from mae_core.targets.base import parse_target_args

logger = logging.getLogger(__name__)
__all__ = ["NonFiniteLossError", "Pretrainer", "build_mae", "pretrain", "rng_state", "set_rng_state"]


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


IN_MEMORY_LIMIT_BYTES = 8 * 2**30  # data.tensor_augmentation: largest folder decoded into memory


def build_pretrain_dataset(cfg: PretrainConfig):
    """A folder of images (recursive) or Fashion-MNIST ('fashion-mnist' or a folder of its IDX files). With
    ``data.tensor_augmentation`` and random_resized_crop, in-memory data is cropped in batches on tensors
    (TensorCropFlip); a folder is decoded into memory first when its images share one size and fit in
    IN_MEMORY_LIMIT_BYTES (else, logged, the per-image path)."""
    d, m = cfg.data, cfg.model
    mode = "L" if (d.grayscale == "single" or m.in_chans == 1) else "RGB"
    tf = build_pretrain_transform(m.img_size, d.augmentation, d.mean, d.std, d.crop_min_scale, mode)
    if not d.path:
        raise DataError("no data path: give --data-path (a folder of images, or 'fashion-mnist')")
    in_memory = d.path == "fashion-mnist" or is_fashion_mnist_dir(d.path)
    shards = not in_memory and is_shard_source(d.path)
    on_tensors = d.tensor_augmentation and d.augmentation == "random_resized_crop" and not shards
    if d.tensor_augmentation and not on_tensors:
        logger.info("data.tensor_augmentation: only for Fashion-MNIST or an image folder with random_resized_crop; "
                    "data.path=%r, data.augmentation=%r take the per-image path", d.path, d.augmentation)
    batch_tf = (TensorCropFlip(m.img_size, d.crop_min_scale, d.mean, d.std, 1 if mode == "L" else 3)
                if on_tensors else None)
    if in_memory:
        images, labels = read_fashion_mnist("train", None if d.path == "fashion-mnist" else d.path)
        return ArrayImageDataset(images, labels, tf, batch_transform=batch_tf)
    if shards:  # tar shards: streamed, decoded by the fast JPEG path (see mae_core.data.shards)
        return ShardDataset(d.path, build_bytes_transform(m.img_size, d.augmentation, d.mean, d.std,
                                                          d.crop_min_scale, mode), seed=cfg.train.seed,
                            strict=d.strict)
    ds = ImageFolderDataset(d.path, tf, strict=d.strict, mode=mode)
    first_readable(ds.files, where=d.path)  # every image unreadable: say so now, not as "N images give no full step"
    if on_tensors:
        got = ds.to_array(IN_MEMORY_LIMIT_BYTES)
        if not isinstance(got, str):
            logger.info("data.tensor_augmentation: %d images of %s decoded into memory (%.0f MiB)", len(got[0]),
                        d.path, got[0].nbytes / 2**20)
            return ArrayImageDataset(*got, tf, batch_transform=batch_tf, classes=ds.classes)
        logger.info("data.tensor_augmentation: %s not held in memory (%s): the per-image path", d.path, got)
    return ds


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


class SkipSampler(Sampler):
    """Skips the first `skip` indices of `base` (a resumed run continues mid-epoch)."""

    def __init__(self, base: Sampler, skip: int) -> None:
        self.base, self.skip = base, skip

    def __iter__(self):
        return itertools.islice(iter(self.base), self.skip, None)

    def __len__(self) -> int:
        return max(len(self.base) - self.skip, 0)


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
        self.info: DistInfo = init_distributed(t.device, t.dist_timeout_min)
        if t.threads:
            torch.set_num_threads(t.threads)
        self.precision_choice = precision_choice(t.precision, self.info.device, dim=VIT_SIZES[cfg.model.encoder][0])
        self.precision = self.precision_choice["precision"]
        torch.manual_seed(t.seed + self.info.rank)
        np.random.seed(t.seed + self.info.rank)
        random.seed(t.seed + self.info.rank)
        # data errors surface before the model is built; random masks come with each sample (see SeededDataset)
        patch = cfg.model.patch_size or VIT_SIZES[cfg.model.encoder][3]
        noise_len = (cfg.model.img_size // patch) ** 2 if cfg.model.masking == "random" else 0
        data = build_pretrain_dataset(cfg)
        if isinstance(data, ShardDataset):  # streamed: split by rank and worker inside, no sampler
            data.noise_len = noise_len
            data.configure(self.info.rank, self.info.world_size)
            self.dataset, self.sampler = data, None
            self.steps_per_epoch = data.batches_per_rank(t.batch_size) // t.accum_iter
        else:
            self.dataset = SeededDataset(data, t.seed, noise_len)
            self.sampler = DistributedSampler(self.dataset, self.info.world_size, self.info.rank, shuffle=True,
                                              seed=t.seed, drop_last=True)
            self.steps_per_epoch = len(self.sampler) // (t.batch_size * t.accum_iter)
        if self.steps_per_epoch < 1:
            raise DataError(f"{cfg.data.path}: {len(self.dataset)} images give no full step of "
                            f"{t.batch_size * t.accum_iter * self.info.world_size} (batch x accum_iter x processes)")
        self.model = build_mae(cfg.model).to(self.info.device)
        self.model.target.set_input_stats(cfg.data.mean, cfg.data.std)
        sharded = self.out / LAST_SHARDED
        resume_sharded = resume and is_sharded_checkpoint(sharded)
        found = None if not resume or resume_sharded else resume_checkpoint(self.out)
        if t.init_from and not (resume_sharded or found):   # a run that resumes takes its own checkpoint instead
            init_mae_from(self.model, t.init_from)
        self.eff_batch = t.batch_size * t.accum_iter * self.info.world_size
        self.peak_lr = cfg.optim.lr or cfg.optim.base_lr * self.eff_batch / 256
        self.fsdp = t.strategy == "fsdp" and self.info.enabled
        wrapped = wrap_model(self.model, t.strategy, self.info.enabled, bf16=self.precision == "bf16",
                             activation_checkpointing=t.activation_checkpointing)
        self.ddp = wrapped if isinstance(wrapped, DistributedDataParallel) else None
        # after sharding: FSDP replaces the parameters the optimizer must hold
        self.optimizer = build_optimizer(self.model, cfg.optim.weight_decay, self.peak_lr, tuple(cfg.optim.betas))
        self.step, self.policy = 0, NonFinitePolicy(t.nonfinite_patience)
        self.last_good, self.saved_step, self.rotate = None, -1, True
        self.clock: ClockHorizon | None = None
        self.resumed_clock: dict | None = None     # {"horizon", "spent_s"} of a run fitted to its time limit
        if self.info.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        if resume_sharded:
            self.load_sharded(sharded)
        elif found:
            self.load(*found)
        elif self.model.target.needs_fit:
            self.fit_target()
        self.forward = torch.compile(wrapped, mode=t.compile_mode) if t.compile else wrapped
        self.graphs = t.compile and t.compile_mode == "reduce-overhead"   # CUDA graphs: mark each new step

    # ------------------------------------------------------------------------------------------- state
    @property
    def skipped(self) -> int:
        return self.policy.skipped

    @property
    def bad_in_row(self) -> int:
        return self.policy.in_row

    def state(self) -> dict:
        t = self.cfg.train
        return {**training_state(self.model, self.optimizer, sharded=False), "scaler": None, "step": self.step,
                "skipped": self.skipped, "rng": rng_state(),
                "run": run_info(self.info.world_size, t.batch_size, t.accum_iter), "precision": self.precision,
                "manifest": manifest(self.model, self.cfg, self.step), **self.clock_state()}

    def clock_state(self) -> dict:
        return {"clock": {"horizon": self.clock.horizon, "spent_s": self.clock.spent()}} if self.clock else {}

    def save(self, name: str = LAST) -> Path | None:
        """Rank 0 writes atomically; checkpoint-last.pth's predecessor is kept as checkpoint-prev.pth. Under FSDP
        every rank calls it: the last checkpoint is a sharded folder (checkpoint-last.dcp, its predecessor kept as
        checkpoint-prev.dcp) and the final one a single file gathered on rank 0."""
        if self.fsdp:
            return self.save_fsdp(name)
        if not self.info.is_main:
            return None
        if name == LAST and self.saved_step == self.step:
            return self.last_good            # already written at this step: keep checkpoint-prev one interval back
        path = self.out / name
        # after a fall-back to checkpoint-prev.pth the damaged last one is overwritten, not kept as "previous"
        atomic_save(self.state(), path, keep_previous=self.out / PREV if name == LAST and self.rotate else None)
        if name == LAST:
            self.last_good, self.saved_step, self.rotate = path, self.step, True
            if (self.out / LAST_SHARDED).exists():   # one kind of last checkpoint at a time (resumed from FSDP)
                shutil.rmtree(self.out / LAST_SHARDED)
        return path

    def load(self, ckpt: dict, path: Path) -> None:
        t = self.cfg.train
        check_world(ckpt, path, self.info.world_size, t.batch_size, t.accum_iter)
        if self.fsdp:
            load_training_state(path, self.model, self.optimizer, ckpt)
        else:
            load_weights(self.model, ckpt["model"], source=str(path))   # the one loader, strict
            load_optimizer_state(self.model, self.optimizer, ckpt["optimizer"])
        self.step, self.policy.skipped = ckpt["step"], ckpt.get("skipped", 0)
        self.resumed_clock = ckpt.get("clock")
        set_rng_state(ckpt["rng"])
        self.last_good, self.rotate = path, path.name == LAST
        logger.info("resumed from %s at step %d", path, self.step)

    def save_fsdp(self, name: str) -> Path | None:
        t = self.cfg.train
        if name != LAST:      # the final weights: one file every tool reads
            state = training_state(self.model, self.optimizer, sharded=False)
            if not self.info.is_main:
                return None
            path = self.out / name
            atomic_save({"model": state["model"], "step": self.step,
                         "manifest": manifest(self.model, self.cfg, self.step)}, path)
            return path
        if self.saved_step == self.step:
            return self.last_good
        extra = {"step": self.step, "skipped": self.skipped, "rng": rng_state(), "precision": self.precision,
                 "run": run_info(self.info.world_size, t.batch_size, t.accum_iter),
                 "manifest": manifest(self.model, self.cfg, self.step), **self.clock_state()}
        path = save_sharded(self.out / LAST_SHARDED, self.model, self.optimizer, extra, self.info.rank,
                            keep_previous=self.out / PREV_SHARDED if self.rotate else None)
        if self.info.is_main and (self.out / LAST).exists():   # one kind of last checkpoint at a time
            (self.out / LAST).unlink()
        self.last_good, self.saved_step, self.rotate = path, self.step, True
        return path

    def load_sharded(self, path: Path) -> None:
        """Resumes from a sharded folder under any strategy and world size (the previous one if it is damaged)."""
        t = self.cfg.train
        try:
            extra = load_training_state(path, self.model, self.optimizer)
        except Exception as e:  # noqa: BLE001 - a damaged folder: fall back one checkpoint, naming both
            prev = self.out / PREV_SHARDED
            if not is_sharded_checkpoint(prev):
                raise CheckpointMismatchError(f"{path}: unreadable sharded checkpoint ({e}); no {prev.name} beside it"
                                              " (start over with --no-resume)") from None
            logger.warning("%s: unreadable (%s); resuming from the previous checkpoint %s", path, e, prev)
            path, extra = prev, load_training_state(prev, self.model, self.optimizer)
        check_world(extra, path, self.info.world_size, t.batch_size, t.accum_iter)
        self.step, self.policy.skipped = extra["step"], extra.get("skipped", 0)
        self.resumed_clock = extra.get("clock")
        set_rng_state(extra["rng"])
        self.last_good, self.rotate = path, path.name == LAST_SHARDED
        logger.info("resumed from %s at step %d", path, self.step)

    @torch.no_grad()
    def fit_target(self) -> None:
        """Fits a target that needs data (PCA) on `model.target_fit_images` training images (epoch-0 views, same
        seeded indices on every process, so every rank fits the same basis); its buffers then live in checkpoints."""
        n = min(self.cfg.model.target_fit_images, len(self.dataset))
        if self.sampler is None:  # shards: the first n images of epoch 0 on this rank
            self.model.target.fit(self.dataset.first_images(n).to(self.info.device))
            return
        idx = torch.randperm(len(self.dataset), generator=torch.Generator().manual_seed(self.cfg.train.seed))[:n]
        self.dataset.set_epoch(0)
        imgs = torch.stack([self.dataset[int(i)][0] for i in idx]).to(self.info.device)
        self.model.target.fit(imgs)
        logger.info("fitted target %r on %d training images", self.model.target.kind, n)

    # ------------------------------------------------------------------------------------------- loop
    def loader(self, epoch: int, skip_batches: int) -> DataLoader:
        if self.sampler is None:  # shards
            per_step = self.cfg.train.batch_size * self.cfg.train.accum_iter
            return itertools.islice(self.dataset.loader(epoch, skip_batches, self.cfg.train.batch_size,
                                                        self.cfg.data.num_workers, self.info.device.type == "cuda"),
                                    self.steps_per_epoch * per_step // self.cfg.train.batch_size - skip_batches)
        self.sampler.set_epoch(epoch)
        self.dataset.set_epoch(epoch)
        sampler = SkipSampler(self.sampler, skip_batches * self.cfg.train.batch_size)
        return DataLoader(self.dataset, batch_size=self.cfg.train.batch_size, sampler=sampler, drop_last=True,
                          num_workers=self.cfg.data.num_workers, pin_memory=self.info.device.type == "cuda",
                          worker_init_fn=ignore_stop_signals,
                          generator=torch.Generator().manual_seed(self.cfg.train.seed * 7919 + epoch),
                          persistent_workers=False)

    def run(self) -> dict:
        t = self.cfg.train
        total = max(1, round(t.epochs * self.steps_per_epoch))
        if t.max_steps:
            total = min(total, t.max_steps)
        if t.fit_to_time_limit:   # the horizon follows the clock, up to max_steps (or the epochs' steps)
            was = self.resumed_clock or {}
            self.clock = ClockHorizon(60 * t.time_limit_min, self.step, was.get("horizon", total),
                                      t.max_steps or total, spent_s=was.get("spent_s", 0.0))
            total = self.clock.horizon
        self.total = total
        log = MetricLog(self.out, enabled=self.info.is_main)
        bar = tqdm(total=total, initial=self.step, disable=not self.info.is_main, dynamic_ncols=True, desc="pretrain",
                   mininterval=1.0 if sys.stderr.isatty() else 30.0)
        self.vis_batch, start = None, time.time()
        self.meter = [0, 0.0, 0, time.time()]   # images seen, loss sum, losses, since
        self.pending: list[torch.Tensor] = []   # (loss, skipped) of the steps since the last sync point
        stop = self.step >= self.total
        amp = autocast(self.info.device, self.precision)
        try:
            with PreemptionGuard() as guard:
                while not stop:
                    stop = self.epoch(guard, amp, log, bar, start)
        finally:
            bar.close()           # also when a signal or the non-finite policy ends the run
        final = self.save("checkpoint-final.pth") if self.info.is_main or self.fsdp else None
        if self.info.is_main and self.vis_batch is not None and t.vis_every_steps:
            self.draw(self.vis_batch, "vis/final.png")
        log.close()
        metrics = {"step": self.step, "final_loss": self.last_logged_loss(), "skipped_steps": self.skipped,
                   "checkpoint": str(final) if final else None, "effective_batch": self.eff_batch,
                   "peak_lr": self.peak_lr, "precision": self.precision, "precision_choice": self.precision_choice,
                   "wall_s": round(time.time() - start, 1),
                   **({"horizon": self.clock.horizon} if self.clock else {})}
        if self.info.is_main:
            write_metrics(self.out, metrics)
        return metrics

    def epoch(self, guard: PreemptionGuard, amp, log: MetricLog, bar, start: float) -> bool:
        """Trains from the current step to the end of its epoch (or an earlier stop) -> whether training stops."""
        t = self.cfg.train
        epoch = self.step // self.steps_per_epoch
        skip = (self.step % self.steps_per_epoch) * t.accum_iter
        micro_losses, stop = [], False
        for i, batch in enumerate(self.loader(epoch, skip)):
            imgs = batch[0].to(self.info.device, non_blocking=True)
            noise = batch[2].to(self.info.device) if len(batch) > 2 else None
            if self.vis_batch is None:
                self.vis_batch = imgs[:8].clone()
            micro = i % t.accum_iter
            if micro == 0:
                lr = self.lr_now()
                for g in self.optimizer.param_groups:
                    g["lr"] = lr * g.get("lr_scale", 1.0)
            last_micro = micro == t.accum_iter - 1
            sync = contextlib.nullcontext() if (self.ddp is None or last_micro) else self.ddp.no_sync()
            if self.graphs:   # the graphs may reuse the memory of the last step's outputs
                torch.compiler.cudagraph_mark_step_begin()
            with sync:
                with amp:
                    loss = self.forward(imgs, noise=noise)[0]
                (loss / t.accum_iter).backward()
            micro_losses.append(loss.detach().clone() if self.graphs else loss.detach())   # graphs reuse it
            if not last_micro:
                continue
            step_loss = torch.stack(micro_losses).float().mean()
            micro_losses = []
            preempted = self.optimizer_step(step_loss, guard.requested, self.sync_point(self.total))
            self.refit_horizon(bar)
            bar.update(1)
            self.log_step(imgs.shape[0] * t.accum_iter * self.info.world_size, lr, epoch, self.total, log, bar)
            if t.vis_every_steps and self.step % t.vis_every_steps == 0 and self.info.is_main:
                self.draw(self.vis_batch, f"vis/step_{self.step:07d}.png")
            if preempted:
                log.close()
                guard.leave(self.step, self.save())
            if t.save_every_steps and self.step % t.save_every_steps == 0 and not self.bad_in_row:
                self.save()
            if self.clock:   # across ranks only the agreed horizon stops (it ends the step after time runs out)
                timed_out = self.clock.out_of_time() and not self.info.enabled
            else:
                timed_out = t.time_limit_min and time.time() - start > 60 * t.time_limit_min
            if self.step >= self.total or timed_out:
                stop = True
                break
        self.flush()                  # a stop between sync points (time limit): the losses not yet read
        if (self.step % self.steps_per_epoch == 0 or stop) and not self.bad_in_row:
            self.save()
        return stop

    def lr_now(self) -> float:
        """The recipe's lr at this step (warmup, then half-cycle cosine to min_lr); fitted to the time limit, the
        schedule is stretched or shrunk to end at the clock's horizon, the warmup keeping its share."""
        t, o = self.cfg.train, self.cfg.optim
        scale = self.total / self.steps_per_epoch / t.epochs if self.clock else 1.0
        return WarmupCosine(self.peak_lr, o.min_lr, o.warmup_epochs * scale, t.epochs * scale)(
            self.step / self.steps_per_epoch)

    def refit_horizon(self, bar) -> None:
        """Under ``train.fit_to_time_limit``: the horizon at the clock's pace, the same on every rank (agreed at the
        clock's re-fit steps only, a function of the step)."""
        if self.clock is None or not self.clock.due(self.step):
            return
        horizon = self.clock.update(self.step)
        if self.info.enabled:
            horizon = round(all_reduce_mean(float(horizon), self.info))
        if horizon != self.total:
            self.total = self.clock.horizon = horizon
            bar.total = horizon

    def log_step(self, images: int, lr: float, epoch: int, total: int, log: MetricLog, bar) -> None:
        """Counts the step's images; at a log step (always a sync point) writes the mean loss since the last one."""
        m = self.meter
        m[0] += images
        if self.step % self.cfg.train.log_every == 0 or self.step == total:
            ips = m[0] / max(time.time() - m[3], 1e-9)
            avg = all_reduce_mean(m[1] / m[2] if m[2] else float("nan"), self.info)
            log.log(self.step, {"loss": avg, "lr": lr, "images_per_s": ips, "epoch": epoch,
                                "skipped_steps": self.skipped})
            bar.set_postfix(loss=f"{avg:.4f}", lr=f"{lr:.2e}", ips=f"{ips:.0f}")
            self.meter = [0, 0.0, 0, time.time()]

    def sync_point(self, total: int) -> bool:
        """Whether the step about to be taken reads the losses on the host: every ``train.sync_every`` steps and
        wherever a log, a checkpoint or the end needs them. The same on every rank (a function of the step)."""
        t, n = self.cfg.train, self.step + 1
        return any(k and n % k == 0 for k in (t.sync_every, t.log_every, t.save_every_steps, self.steps_per_epoch)) \
            or n >= total

    def optimizer_step(self, loss: torch.Tensor, stop_asked: bool = False, sync: bool = True) -> bool:
        """Steps unless the loss is non-finite on any rank -> whether any rank was asked to stop (known at sync points).

        The fused AdamW skips on the device (its ``found_inf`` input, as under a GradScaler), so no step waits for
        the host: the losses are read at sync points, where the non-finite policy counts the skipped steps (and stops
        after ``nonfinite_patience`` in a row) and the ranks agree on a stop. Another optimizer skips on the host."""
        bad = (~torch.isfinite(loss.detach().float())).float().reshape(())     # 0-dim, as found_inf must be
        if self.info.enabled:
            torch.distributed.all_reduce(bad, op=torch.distributed.ReduceOp.MAX)   # skipped on every rank or none
        on_device = getattr(self.optimizer, "_step_supports_amp_scaling", False)
        try:
            if on_device or not bad.item():
                if self.cfg.optim.clip_grad > 0:
                    torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.clip_grad)
                if on_device:
                    self.optimizer.found_inf, self.optimizer.grad_scale = bad, None
                self.optimizer.step()
        finally:
            self.optimizer.zero_grad(set_to_none=True)
        self.pending.append(torch.stack([loss.detach().float().reshape(()), bad]))
        self.step += 1
        if not (sync or (stop_asked and not self.info.enabled)):
            return False
        self.flush()
        return any_true(stop_asked, self.info)

    def flush(self) -> None:
        """Reads the pending steps' (loss, skipped) in one transfer: the policy's count (raises after
        ``nonfinite_patience`` non-finite steps in a row) and the loss meter of the logs."""
        if not self.pending:
            return
        rows = torch.stack(self.pending).tolist()
        first, self.pending = self.step - len(rows) + 1, []
        for i, (loss, bad) in enumerate(rows):
            if self.policy.check(not bad, first + i, self.last_good):
                self.meter[1], self.meter[2] = self.meter[1] + loss, self.meter[2] + 1

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
        noise = torch.rand(imgs.shape[0], self.model.patch_embed.num_patches,
                           generator=torch.Generator().manual_seed(0))
        save_reconstruction_grid(self.model, imgs, self.cfg.data.mean, self.cfg.data.std, self.out / name,
                                 noise=noise.to(imgs.device) if self.cfg.model.masking == "random" else None)


def pretrain(cfg: PretrainConfig, output_dir: str | Path, resume: bool = True) -> dict:
    """Trains an MAE as `cfg` says; returns (and writes to metrics.json) the final figures."""
    return Pretrainer(cfg, output_dir, resume).run()
