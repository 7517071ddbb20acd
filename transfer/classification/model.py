"""The classifier around the one ViT: checkpoint loading with a class-count check, the reference head init, partial
fine-tuning (last k blocks), and the linear probe (frozen encoder, BatchNorm without affine, linear head)."""
from __future__ import annotations

import logging
import os

import torch
import torch.nn as nn

from mae_core.checkpoint.io import CheckpointMismatchError, read_state_dict
from mae_core.checkpoint.pretrained import load_encoder
from mae_core.models.vit import VisionTransformer, create_vit

from .config import ClassificationConfig

logger = logging.getLogger(__name__)


class ClassCountError(CheckpointMismatchError, ValueError):
    """A checkpoint's head does not fit the data set's class count."""


def checkpoint_head_classes(path: str | os.PathLike) -> int | None:
    """Number of classes of a checkpoint's head (``head.weight`` or a BatchNorm head's ``head.1.weight``), or None."""
    sd, _ = read_state_dict(path)
    for k in ("head.weight", "head.1.weight", "module.head.weight"):
        if k in sd and sd[k].ndim == 2:
            return int(sd[k].shape[0])
    return None


def new_head(in_features: int, num_classes: int, std: float) -> nn.Linear:
    """Linear head, weight trunc-normal(std) (2e-5 in the reference fine-tuning, 0.01 for the probe), bias 0."""
    head = nn.Linear(in_features, num_classes)
    nn.init.trunc_normal_(head.weight, std=std)
    nn.init.zeros_(head.bias)
    return head


def build_classifier(cfg: ClassificationConfig, num_classes: int, pretrained: str | None = None,
                     keep_head: bool = False) -> VisionTransformer:
    """A ViT with a `num_classes` head; encoder (and, when it fits, head) weights from `pretrained`.

    ``model.learn_pos_embed`` (default True) makes the position table a trained parameter, initialised from the
    checkpoint's (or the sin-cos) table, as the reference fine-tuning does.
    A checkpoint head with another class count is an error unless ``model.replace_head`` (then logged).
    keep_head: the checkpoint's head must be loaded (evaluation of a fine-tuned file); a missing one is an error.
    """
    kwargs = dict(global_pool=cfg.model.global_pool, drop_path_rate=cfg.model.drop_path, img_size=cfg.data.input_size,
                  learn_pos_embed=cfg.model.learn_pos_embed)
    if not pretrained:
        model = create_vit(cfg.model.name, num_classes=num_classes, **kwargs)
        model.head = new_head(model.embed_dim, num_classes, cfg.model.head_init_std)
        logger.info("model %s from random init (no --pretrained)", cfg.model.name)
        return model
    ck = checkpoint_head_classes(pretrained)
    if keep_head and ck is None:
        raise ClassCountError(f"{pretrained}: has no classifier head ('head.weight') to evaluate")
    if ck is not None and ck != num_classes:
        if keep_head or not cfg.model.replace_head:
            raise ClassCountError(f"{pretrained}: head has {ck} classes but the data set has {num_classes}; set "
                                  "model.replace_head=true to train a new head")
        logger.warning("%s: replacing the %d-class head by a new %d-class head (model.replace_head=true)",
                       pretrained, ck, num_classes)
    model, report = load_encoder(pretrained, num_classes=ck or num_classes, **kwargs)
    if ck is None or ck != num_classes:
        model.head = new_head(model.embed_dim, num_classes, cfg.model.head_init_std)
        logger.info("new %d-class head, trunc-normal std %g", num_classes, cfg.model.head_init_std)
    return model


def set_trainable_blocks(model: VisionTransformer, k: int) -> None:
    """Partial fine-tuning: only the last `k` blocks, the final norms and the head learn (k < 0: everything).

    k = 0 is linear probing with the paper's head: BatchNorm without affine is put before the linear layer.
    """
    depth = len(model.blocks)
    if k < 0:
        return
    if k > depth:
        raise ValueError(f"finetune.trainable_blocks={k} but the model has {depth} blocks")
    for p in model.parameters():
        p.requires_grad = False
    if k == 0 and not isinstance(model.head, nn.Sequential):
        model.head = nn.Sequential(nn.BatchNorm1d(model.head.in_features, affine=False, eps=1e-6), model.head)
    for m in (*model.blocks[depth - k:], model.norm, model.fc_norm, model.head):
        for p in m.parameters():
            p.requires_grad = True
    n_train = sum(p.numel() for p in model.parameters() if p.requires_grad)
    logger.info("partial fine-tuning: last %d of %d blocks trainable (%d parameters)", k, depth, n_train)


class LinearProbe(nn.Module):
    """Frozen encoder -> pooled features [B, D] -> BatchNorm1d(affine=False) -> Linear -> logits [B, C]."""

    def __init__(self, encoder: VisionTransformer, num_classes: int, pool: str = "cls") -> None:
        super().__init__()
        self.encoder, self.pool = encoder, pool
        for p in self.encoder.parameters():
            p.requires_grad = False
        dim = encoder.embed_dim * (2 if pool == "cls+avg" else 1)
        self.head = nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=1e-6), new_head(dim, num_classes, 0.01))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, D] (cls token / mean of patch tokens after the encoder's final norm)."""
        with torch.no_grad():
            t = self.encoder.forward_features(x)
        cls, avg = t[:, 0], t[:, 1:].mean(1)
        return {"cls": cls, "avg": avg, "cls+avg": torch.cat([cls, avg], 1)}[self.pool].float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def train(self, mode: bool = True) -> "LinearProbe":
        super().train(mode)
        self.encoder.eval()  # frozen: no drop path, no statistics
        return self


def build_probe_encoder(cfg: ClassificationConfig, pretrained: str | None) -> VisionTransformer:
    """The frozen encoder of a probe (cls pooling keeps the pretrained final ``norm``); random when no checkpoint."""
    kwargs = dict(global_pool="token", drop_path_rate=0.0, img_size=cfg.data.input_size, num_classes=0)
    if not pretrained:
        logger.info("probe of a randomly initialised %s (no --pretrained)", cfg.model.name)
        return create_vit(cfg.model.name, **kwargs)
    model, _ = load_encoder(pretrained, allow_missing=("head.*", "fc_norm.*", "norm.*"),
                            allow_unexpected=("head.*", "fc_norm.*"), **kwargs)
    return model
