"""The one ViT (:mod:`.vit`), its attention (:mod:`.attention`), position tables (:mod:`.pos_embed`), patches
(:mod:`.patches`), masking (:mod:`.masking`), the masked autoencoder (:mod:`.mae`) and the analytic FLOP count
(:mod:`.flops`). The names below are imported on first use, so ``mae_core.models.patches`` (which the targets
use) imports without the autoencoder (which uses the targets)."""
from typing import TYPE_CHECKING

from .._lazy import lazy_exports

_VIT = ("VIT_SIZES", "VisionTransformer", "create_vit", "vit_base_patch16", "vit_demo_patch4", "vit_huge_patch14",
        "vit_large_patch16", "vit_micro_patch4", "vit_small_patch16", "vit_tiny_patch16")
_EXPORTS = {**{n: ".vit" for n in _VIT}, "Masking": ".masking", "build_mask_generator": ".masking",
            **{n: ".mae" for n in ("MaskedAutoencoder", "create_mae", "mae_vit_base_patch16", "mae_vit_huge_patch14",
                                   "mae_vit_large_patch16")}}
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = ["VIT_SIZES", "MaskedAutoencoder", "Masking", "VisionTransformer", "build_mask_generator", "create_mae",
           "create_vit", "mae_vit_base_patch16", "mae_vit_huge_patch14", "mae_vit_large_patch16", "vit_base_patch16",
           "vit_demo_patch4", "vit_huge_patch14", "vit_large_patch16", "vit_micro_patch4", "vit_small_patch16",
           "vit_tiny_patch16"]

if TYPE_CHECKING:
    from .mae import MaskedAutoencoder, create_mae, mae_vit_base_patch16, mae_vit_huge_patch14, mae_vit_large_patch16
    from .masking import Masking, build_mask_generator
    from .vit import (
        VIT_SIZES,
        VisionTransformer,
        create_vit,
        vit_base_patch16,
        vit_demo_patch4,
        vit_huge_patch14,
        vit_large_patch16,
        vit_micro_patch4,
        vit_small_patch16,
        vit_tiny_patch16,
    )
