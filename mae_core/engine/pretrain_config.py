"""The pretraining recipe as a validated dataclass (configs/pretrain/*.py build one)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mae_core.config import ConfigError
from mae_core.models.masking import MASKINGS, validate_masking
from mae_core.models.vit import VIT_SIZES
from mae_core.targets.base import validate_target

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DECODER_HEAD_DIM = 32                       # the paper's decoder: 512 wide / 16 heads
AUGMENTATIONS = ("none", "fixed_crop", "random_resized_crop", "random_resized_crop_color_jitter")


@dataclass
class ModelConfig:
    encoder: str = "vit_base_patch16"       # a key of mae_core.models.vit.VIT_SIZES
    img_size: int = 224
    patch_size: int = 0                     # 0 = the encoder size's own
    in_chans: int = 3
    decoder_embed_dim: int = 512
    decoder_depth: int = 8
    decoder_num_heads: int = 16             # 0 = derived from the width (width / 32)
    mask_ratio: float = 0.75
    masking: str = "random"                 # random | block | grid
    target: str = "norm_pixel"              # pixel | norm_pixel | pca | dvae_token | ...
    target_args: str = ""                   # target-specific, e.g. "tokenizer=path.pth" (parsed by the target)
    target_fit_images: int = 2048           # training images a fitted target (pca) sees before training
    mask_token_in_encoder: bool = False
    drop_path_rate: float = 0.0
    grad_checkpointing: bool = False

    def decoder_heads(self) -> int:
        """decoder_num_heads, or when 0 the width / 32 (the paper's decoder: 512 wide, 16 heads), at least 1."""
        return self.decoder_num_heads or max(1, self.decoder_embed_dim // DECODER_HEAD_DIM)


@dataclass
class DataConfig:
    path: str = ""                          # folder of images, Fashion-MNIST IDX folder, or "fashion-mnist"
    augmentation: str = "random_resized_crop"
    crop_min_scale: float = 0.2
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    grayscale: str = "replicate"            # replicate (to 3 channels) | single (in_chans=1)
    strict: bool = False                    # unreadable image: skip with a warning (False) or stop (True)
    num_workers: int = 4
    tensor_augmentation: bool = False       # with random_resized_crop: crop batches on tensors in the loading
    #                                         process (data.TensorCropFlip), not PIL per image, from memory:
    #                                         Fashion-MNIST, or an image folder decoded once (images of one size, up
    #                                         to 8 GiB); shards, other folders or augmentations: per image (logged)


@dataclass
class OptimConfig:
    base_lr: float = 1.5e-4                 # lr = base_lr * effective batch / 256
    lr: float = 0.0                         # absolute lr; overrides base_lr when > 0
    min_lr: float = 0.0
    weight_decay: float = 0.05
    betas: tuple[float, ...] = (0.9, 0.95)
    warmup_epochs: float = 40.0
    clip_grad: float = 0.0                  # 0 = no clipping


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune-no-cudagraphs")


@dataclass
class RunConfig:
    """How a run trains, whatever it trains: the ``train.*`` keys every trainer of the project shares (pretraining
    extends them in TrainConfig; classification uses them as they are)."""
    precision: str = "fp32"                 # auto | fp32 | bf16 (autocast); auto: see resolve_precision
    save_every_steps: int = 0               # also checkpoint every N steps (0 = at epoch ends only)
    nonfinite_patience: int = 5             # skip a non-finite step; stop after this many in a row
    log_every: int = 20                     # a step record every N steps
    dist_timeout_min: float = 30.0          # collectives time out after this (a dead rank ends the job)
    strategy: str = "ddp"                   # ddp | fsdp (FSDP2 fully_shard; sharded checkpoints, see engine.strategy)

    def validate(self) -> None:
        """Raises ConfigError naming the ``train.*`` key whose value cannot work."""
        if self.strategy not in ("ddp", "fsdp"):
            raise ConfigError(f"train.strategy={self.strategy!r} is not one of ddp, fsdp")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ConfigError(f"train.precision must be auto, fp32 or bf16, got {self.precision!r}")
        if self.dist_timeout_min <= 0:
            raise ConfigError(f"train.dist_timeout_min must be > 0, got {self.dist_timeout_min}")
        if self.nonfinite_patience < 1:
            raise ConfigError(f"train.nonfinite_patience must be >= 1, got {self.nonfinite_patience}")


@dataclass
class TrainConfig(RunConfig):
    epochs: float = 800                     # may be fractional: a schedule fitted to a time budget (the demo)
    batch_size: int = 64                    # per process
    accum_iter: int = 1
    seed: int = 0
    max_steps: int = 0                      # stop after this many optimizer steps (0 = run all epochs)
    time_limit_min: float = 0.0             # stop (and save) after this many minutes (0 = no limit)
    fit_to_time_limit: bool = False         # the lr schedule ends at the time limit: its horizon re-fitted while the
    #                                         run trains, at the measured pace (resumed runs count the time used)
    vis_every_steps: int = 500              # reconstruction PNG every N steps (0 = off)
    compile: bool = False                   # torch.compile the model
    compile_mode: str = "default"           # torch.compile's mode: default | reduce-overhead (CUDA graphs) |
    #                                         max-autotune-no-cudagraphs
    device: str = "auto"                    # auto | cpu | cuda
    threads: int = 0                        # torch CPU threads (0 = torch's default)
    activation_checkpointing: bool = False  # recompute each block's activations in the backward pass (memory)
    sync_every: int = 1                     # read the loss on the host every N steps (and at logs, saves, the end):
    #                                         N > 1: no .item() per step, a non-finite step is skipped on the device
    init_from: str = ""                     # start from this checkpoint's weights (continued pretraining; not its
    #                                         optimizer or step); a run that resumes takes its own checkpoint instead

    def validate(self) -> None:
        super().validate()
        if self.sync_every < 1:
            raise ConfigError(f"train.sync_every must be >= 1, got {self.sync_every}")
        if self.epochs <= 0:
            raise ConfigError(f"train.epochs must be > 0, got {self.epochs}")
        if self.fit_to_time_limit and self.time_limit_min <= 0:
            raise ConfigError("train.fit_to_time_limit needs train.time_limit_min > 0")
        if self.init_from and not Path(self.init_from).exists():
            raise ConfigError(f"train.init_from={self.init_from!r}: no such checkpoint")
        if self.compile_mode not in COMPILE_MODES:
            raise ConfigError(f"train.compile_mode={self.compile_mode!r} is not one of {', '.join(COMPILE_MODES)}")


@dataclass
class PretrainConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        """Raises ConfigError naming the setting when a value cannot work, before any data or model is built."""
        m, d, t = self.model, self.data, self.train
        t.validate()
        if m.encoder not in VIT_SIZES:
            raise ConfigError(f"model.encoder={m.encoder!r} is not one of {', '.join(VIT_SIZES)}")
        patch = m.patch_size or VIT_SIZES[m.encoder][3]
        if m.img_size % patch:
            raise ConfigError(f"model.img_size={m.img_size} is not a multiple of the patch size {patch}")
        if m.decoder_embed_dim < 1 or m.decoder_num_heads < 0:
            raise ConfigError(f"model.decoder_embed_dim={m.decoder_embed_dim} must be >= 1 and "
                              f"model.decoder_num_heads={m.decoder_num_heads} >= 0 (0 = derived)")
        if m.decoder_embed_dim % m.decoder_heads():
            raise ConfigError(f"model.decoder_embed_dim={m.decoder_embed_dim} is not divisible by "
                              f"model.decoder_num_heads={m.decoder_heads()}"
                              + (" (derived: width / 32)" if not m.decoder_num_heads else ""))
        if m.decoder_depth < 1:
            raise ConfigError(f"model.decoder_depth must be >= 1, got {m.decoder_depth}")
        if m.masking not in MASKINGS:
            raise ConfigError(f"model.masking={m.masking!r} is not one of {', '.join(MASKINGS)}")
        grid = (m.img_size // patch, m.img_size // patch)
        try:
            validate_masking(m.masking, grid, m.mask_ratio)
        except ValueError as e:
            raise ConfigError(str(e)) from None
        validate_target(m.target, m.target_args, patch, m.in_chans)
        if m.target_fit_images < 1:
            raise ConfigError(f"model.target_fit_images must be >= 1, got {m.target_fit_images}")
        if d.augmentation not in AUGMENTATIONS:
            raise ConfigError(f"data.augmentation={d.augmentation!r} is not one of {', '.join(AUGMENTATIONS)}")
        if not 0.0 < d.crop_min_scale <= 1.0:
            raise ConfigError(f"data.crop_min_scale must be in (0, 1] (1.0: no crop), got {d.crop_min_scale}")
        if d.grayscale not in ("replicate", "single"):
            raise ConfigError(f"data.grayscale must be 'replicate' or 'single', got {d.grayscale!r}")
        if len(d.mean) != m.in_chans or len(d.std) != m.in_chans:
            raise ConfigError(f"data.mean/std have {len(d.mean)}/{len(d.std)} values for model.in_chans={m.in_chans}")
        if t.accum_iter < 1 or t.batch_size < 1:
            raise ConfigError("train.batch_size and train.accum_iter must be >= 1")
        if not 0.0 <= m.mask_ratio < 1.0:
            raise ConfigError(f"model.mask_ratio must be in [0, 1), got {m.mask_ratio}")
