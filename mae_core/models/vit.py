"""The one Vision Transformer of the project, with timm's parameter names.

Every consumer wraps this class: MAE pretraining (``mae_core.models.mae``), classification, the detectron2 backbone and
the mmseg backbone. Names match timm's ``VisionTransformer`` (``patch_embed.proj``, ``cls_token``, ``pos_embed``,
``blocks.{i}.norm1/attn.qkv/attn.proj/ls1.gamma/norm2/mlp.fc1/mlp.fc2/ls2.gamma``, ``norm``, ``fc_norm``, ``head``),
so official MAE and timm checkpoints load with ``strict=True``.

Shapes: images [B, C, H, W]; tokens [B, P + h*w, D] with P = 1 prefix (cls) token; grid (h, w) = (H/p, W/p).
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.layers import DropPath, LayerScale, Mlp
from torch.utils.checkpoint import checkpoint

from mae_core.models.attention import Attention
from mae_core.models.pos_embed import resample_pos_embed, sincos_2d

LayerNorm = partial(nn.LayerNorm, eps=1e-6)


def _window_partition(x: torch.Tensor, ws: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """[B, H, W, D] -> [B*nW, ws*ws, D], zero-padding H and W up to multiples of ws; returns the padded size."""
    b, h, w, d = x.shape
    ph, pw = (ws - h % ws) % ws, (ws - w % ws) % ws
    if ph or pw:
        x = F.pad(x, (0, 0, 0, pw, 0, ph))
    hp, wp = h + ph, w + pw
    x = x.reshape(b, hp // ws, ws, wp // ws, ws, d).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(-1, ws * ws, d), (hp, wp)


def _window_unpartition(x: torch.Tensor, ws: int, padded: tuple[int, int], hw: tuple[int, int]) -> torch.Tensor:
    """[B*nW, ws*ws, D] -> [B, H, W, D] (padding removed)."""
    hp, wp = padded
    d = x.shape[-1]
    b = x.shape[0] // ((hp // ws) * (wp // ws))
    x = x.reshape(b, hp // ws, wp // ws, ws, ws, d).permute(0, 1, 3, 2, 4, 5).reshape(b, hp, wp, d)
    return x[:, : hw[0], : hw[1]]


class Block(nn.Module):
    """Pre-norm transformer block. ``window_size > 0`` attends within non-overlapping windows (no prefix tokens)."""

    def __init__(self, dim: int, num_heads: int, mlp_ratio: float = 4.0, qkv_bias: bool = True,
                 drop_path: float = 0.0, init_values: float | None = None, rel_pos: str | None = None,
                 rel_pos_grid: tuple[int, int] = (14, 14), window_size: int = 0) -> None:
        super().__init__()
        self.window_size = window_size
        self.norm1 = LayerNorm(dim)
        grid = (window_size, window_size) if window_size else rel_pos_grid
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, rel_pos=rel_pos, rel_pos_grid=grid)
        self.ls1 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path1 = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), act_layer=nn.GELU)
        self.ls2 = LayerScale(dim, init_values) if init_values else nn.Identity()
        self.drop_path2 = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def _attend(self, x: torch.Tensor, grid: tuple[int, int] | None, num_prefix: int) -> torch.Tensor:
        if not self.window_size:
            return self.attn(x, grid, num_prefix)
        if grid is None or num_prefix:
            raise ValueError("window attention needs the token grid and no prefix tokens")
        b, n, d = x.shape
        win, padded = _window_partition(x.reshape(b, grid[0], grid[1], d), self.window_size)
        win = self.attn(win, (self.window_size, self.window_size), 0)
        return _window_unpartition(win, self.window_size, padded, grid).reshape(b, n, d)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None, num_prefix: int = 1) -> torch.Tensor:
        x = x + self.drop_path1(self.ls1(self._attend(self.norm1(x), grid, num_prefix)))
        return x + self.drop_path2(self.ls2(self.mlp(self.norm2(x))))


class PatchEmbed(nn.Module):
    """[B, C, H, W] -> [B, h*w, D] with a strided convolution (timm's ``patch_embed.proj``)."""

    def __init__(self, img_size: int | tuple[int, int], patch_size: int, in_chans: int, embed_dim: int) -> None:
        super().__init__()
        self.img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        self.patch_size = (patch_size, patch_size)
        self.grid_size = (self.img_size[0] // patch_size, self.img_size[1] // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p = self.patch_size[0]
        if x.shape[-2] % p or x.shape[-1] % p:
            raise ValueError(f"image size {tuple(x.shape[-2:])} is not a multiple of the patch size {p}")
        return self.proj(x).flatten(2).transpose(1, 2)


class VisionTransformer(nn.Module):
    """ViT encoder (+ optional classification head).

    global_pool: 'token' (cls token after ``norm``), 'avg' (mean of patch tokens, then ``fc_norm``, the MAE
    fine-tuning default) or '' (no pooling). rel_pos / window_size / window_block_indexes: dense-task options.
    """

    def __init__(self, img_size: int | tuple[int, int] = 224, patch_size: int = 16, in_chans: int = 3,
                 num_classes: int = 0, embed_dim: int = 768, depth: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, qkv_bias: bool = True, drop_rate: float = 0.0, drop_path_rate: float = 0.0,
                 global_pool: str = "token", fc_norm: bool | None = None, init_values: float | None = None,
                 rel_pos: str | None = None, window_size: int = 0, window_block_indexes: tuple[int, ...] = (),
                 learn_pos_embed: bool = False, grad_checkpointing: bool = False) -> None:
        super().__init__()
        if global_pool not in ("token", "avg", ""):
            raise ValueError(f"global_pool must be 'token', 'avg' or '', got {global_pool!r}")
        self.global_pool = global_pool
        self.num_classes = num_classes
        self.embed_dim = self.num_features = embed_dim
        self.num_heads = num_heads
        self.num_prefix_tokens = 1
        self.grad_checkpointing = grad_checkpointing
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, self.patch_embed.num_patches + 1, embed_dim),
                                      requires_grad=learn_pos_embed)
        dpr = torch.linspace(0, drop_path_rate, depth).tolist()
        self.blocks = nn.ModuleList([
            Block(embed_dim, num_heads, mlp_ratio, qkv_bias, dpr[i], init_values, rel_pos, self.patch_embed.grid_size,
                  window_size if i in window_block_indexes else 0)
            for i in range(depth)])
        use_fc_norm = global_pool == "avg" if fc_norm is None else fc_norm
        self.norm = nn.Identity() if use_fc_norm else LayerNorm(embed_dim)
        self.fc_norm = LayerNorm(embed_dim) if use_fc_norm else nn.Identity()
        self.head_drop = nn.Dropout(drop_rate)
        self.head = nn.Linear(embed_dim, num_classes) if num_classes > 0 else nn.Identity()
        self.init_weights()

    # ----------------------------------------------------------------------------------------------- init
    def init_weights(self) -> None:
        """MAE init: sin-cos positions, xavier-uniform linears and patch projection, normal(0.02) tokens."""
        self.pos_embed.data.copy_(sincos_2d(self.embed_dim, self.patch_embed.grid_size))
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view(w.shape[0], -1))
        nn.init.normal_(self.cls_token, std=0.02)
        self.apply(init_linear_and_norm)

    # ----------------------------------------------------------------------------------------------- tokens
    def grid_for(self, img_hw: tuple[int, int]) -> tuple[int, int]:
        p = self.patch_embed.patch_size[0]
        return img_hw[0] // p, img_hw[1] // p

    def pos_embed_for(self, grid: tuple[int, int]) -> torch.Tensor:
        """[1, 1 + h*w, D]: the table, resampled when the grid differs from the one it was built for."""
        return resample_pos_embed(self.pos_embed, grid, self.patch_embed.grid_size)

    def prepare_tokens(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """[B, C, H, W] -> tokens [B, 1 + h*w, D] with positions added, and the grid (h, w)."""
        grid = self.grid_for(x.shape[-2:])
        x = self.patch_embed(x)
        pos = self.pos_embed_for(grid)
        cls = (self.cls_token + pos[:, :1]).expand(x.shape[0], -1, -1)
        return torch.cat([cls, x + pos[:, 1:]], dim=1), grid

    def run_block(self, blk: Block, x: torch.Tensor, grid: tuple[int, int] | None, num_prefix: int) -> torch.Tensor:
        if self.grad_checkpointing and self.training and not torch.jit.is_scripting():
            return checkpoint(blk, x, grid, num_prefix, use_reentrant=False)
        return blk(x, grid, num_prefix)

    # ----------------------------------------------------------------------------------------------- forward
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """[B, C, H, W] -> [B, 1 + h*w, D] (after ``norm``)."""
        x, grid = self.prepare_tokens(x)
        for blk in self.blocks:
            x = self.run_block(blk, x, grid, self.num_prefix_tokens)
        return self.norm(x)

    def pool(self, x: torch.Tensor) -> torch.Tensor:
        """[B, 1 + N, D] -> [B, D] by the configured global pool (then ``fc_norm``)."""
        if self.global_pool == "avg":
            x = x[:, self.num_prefix_tokens:].mean(dim=1)
        elif self.global_pool == "token":
            x = x[:, 0]
        return self.fc_norm(x)

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.head_drop(self.pool(x))
        return x if pre_logits else self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def forward_intermediates(self, x: torch.Tensor, indices: int | list[int] | tuple[int, ...] | None = None,
                              norm: bool = False, output_fmt: str = "NCHW", drop_prefix: bool = True,
                              stop_early: bool = True) -> list[torch.Tensor]:
        """Outputs of the chosen blocks: a list of [B, D, h, w] (NCHW) or [B, h*w, D] (NLC).

        indices: block indices, or an int n for the last n blocks (timm's convention); None = all.
        """
        depth = len(self.blocks)
        if indices is None:
            take = list(range(depth))
        elif isinstance(indices, int):
            take = list(range(depth - indices, depth))
        else:
            take = [i % depth for i in indices]
        x, grid = self.prepare_tokens(x)
        outs = []
        last = max(take) if stop_early else depth - 1
        for i, blk in enumerate(self.blocks[: last + 1]):
            x = self.run_block(blk, x, grid, self.num_prefix_tokens)
            if i in take:
                y = self.norm(x) if norm else x
                y = y[:, self.num_prefix_tokens:] if drop_prefix else y
                if output_fmt == "NCHW":
                    y = y.reshape(y.shape[0], grid[0], grid[1], -1).permute(0, 3, 1, 2).contiguous()
                outs.append(y)
        return outs

    def forward_patch_tokens(self, x: torch.Tensor, out_indices: list[int] | tuple[int, ...] | None = None
                             ) -> list[torch.Tensor]:
        """Patch tokens only, for dense adapters: images [B, C, H, W] -> outputs of blocks `out_indices` (default:
        the last; negative indices count from the end) as [B, D, H/p, W/p] each.

        No cls token: tokens are ``patch_embed(x)`` plus the position table's patch rows resampled to the grid (its
        cls row is not used), and blocks run with no prefix token, which window attention requires. No final norm.
        """
        depth = len(self.blocks)
        take = [depth - 1] if out_indices is None else [i % depth for i in out_indices]
        grid = self.grid_for(x.shape[-2:])
        tokens = self.patch_embed(x) + self.pos_embed_for(grid)[:, self.num_prefix_tokens:].to(x.dtype)
        outs = {}
        for i, blk in enumerate(self.blocks[: max(take) + 1]):
            tokens = self.run_block(blk, tokens, grid, 0)
            if i in take:
                outs[i] = tokens.transpose(1, 2).reshape(tokens.shape[0], -1, grid[0], grid[1])
        return [outs[i] for i in take]

    def no_weight_decay(self) -> set[str]:
        return {"pos_embed", "cls_token"}

    def set_grad_checkpointing(self, enable: bool = True) -> None:
        self.grad_checkpointing = enable


def init_linear_and_norm(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None:
            nn.init.zeros_(m.bias)
    elif isinstance(m, nn.LayerNorm):
        nn.init.ones_(m.weight)
        nn.init.zeros_(m.bias)


# --------------------------------------------------------------------------------------------------- factories
# name -> (embed_dim, depth, num_heads, patch_size, img_size)
VIT_SIZES: dict[str, tuple[int, int, int, int, int]] = {
    "vit_micro_patch4": (64, 2, 2, 4, 32),
    "vit_demo_patch4": (192, 6, 3, 4, 28),
    "vit_tiny_patch16": (192, 12, 3, 16, 224),
    "vit_small_patch16": (384, 12, 6, 16, 224),
    "vit_base_patch16": (768, 12, 12, 16, 224),
    "vit_large_patch16": (1024, 24, 16, 16, 224),
    "vit_huge_patch14": (1280, 32, 16, 14, 224),
}


def create_vit(name: str, **kwargs) -> VisionTransformer:
    """Builds an encoder by size name; keyword arguments override the size's defaults."""
    if name not in VIT_SIZES:
        raise KeyError(f"unknown ViT size {name!r}; known: {', '.join(VIT_SIZES)}")
    dim, depth, heads, patch, img = VIT_SIZES[name]
    args = dict(embed_dim=dim, depth=depth, num_heads=heads, patch_size=patch, img_size=img)
    args.update(kwargs)
    return VisionTransformer(**args)


def _factory(name: str):
    def build(**kwargs) -> VisionTransformer:
        return create_vit(name, **kwargs)
    build.__name__ = name
    build.__doc__ = f"{name}: embed_dim, depth, heads, patch, img_size = {VIT_SIZES[name]}"
    return build


vit_micro_patch4 = _factory("vit_micro_patch4")
vit_demo_patch4 = _factory("vit_demo_patch4")
vit_tiny_patch16 = _factory("vit_tiny_patch16")
vit_small_patch16 = _factory("vit_small_patch16")
vit_base_patch16 = _factory("vit_base_patch16")
vit_large_patch16 = _factory("vit_large_patch16")
vit_huge_patch14 = _factory("vit_huge_patch14")
