"""Layer-wise lr decay for mmengine: an optimizer-wrapper constructor around
``mae_core.engine.lr_decay.param_groups_lrd``.

Config (mmseg's numbering: embeddings layer 0, block k layer k + 1, neck / heads / anything else the top layer)::

    optim_wrapper = dict(type="OptimWrapper",            # or "AmpOptimWrapper" for mixed precision on a GPU
                         optimizer=dict(type="AdamW", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
                         constructor="MAELayerDecayConstructor",
                         paramwise_cfg=dict(num_layers=12, layer_decay_rate=0.65))

Group lr = lr * rate ** (num_layers + 1 - layer_id), the numbers of mmseg's LayerDecayOptimizerConstructor.
Biases and 1-D parameters (norms, layer scales, relative-position tables are 2-D and do decay, as in mmseg) take
no weight decay; nor do the ``no_decay_names`` (``pos_embed``, ``cls_token`` by default, as the MAE reference).
"""
from __future__ import annotations

import contextlib
import difflib
import logging

import torch
import torch.nn as nn
from mmengine.optim import DefaultOptimWrapperConstructor, OptimWrapper
from mmengine.registry import OPTIM_WRAPPERS
from mmseg.registry import OPTIM_WRAPPER_CONSTRUCTORS

from mae_core.engine.lr_decay import param_groups_lrd

logger = logging.getLogger(__name__)

PARAMWISE_KEYS = ("num_layers", "layer_decay_rate", "no_decay_names", "prefix", "block_name")


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class MAELayerDecayConstructor(DefaultOptimWrapperConstructor):
    """Builds AdamW (or any optimizer) param groups with ``lr_scale`` per ViT layer for an mmseg segmentor."""

    def __init__(self, optim_wrapper_cfg: dict, paramwise_cfg: dict | None = None) -> None:
        cfg = dict(paramwise_cfg or {})
        unknown = [k for k in cfg if k not in PARAMWISE_KEYS]
        if unknown:
            hints = {k: difflib.get_close_matches(k, PARAMWISE_KEYS, n=1) for k in unknown}
            raise KeyError("unknown paramwise_cfg keys for MAELayerDecayConstructor: "
                           + ", ".join(f"{k}" + (f" (did you mean {h[0]!r}?)" if h else "") for k, h in hints.items()))
        for k in ("num_layers", "layer_decay_rate"):
            if k not in cfg:
                raise KeyError(f"MAELayerDecayConstructor needs paramwise_cfg.{k}")
        super().__init__(optim_wrapper_cfg, paramwise_cfg=None)
        self.layer_cfg = cfg

    def __call__(self, model: nn.Module):
        if hasattr(model, "module"):
            model = model.module
        cfg = self.layer_cfg
        prefix, block_name = cfg.get("prefix", "backbone."), cfg.get("block_name", "blocks")
        groups = param_groups_lrd(model, weight_decay=self.base_wd or 0.0, layer_decay=cfg["layer_decay_rate"],
                                  depth=cfg["num_layers"], prefix=prefix, block_name=block_name,
                                  skip_names=tuple(cfg.get("no_decay_names", ("pos_embed", "cls_token"))),
                                  base_lr=self.base_lr)
        found = max((g["layer_id"] for g in groups if g["layer_id"] <= cfg["num_layers"]), default=0)
        if found != cfg["num_layers"]:
            raise ValueError(f"paramwise_cfg.num_layers={cfg['num_layers']} but the model's last "
                             f"{prefix}{block_name}.N is block {found - 1}")
        for g in groups:
            logger.debug("layer %d wd %.3g lr_scale %.4g: %d tensors", g["layer_id"], g["weight_decay"],
                         g["lr_scale"], len(g["params"]))
        # Build optimizer and wrapper through mmengine, with our groups in place of model.parameters().
        from mmengine.registry import OPTIM_WRAPPERS, OPTIMIZERS
        optimizer_cfg = self.optimizer_cfg.copy()
        optimizer_cfg["params"] = groups
        optimizer = OPTIMIZERS.build(optimizer_cfg)
        wrapper_cfg = self.optim_wrapper_cfg.copy()
        wrapper_cfg.setdefault("type", "OptimWrapper")
        return OPTIM_WRAPPERS.build(wrapper_cfg, default_args=dict(optimizer=optimizer))


@OPTIM_WRAPPERS.register_module()
class CpuBf16OptimWrapper(OptimWrapper):
    """mmengine's OptimWrapper with the training forward and loss under bf16 autocast on the CPU, where mmengine's
    AmpOptimWrapper asks for a GPU. bf16 keeps fp32's exponent range, so no loss scaling; weights, gradients and
    the optimizer stay fp32. transfer.mmseg.train puts it in place of ``AmpOptimWrapper`` on a CPU that runs bf16
    the faster."""

    @contextlib.contextmanager
    def optim_context(self, model: nn.Module):
        with super().optim_context(model), torch.autocast("cpu", dtype=torch.bfloat16):
            yield
