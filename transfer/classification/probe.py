"""The linear probe of a frozen encoder: one implementation, its solver an option named in every result.

Solvers (``linprobe.mode`` of the classification config, ``"solver"`` in every result dict and ``metrics.json``):

- ``"full"``: the paper's recipe through the encoder: augmented images every epoch, BatchNorm without affine +
  Linear (:func:`paper_head`), LARS, lr = blr * batch / 256, warmup + cosine. It needs images, so
  ``transfer.classification.linprobe.run_linprobe`` trains it (data loaders, DDP, resume).
- ``"fast"``: the same head and optimizer on features cached once without augmentation, several lrs in one pass,
  the lr chosen on a held-out part of the training features (``fastprobe.py``).
- ``"lbfgs"``: multinomial logistic regression on standardised cached features, full-batch L-BFGS run until the
  largest gradient entry is below ``tolerance_grad`` (a probe stopped earlier measures the optimizer, not the
  features; a fixed 100 iterations, this probe's setting until commit 3798392, stopped far short), the weight decay
  chosen on a held-out part of the training features, the candidates fitted from the strongest decay to the weakest,
  each starting from the previous solution (what the demo's figures and the ablation tables report).

``"knn"`` (cosine, temperature-weighted votes, ``knn.py``) is the other frozen-feature evaluation; its results say
``"solver": "knn"`` too. The held-out part is never the evaluation split.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .fastprobe import fast_probe
from .knn import knn_predict
from .metrics import confusion_matrix, summarize, topk_correct
from .model import new_head

logger = logging.getLogger(__name__)

SOLVERS = ("full", "fast", "lbfgs")
CACHED_SOLVERS = ("fast", "lbfgs")


@dataclass
class ProbeOptions:
    """Settings of a cached-feature probe (``solver`` one of :data:`CACHED_SOLVERS`)."""
    solver: str = "lbfgs"
    val_fraction: float = 0.1                    # held-out part of the training features choosing wd / lr
    seed: int = 0
    weight_decays: tuple[float, ...] = (1e-5, 1e-4, 1e-3, 1e-2)   # lbfgs: candidates (L2 on the weight)
    max_iter: int = 2000                         # lbfgs: most iterations of one fit (a warning if reached)
    tolerance_grad: float = 1e-4                 # lbfgs: converged when every gradient entry is below this
    blrs: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0, 3.0)   # fast: candidate lr = blr * batch / 256
    epochs: int = 90                             # fast
    batch_size: int = 512                        # fast
    warmup_epochs: float = 10.0                  # fast
    weight_decay: float = 0.0                    # fast (LARS)
    momentum: float = 0.9                        # fast (LARS)

    def check(self) -> None:
        if self.solver not in CACHED_SOLVERS:
            raise ValueError(f"probe solver {self.solver!r} does not run on cached features; one of {CACHED_SOLVERS}"
                             + (" ('full' trains through the encoder: linprobe.run_linprobe)"
                                if self.solver == "full" else ""))
        if not 0.0 < self.val_fraction < 1.0:
            raise ValueError(f"probe val_fraction must be in (0, 1), got {self.val_fraction}")
        if self.max_iter < 1 or self.tolerance_grad <= 0:
            raise ValueError(f"probe max_iter must be >= 1 and tolerance_grad > 0, got {self.max_iter}, "
                             f"{self.tolerance_grad}")


def paper_head(dim: int, num_classes: int) -> nn.Sequential:
    """The paper's probe head: BatchNorm1d without affine (eps 1e-6), then Linear (trunc-normal std 0.01)."""
    return nn.Sequential(nn.BatchNorm1d(dim, affine=False, eps=1e-6), new_head(dim, num_classes, 0.01))


class Standardize(nn.Module):
    """(x - mean) / std with the training features' statistics, as buffers so the probe saves and loads whole."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _split(n: int, val_fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_val = max(1, int(n * val_fraction))
    if n_val >= n:
        raise ValueError(f"{n} training features leave none to fit after holding out {n_val}")
    return perm[:n_val], perm[n_val:]


def _fit_lbfgs(x: torch.Tensor, y: torch.Tensor, num_classes: int, wd: float, opts: ProbeOptions,
               start: nn.Linear | None = None) -> tuple[nn.Sequential, dict]:
    """x [N, D] (raw), y [N] -> (Sequential(Standardize, Linear) minimising cross-entropy + wd * ||W||^2, {"iterations",
    "max_grad"}), from zeros or from ``start``'s weights, until every gradient entry is below opts.tolerance_grad or
    the loss stops changing in float32 (its precision's end), at most opts.max_iter iterations."""
    norm = Standardize(x.mean(0, keepdim=True), x.std(0, keepdim=True) + 1e-6)
    xs = norm(x)
    lin = nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        lin.weight.copy_(start.weight if start is not None else torch.zeros_like(lin.weight))
        lin.bias.copy_(start.bias if start is not None else torch.zeros_like(lin.bias))
    max_eval = 2 * opts.max_iter
    opt = torch.optim.LBFGS(lin.parameters(), lr=1.0, max_iter=opts.max_iter, max_eval=max_eval,
                            history_size=20, line_search_fn="strong_wolfe", tolerance_grad=opts.tolerance_grad,
                            tolerance_change=1e-12)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(lin(xs), y) + wd * lin.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    closure()
    state = opt.state[lin.weight]
    fit = {"iterations": state["n_iter"], "max_grad": max(float(p.grad.abs().max()) for p in lin.parameters())}
    capped = state["n_iter"] >= opts.max_iter or state["func_evals"] >= max_eval   # else float32's end
    if capped and fit["max_grad"] > opts.tolerance_grad:
        logger.warning("lbfgs probe (weight decay %g) stopped at %d iterations before converging: largest gradient "
                       "%.2g > tolerance_grad %g", wd, fit["iterations"], fit["max_grad"], opts.tolerance_grad)
    return nn.Sequential(norm, lin), fit


@torch.no_grad()
def _top1(classifier: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    classifier.eval()
    return 100.0 * (classifier(x).argmax(1) == y).float().mean().item()


def fit_probe(feats: torch.Tensor, labels: torch.Tensor, num_classes: int,
              opts: ProbeOptions) -> tuple[nn.Module, dict]:
    """feats [N, D], labels [N] -> (classifier [*, D] -> [*, C] in eval mode, info).

    info: {"solver", the chosen hyperparameter ("weight_decay", or "lr" and "blr"), the held-out top-1 of every
    candidate ("heldout_top1_by_weight_decay" or "heldout_top1_by_blr")}.
    """
    opts.check()
    if feats.ndim != 2 or len(feats) != len(labels):
        raise ValueError(f"probe features must be [N, D] with N labels, got {tuple(feats.shape)} and {len(labels)}")
    if opts.solver == "lbfgs":
        val, fit = _split(len(feats), opts.val_fraction, opts.seed)
        scores, fitted, start = {}, {}, None
        for wd in sorted(opts.weight_decays, reverse=True):      # strongest decay first, each from the last
            candidate, _ = _fit_lbfgs(feats[fit], labels[fit], num_classes, wd, opts, start)
            start = fitted[wd] = candidate[1]
            scores[wd] = _top1(candidate, feats[val], labels[val])
        best = max(scores, key=scores.get)
        classifier, final = _fit_lbfgs(feats, labels, num_classes, best, opts, fitted[best])
        classifier.eval()
        info = {"weight_decay": best, "heldout_top1_by_weight_decay": {f"{k:g}": v for k, v in scores.items()},
                "lbfgs_iterations": final["iterations"], "lbfgs_max_grad": final["max_grad"]}
    else:
        batch = min(opts.batch_size, len(feats))
        res = fast_probe(feats, labels, num_classes, [b * batch / 256 for b in opts.blrs], opts.epochs, batch,
                         opts.warmup_epochs, opts.val_fraction, opts.weight_decay, opts.momentum, opts.seed)
        classifier = nn.Sequential(res["bn"], res["head"]).eval()
        info = {"lr": res["lr"], "blr": res["lr"] * 256 / batch,
                "heldout_top1_by_blr": {f"{k * 256 / batch:g}": v for k, v in res["heldout_top1"].items()}}
    logger.info("%s probe: %s", opts.solver, info)
    return classifier, {"solver": opts.solver, **info}


@torch.no_grad()
def classifier_metrics(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> tuple[dict, torch.Tensor]:
    """logits [M, C], labels [M] -> (metrics: top1, top5, loss, per-class; confusion [C, C])."""
    cm = confusion_matrix(logits.argmax(1), labels, num_classes)
    loss = F.cross_entropy(logits, labels, reduction="sum").item()
    return summarize(cm, topk_correct(logits, labels, (5,))[0], loss), cm


def linear_probe(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
                 test_labels: torch.Tensor, opts: ProbeOptions | None = None,
                 num_classes: int | None = None) -> tuple[dict, torch.Tensor, nn.Module]:
    """Cached features [N, D] / [M, D] -> (metrics with "solver" and the chosen hyperparameter, confusion [C, C],
    the fitted classifier)."""
    opts = opts or ProbeOptions()
    c = num_classes or int(max(train_labels.max(), test_labels.max())) + 1
    classifier, info = fit_probe(train_feats, train_labels, c, opts)
    with torch.no_grad():
        metrics, cm = classifier_metrics(classifier(test_feats), test_labels, c)
    return {**info, **metrics}, cm, classifier


def knn_probe(train_feats: torch.Tensor, train_labels: torch.Tensor, test_feats: torch.Tensor,
              test_labels: torch.Tensor, k: int = 20, temperature: float = 0.07,
              num_classes: int | None = None) -> tuple[dict, torch.Tensor]:
    """Cosine k-NN of cached features -> ({"solver": "knn", "k", "temperature", top1, top5, ...}, confusion)."""
    c = num_classes or int(max(train_labels.max(), test_labels.max())) + 1
    scores = knn_predict(train_feats, train_labels, test_feats, c, k, temperature)
    cm = confusion_matrix(scores.argmax(1), test_labels, c)
    metrics = summarize(cm, topk_correct(scores, test_labels, (5,))[0], 0.0)
    metrics.pop("loss")
    return {"solver": "knn", "k": k, "temperature": temperature, **metrics}, cm
