"""Linear probes trained on cached features: several learning rates at once, the lr chosen on a held-out part of the
training features (never on the evaluation split), then refit on all training features.

Each head is the paper's probe head (BatchNorm without affine, then Linear) trained with LARS, batch size, warmup and
cosine as the full probe, so the result matches a full probe without augmentation up to float noise.
# Adapted from: dinov2's linear evaluation (many heads trained in one pass over frozen features).
"""
from __future__ import annotations

import logging

import torch
import torch.nn as nn
import torch.nn.functional as F

from .engine import Schedule
from .lars import LARS
from .model import new_head

logger = logging.getLogger(__name__)


def train_heads(feats: torch.Tensor, labels: torch.Tensor, num_classes: int, lrs: list[float], epochs: int,
                batch_size: int, warmup_epochs: float, weight_decay: float = 0.0, momentum: float = 0.9,
                seed: int = 0) -> tuple[nn.BatchNorm1d, list[nn.Linear]]:
    """feats [N, D], labels [N] -> (shared BatchNorm1d, one Linear head per lr), trained jointly.

    BatchNorm without affine has no parameters and sees the same input for every head, so it is shared.
    """
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    bn = nn.BatchNorm1d(feats.shape[1], affine=False, eps=1e-6)
    heads = [new_head(feats.shape[1], num_classes, 0.01) for _ in lrs]
    opt = LARS([{"params": h.parameters(), "lr_scale": lr} for h, lr in zip(heads, lrs)],
               weight_decay=weight_decay, momentum=momentum)
    schedule = Schedule(1.0, 0.0, warmup_epochs, epochs)   # a scale; each group multiplies it by its own lr
    n = len(feats)
    steps = n // batch_size
    if steps == 0:
        raise ValueError(f"{n} training features are fewer than one batch of {batch_size}")
    bn.train()
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=g)
        for it in range(steps):
            idx = perm[it * batch_size:(it + 1) * batch_size]
            s = schedule(epoch + it / steps)
            for group in opt.param_groups:
                group["lr"] = s * group["lr_scale"]
            z = bn(feats[idx])
            loss = sum(F.cross_entropy(h(z), labels[idx]) for h in heads)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    bn.eval()
    return bn, heads


@torch.no_grad()
def logits_of(bn: nn.BatchNorm1d, head: nn.Linear, feats: torch.Tensor) -> torch.Tensor:
    """[N, D] -> [N, C] in evaluation mode (BatchNorm running statistics)."""
    return head(bn(feats))


def fast_probe(train_feats: torch.Tensor, train_labels: torch.Tensor, num_classes: int, lrs: list[float],
               epochs: int, batch_size: int, warmup_epochs: float, val_fraction: float = 0.1,
               weight_decay: float = 0.0, momentum: float = 0.9, seed: int = 0) -> dict:
    """Chooses the lr on a held-out `val_fraction` of the training features, refits on all of them.

    -> {"lr": chosen, "heldout_top1": {lr: %}, "bn": BatchNorm1d, "head": Linear}.
    """
    g = torch.Generator().manual_seed(seed)
    perm = torch.randperm(len(train_feats), generator=g)
    n_held = max(1, int(len(perm) * val_fraction))
    held, fit = perm[:n_held], perm[n_held:]
    bn, heads = train_heads(train_feats[fit], train_labels[fit], num_classes, lrs, epochs,
                            min(batch_size, len(fit)), warmup_epochs, weight_decay, momentum, seed)
    scores = {}
    for lr, h in zip(lrs, heads):
        pred = logits_of(bn, h, train_feats[held]).argmax(1)
        scores[lr] = 100.0 * (pred == train_labels[held]).float().mean().item()
    best = max(scores, key=scores.get)
    logger.info("held-out top-1 by lr: %s -> lr %g", {f"{k:g}": round(v, 2) for k, v in scores.items()}, best)
    bn, (head,) = train_heads(train_feats, train_labels, num_classes, [best], epochs, min(batch_size, len(perm)),
                              warmup_epochs, weight_decay, momentum, seed)
    return {"lr": best, "heldout_top1": scores, "bn": bn, "head": head}
