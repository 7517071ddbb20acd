"""mae_core: the one ViT, the masked autoencoder and its pretraining. Imports torch, torchvision, timm, numpy, PIL and
tqdm only; every framework adapter lives in ``transfer``.

    import mae_core
    model = mae_core.mae_vit_base_patch16(norm_pix_loss=True)       # the reference factory names
    vit = mae_core.load_encoder("mae_pretrain_vit_base.pth")         # official or own checkpoints, strict
    groups = mae_core.param_groups_lrd(vit, weight_decay=0.05, layer_decay=0.75)
"""
__version__ = "0.1.0"

from .checkpoint import load_encoder, load_weights  # noqa: E402
from .engine import param_groups_lrd, pretrain  # noqa: E402
from .models import (  # noqa: E402
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

__all__ = ["MaskedAutoencoder", "VisionTransformer", "__version__", "create_mae", "create_vit", "load_encoder",
           "load_weights", "mae_vit_base_patch16", "mae_vit_huge_patch14", "mae_vit_large_patch16", "param_groups_lrd",
           "pretrain", "vit_base_patch16", "vit_demo_patch4", "vit_huge_patch14", "vit_large_patch16",
           "vit_micro_patch4", "vit_small_patch16", "vit_tiny_patch16"]
