"""LARS (You et al., 2017) as the MAE linear probe uses it: SGD with momentum whose update of every parameter with
more than one dimension is rescaled to ``trust_coefficient * ||p||``; 1-D parameters (biases, norms) are plain SGD.

# Adapted from: the layer-wise trust ratio of the LARS paper, in the form the reference MAE linear probe applies it.
"""
from __future__ import annotations

import torch


class LARS(torch.optim.Optimizer):
    def __init__(self, params, lr: float = 0.0, weight_decay: float = 0.0, momentum: float = 0.9,
                 trust_coefficient: float = 0.001) -> None:
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum,
                                      trust_coefficient=trust_coefficient))

    @torch.no_grad()
    def step(self, closure=None):
        loss = closure() if closure is not None else None
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                d = p.grad
                if p.ndim > 1:
                    d = d.add(p, alpha=g["weight_decay"])
                    p_norm, d_norm = torch.norm(p), torch.norm(d)
                    ratio = torch.where((p_norm > 0) & (d_norm > 0), g["trust_coefficient"] * p_norm / d_norm,
                                        torch.ones_like(p_norm))
                    d = d.mul(ratio)
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"].mul_(g["momentum"]).add_(d)
                p.add_(mu, alpha=-g["lr"])
        return loss
