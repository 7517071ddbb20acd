"""mae_core: the one ViT, the masked autoencoder and its pretraining. Imports torch, torchvision, timm, numpy, PIL and
tqdm only; every framework adapter lives in ``transfer``.

    import mae_core
    model = mae_core.mae_vit_base_patch16(norm_pix_loss=True)       # the reference factory names
    vit = mae_core.load_encoder("mae_pretrain_vit_base.pth")         # official or own checkpoints, strict
    groups = mae_core.param_groups_lrd(vit, weight_decay=0.05, layer_decay=0.75)

The names below are imported on first use (:mod:`mae_core._lazy`), so ``import mae_core.config`` stays light.
"""
from typing import TYPE_CHECKING

from ._lazy import lazy_exports

__version__ = "0.1.0"

_MODELS = ("MaskedAutoencoder", "VisionTransformer", "create_mae", "create_vit", "mae_vit_base_patch16",
           "mae_vit_huge_patch14", "mae_vit_large_patch16", "vit_base_patch16", "vit_demo_patch4", "vit_huge_patch14",
           "vit_large_patch16", "vit_micro_patch4", "vit_small_patch16", "vit_tiny_patch16")
_EXPORTS = {**{n: ".models" for n in _MODELS}, "load_encoder": ".checkpoint", "load_weights": ".checkpoint",
            "param_groups_lrd": ".engine", "pretrain": ".engine"}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["MaskedAutoencoder", "VisionTransformer", "__version__", "create_mae", "create_vit", "load_encoder",
           "load_weights", "mae_vit_base_patch16", "mae_vit_huge_patch14", "mae_vit_large_patch16", "param_groups_lrd",
           "pretrain", "vit_base_patch16", "vit_demo_patch4", "vit_huge_patch14", "vit_large_patch16",
           "vit_micro_patch4", "vit_small_patch16", "vit_tiny_patch16"]

if TYPE_CHECKING:
    from .checkpoint import load_encoder, load_weights
    from .engine import param_groups_lrd, pretrain
    from .models import (
        MaskedAutoencoder,
        VisionTransformer,
        create_mae,
        create_vit,
        mae_vit_base_patch16,
        mae_vit_huge_patch14,
        mae_vit_large_patch16,
        vit_base_patch16,
        vit_demo_patch4,
        vit_huge_patch14,
        vit_large_patch16,
        vit_micro_patch4,
        vit_small_patch16,
        vit_tiny_patch16,
    )
