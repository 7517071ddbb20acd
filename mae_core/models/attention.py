"""Multi-head self-attention on SDPA, with the two relative-position schemes dense-task recipes use.

- ``rel_pos="decomposed"`` (ViTDet): per-axis tables ``rel_pos_h`` / ``rel_pos_w`` of shape [2*S-1, head_dim],
  added as ``q . R_h + q . R_w`` to the logits of spatial tokens.
- ``rel_pos="bias"`` (BEiT / mmseg MAE): a table ``relative_position_bias_table`` of shape
  [(2h-1)(2w-1) + 3, heads], the last 3 rows for cls->token, token->cls and cls->cls.
Both tables start at zero, so a pretrained ViT's output is unchanged until they learn something.
Tables are resampled (linearly) when the attended grid differs from the one they were built for.
"""
# Adapted from: the decomposed scheme of "Exploring Plain Vision Transformer Backbones" (ViTDet) and the bias
# table of BEiT; written anew on torch.nn.functional.scaled_dot_product_attention.
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def _resize_table_1d(table: torch.Tensor, length: int) -> torch.Tensor:
    """[L, C] -> [length, C] by linear interpolation."""
    if table.shape[0] == length:
        return table
    return F.interpolate(table.t().unsqueeze(0), size=length, mode="linear").squeeze(0).t()


def decomposed_rel_pos_bias(q: torch.Tensor, grid: tuple[int, int], rel_pos_h: torch.Tensor,
                            rel_pos_w: torch.Tensor) -> torch.Tensor:
    """q [B, heads, H*W, hd] (unscaled) -> additive bias [B, heads, H*W, H*W]."""
    h, w = grid
    rh = _resize_table_1d(rel_pos_h, 2 * h - 1)
    rw = _resize_table_1d(rel_pos_w, 2 * w - 1)
    ih = torch.arange(h, device=q.device)
    iw = torch.arange(w, device=q.device)
    rh = rh[(ih[:, None] - ih[None, :]) + h - 1]  # [h, h, hd]
    rw = rw[(iw[:, None] - iw[None, :]) + w - 1]  # [w, w, hd]
    b, nh, _, hd = q.shape
    r_q = q.reshape(b, nh, h, w, hd)
    bias_h = torch.einsum("bnhwc,hkc->bnhwk", r_q, rh.to(q.dtype))
    bias_w = torch.einsum("bnhwc,wkc->bnhwk", r_q, rw.to(q.dtype))
    bias = bias_h[..., :, None] + bias_w[..., None, :]  # [b, nh, h, w, kh, kw]
    return bias.reshape(b, nh, h * w, h * w)


def relative_position_index(grid: tuple[int, int], with_cls: bool, device=None) -> torch.Tensor:
    """BEiT's index into the bias table: [N, N] with N = (1 +) h*w."""
    h, w = grid
    coords = torch.stack(torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                                        indexing="ij")).flatten(1)  # [2, hw]
    rel = coords[:, :, None] - coords[:, None, :]
    idx = (rel[0] + h - 1) * (2 * w - 1) + (rel[1] + w - 1)
    if not with_cls:
        return idx
    n = (2 * h - 1) * (2 * w - 1)
    out = torch.zeros(h * w + 1, h * w + 1, dtype=idx.dtype, device=device)
    out[1:, 1:] = idx
    out[0, :] = n
    out[:, 0] = n + 1
    out[0, 0] = n + 2
    return out


# On a CPU, up to this many tokens the three explicit ops (two products and a softmax) run forward + backward faster
# than torch's CPU flash kernel in fp32 too (1.6-2x at the demo's 13 and 50 tokens, 1.3x at 257, in one measurement on
# 2 AVX2 cores); from about 577 on the flash kernel wins and keeps memory linear in the tokens.
CPU_EXPLICIT_MAX_TOKENS = 256


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """softmax(q k^T / sqrt(d) + bias) v for q, k, v [B, heads, N, hd].

    SDPA (flash / memory-efficient kernels) on GPUs and for long sequences. On a CPU the products run explicitly
    (softmax in fp32) for bf16, where torch's CPU flash kernel is several times slower than two bf16 matrix products
    (its backward above all), and for sequences of up to ``CPU_EXPLICIT_MAX_TOKENS`` in any precision.
    """
    if q.is_cuda or (q.dtype != torch.bfloat16 and q.shape[-2] > CPU_EXPLICIT_MAX_TOKENS):
        return F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
    attn = (q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)
    if bias is not None:
        attn = attn + bias
    return attn.float().softmax(dim=-1).to(v.dtype) @ v


class Attention(nn.Module):
    """x [B, N, D] -> [B, N, D]. Parameter names as timm's (`qkv`, `proj`) and ViTDet's / BEiT's tables."""

    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, rel_pos: str | None = None,
                 rel_pos_grid: tuple[int, int] = (14, 14)) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"attention width {dim} is not divisible by its {num_heads} heads")
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        self.rel_pos = rel_pos
        self.rel_pos_grid = tuple(rel_pos_grid)
        h, w = self.rel_pos_grid
        if rel_pos == "decomposed":
            self.rel_pos_h = nn.Parameter(torch.zeros(2 * h - 1, self.head_dim))
            self.rel_pos_w = nn.Parameter(torch.zeros(2 * w - 1, self.head_dim))
        elif rel_pos == "bias":
            self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * h - 1) * (2 * w - 1) + 3, num_heads))
        elif rel_pos is not None:
            raise ValueError(f"rel_pos must be None, 'decomposed' or 'bias', got {rel_pos!r}")

    def _bias_table_bias(self, grid: tuple[int, int], num_prefix: int, device) -> torch.Tensor:
        h0, w0 = self.rel_pos_grid
        table = self.relative_position_bias_table
        spatial, extra = table[:-3], table[-3:]
        if (h0, w0) != tuple(grid):
            sp = spatial.t().reshape(1, -1, 2 * h0 - 1, 2 * w0 - 1)
            sp = F.interpolate(sp, size=(2 * grid[0] - 1, 2 * grid[1] - 1), mode="bilinear", align_corners=False)
            spatial = sp.reshape(self.num_heads, -1).t()
        table = torch.cat([spatial, extra], dim=0)
        idx = relative_position_index(grid, with_cls=num_prefix > 0, device=device)
        return table[idx.reshape(-1)].reshape(idx.shape[0], idx.shape[1], -1).permute(2, 0, 1).unsqueeze(0)

    def forward(self, x: torch.Tensor, grid: tuple[int, int] | None = None, num_prefix: int = 0) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4).unbind(0)
        bias = None
        if self.rel_pos is not None:
            if grid is None:
                raise ValueError("relative position needs the token grid (H, W)")
            if self.rel_pos == "decomposed":
                spatial = decomposed_rel_pos_bias(q[:, :, num_prefix:], grid, self.rel_pos_h, self.rel_pos_w)
                bias = F.pad(spatial, (num_prefix, 0, num_prefix, 0)) if num_prefix else spatial
            else:
                if num_prefix > 1:
                    raise ValueError("the BEiT bias table supports at most one prefix (cls) token")
                bias = self._bias_table_bias(grid, num_prefix, x.device)
            bias = bias.to(q.dtype)
        x = attend(q, k, v, bias)
        return self.proj(x.transpose(1, 2).reshape(b, n, d))
