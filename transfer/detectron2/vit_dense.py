"""The project's one ViT set up for dense prediction (ViTDet options) and run on patch tokens without a cls token.

Nothing here is a second model: :func:`create_dense_vit` calls ``mae_core.models.vit.create_vit`` with window attention,
decomposed relative position (zero-init), a learnable absolute position table at the detection input size, drop
path and gradient checkpointing. Dense features come from the ViT's own patch-tokens-only forward
(``VisionTransformer.forward_patch_tokens``: no cls token, no final norm, position table resampled to the grid).
"""
# Adapted from: "Exploring Plain Vision Transformer Backbones for Object Detection" (ViTDet), written anew on
# mae_core's ViT.
from __future__ import annotations

from collections.abc import Sequence

from mae_core.models.vit import VIT_SIZES, VisionTransformer, create_vit

# Blocks with global attention per size, as ViTDet; the others attend within windows.
GLOBAL_BLOCKS: dict[int, tuple[int, ...]] = {12: (2, 5, 8, 11), 24: (5, 11, 17, 23), 32: (7, 15, 23, 31)}


def default_global_blocks(depth: int) -> tuple[int, ...]:
    """ViTDet's global blocks for depth 12/24/32; otherwise the last block of each quarter of the depth."""
    if depth in GLOBAL_BLOCKS:
        return GLOBAL_BLOCKS[depth]
    return tuple(sorted({max(0, (k + 1) * depth // 4 - 1) for k in range(4)}))


def create_dense_vit(name: str = "vit_base_patch16", img_size: int = 1024, window_size: int = 14,
                     global_blocks: Sequence[int] | None = None, drop_path_rate: float = 0.1,
                     rel_pos: str | None = "decomposed", grad_checkpointing: bool = False,
                     **kwargs) -> VisionTransformer:
    """A :class:`VisionTransformer` of size `name` with ViTDet's options for an `img_size` input.

    window_size 0 gives global attention everywhere; ``patch_size=16`` (a keyword) turns ViT-H/14 into ViTDet's
    ViT-H/16. The cls token and the final ``norm`` stay in the module (so that MAE checkpoints load without
    unexpected keys) but are frozen: ``forward_patch_tokens`` does not use them, as ViTDet's ViT has neither.
    """
    depth = kwargs.get("depth", VIT_SIZES[name][1] if name in VIT_SIZES else 0)
    glob = default_global_blocks(depth) if global_blocks is None else tuple(global_blocks)
    bad = [i for i in glob if not 0 <= i < depth]
    if bad:
        raise ValueError(f"global_blocks {bad} out of range for a ViT of depth {depth}")
    windowed = tuple(i for i in range(depth) if i not in glob) if window_size else ()
    vit = create_vit(name, img_size=img_size, num_classes=0, global_pool="", fc_norm=False,
                     drop_path_rate=drop_path_rate, rel_pos=rel_pos, window_size=window_size,
                     window_block_indexes=windowed, learn_pos_embed=True, grad_checkpointing=grad_checkpointing,
                     **kwargs)
    vit.cls_token.requires_grad_(False)
    vit.norm.requires_grad_(False)
    return vit
