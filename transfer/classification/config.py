"""Dataclass configs of the classification transfer (built on ``mae_core.config``: ``key=value`` overrides,
unknown keys an error naming the nearest valid one)."""
from __future__ import annotations

from dataclasses import dataclass, field

from mae_core.config import ConfigError
from mae_core.engine.pretrain_config import IMAGENET_MEAN, IMAGENET_STD, RunConfig

DATASETS = ("folder", "inat2017", "inat2018", "inat2019", "places205", "places365", "fashion_mnist")


@dataclass
class ModelConfig:
    name: str = "vit_base_patch16"       # a size of mae_core.models.vit.VIT_SIZES (used when no checkpoint is given)
    global_pool: str = "avg"             # 'avg' (mean of patch tokens + fc_norm, the reference default) or 'token'
    drop_path: float = 0.1
    replace_head: bool = False           # allow a checkpoint head with another class count (replaced, logged)
    head_init_std: float = 2e-5          # trunc-normal std of a new head (reference fine-tuning)
    learn_pos_embed: bool = True         # fine-tuning trains the position table (reference models_vit.py: timm's
                                         # learnable pos_embed, no weight decay); False keeps pretraining's fixed one


@dataclass
class DataConfig:
    dataset: str = "folder"              # one of DATASETS
    num_classes: int = 1000
    input_size: int = 224
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    crop_pct: float = 0.875              # evaluation: resize to input_size / crop_pct, center crop
    scale: tuple[float, ...] = (0.08, 1.0)  # RandomResizedCrop scale of training
    auto_augment: str = "rand-m9-mstd0.5-inc1"
    reprob: float = 0.25
    remode: str = "pixel"
    recount: int = 1
    interpolation: str = "bicubic"
    places_split: str = "standard"       # Places365 training list: 'standard' or 'challenge'
    train_limit: int = 0                 # > 0: keep this many training images per class (quick experiments)
    val_limit: int = 0                   # > 0: keep this many evaluation images per class
    train_shards: str = ""               # tar shards of the training split with labels (tools/make_shards.py):
                                         # streamed instead of the data path's train split (val still read there)
    num_workers: int = 4


@dataclass
class FinetuneConfig:
    epochs: int = 100
    batch_size: int = 64                 # per process; effective batch = batch_size * accum_iter * world size
    accum_iter: int = 1
    blr: float = 5e-4                    # lr = blr * effective batch / 256
    min_lr: float = 1e-6
    warmup_epochs: float = 5.0
    weight_decay: float = 0.05
    layer_decay: float = 0.65
    mixup: float = 0.8
    cutmix: float = 1.0
    mixup_prob: float = 1.0
    mixup_switch_prob: float = 0.5
    smoothing: float = 0.1
    clip_grad: float = 0.0               # 0 = off
    ema: bool = False
    ema_decay: float = 0.9999
    trainable_blocks: int = -1           # -1: all; k >= 0: partial fine-tuning of the last k blocks (paper Fig. 9)
    bf16: bool | None = None             # replaced by train.precision (setting it is an error naming that key)
    seed: int = 0
    stop_after: int = 0                  # > 0: leave after this many epochs in this process (time-sliced jobs)


@dataclass
class LinprobeConfig:
    mode: str = "full"                   # the solver: 'full' (paper), 'fast' (cached features, several lrs),
                                         # 'lbfgs' (cached, standardised, L-BFGS) or 'knn' (transfer.classification.probe)
    pool: str = "cls"                    # 'cls', 'avg' or 'cls+avg'
    epochs: int = 90
    batch_size: int = 512                # per process (paper: 16384 in total)
    blr: float = 0.1                     # lr = blr * effective batch / 256
    weight_decay: float = 0.0
    momentum: float = 0.9
    warmup_epochs: float = 10.0
    fast_blrs: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0)
    val_fraction: float = 0.1            # fast mode: held-out part of the training set that picks the lr
    lbfgs_weight_decays: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2)  # lbfgs mode: candidates, chosen like fast's lr
    lbfgs_max_iter: int = 2000           # lbfgs mode: most iterations of a fit (a warning if reached unconverged)
    lbfgs_tolerance_grad: float = 1e-4   # lbfgs mode: converged when every gradient entry is below this
    knn_k: int = 20
    knn_temperature: float = 0.07
    bf16: bool | None = None             # replaced by train.precision (setting it is an error naming that key)
    seed: int = 0


@dataclass
class ClassificationConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    finetune: FinetuneConfig = field(default_factory=FinetuneConfig)
    linprobe: LinprobeConfig = field(default_factory=LinprobeConfig)
    train: RunConfig = field(default_factory=RunConfig)

    def validate(self) -> None:
        for section in ("finetune", "linprobe"):
            old = getattr(self, section).bf16
            if old is not None:
                raise ConfigError(f"{section}.bf16={old} was replaced by train.precision=auto|fp32|bf16 "
                                  f"(here: train.precision={'bf16' if old else 'fp32'})")
        self.train.validate()
        if self.data.dataset not in DATASETS:
            raise ConfigError(f"data.dataset must be one of {DATASETS}, got {self.data.dataset!r}")
        if self.model.global_pool not in ("avg", "token"):
            raise ConfigError(f"model.global_pool must be 'avg' or 'token', got {self.model.global_pool!r}")
        if self.linprobe.mode not in ("full", "fast", "lbfgs", "knn"):
            raise ConfigError(f"linprobe.mode must be 'full', 'fast', 'lbfgs' or 'knn', got {self.linprobe.mode!r}")
        if self.linprobe.pool not in ("cls", "avg", "cls+avg"):
            raise ConfigError(f"linprobe.pool must be 'cls', 'avg' or 'cls+avg', got {self.linprobe.pool!r}")
        if len(self.data.mean) != len(self.data.std):
            raise ConfigError("data.mean and data.std must have the same length")
        if self.finetune.accum_iter < 1 or self.data.num_classes < 1:
            raise ConfigError("finetune.accum_iter and data.num_classes must be >= 1")
        if self.data.train_shards and self.data.train_limit:
            raise ConfigError("data.train_limit does not apply to data.train_shards (the shards are read whole); "
                              "write smaller shards instead")
        if self.data.places_split not in ("standard", "challenge"):
            raise ConfigError(f"data.places_split must be 'standard' or 'challenge', got {self.data.places_split!r}")
