"""The one ViT (:mod:`.vit`), its attention (:mod:`.attention`), position tables (:mod:`.pos_embed`), patches
(:mod:`.patches`), masking (:mod:`.masking`), the masked autoencoder (:mod:`.mae`) and the analytic FLOP count
(:mod:`.flops`)."""
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

__all__ = ["VIT_SIZES", "MaskedAutoencoder", "Masking", "VisionTransformer", "build_mask_generator", "create_mae",
           "create_vit", "mae_vit_base_patch16", "mae_vit_huge_patch14", "mae_vit_large_patch16", "vit_base_patch16",
           "vit_demo_patch4", "vit_huge_patch14", "vit_large_patch16", "vit_micro_patch4", "vit_small_patch16",
           "vit_tiny_patch16"]
