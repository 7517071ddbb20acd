"""The benchmark's baseline: an MAE built the way the reference implementation builds it, for side-by-side speed.

timm ``PatchEmbed`` and ``Block`` for encoder and decoder, with timm's eager attention (the reference code pins
timm 0.3.2, whose attention is ``softmax(q @ k^T) @ v`` in three ops), the same random masking, and the loss computed
over every patch then masked. Not used for training; only ``tools/benchmark.py`` builds it.
"""
from __future__ import annotations

from functools import partial

import torch
import torch.nn as nn
from timm.layers import PatchEmbed
from timm.models.vision_transformer import Block

from mae_core.models.masking import random_masking
from mae_core.models.patches import patchify
from mae_core.models.pos_embed import sincos_2d


class ReferenceStyleMAE(nn.Module):
    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int, depth: int, num_heads: int,
                 decoder_embed_dim: int, decoder_depth: int, decoder_num_heads: int, norm_pix_loss: bool = True):
        super().__init__()
        norm = partial(nn.LayerNorm, eps=1e-6)
        self.patch_embed = PatchEmbed(img_size, patch_size, in_chans, embed_dim)
        n = self.patch_embed.num_patches
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim))
        self.pos_embed = nn.Parameter(sincos_2d(embed_dim, self.patch_embed.grid_size), requires_grad=False)
        self.blocks = nn.ModuleList([Block(embed_dim, num_heads, 4.0, qkv_bias=True, norm_layer=norm)
                                     for _ in range(depth)])
        self.norm = norm(embed_dim)
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(sincos_2d(decoder_embed_dim, self.patch_embed.grid_size),
                                              requires_grad=False)
        self.decoder_blocks = nn.ModuleList([Block(decoder_embed_dim, decoder_num_heads, 4.0, qkv_bias=True,
                                                   norm_layer=norm) for _ in range(decoder_depth)])
        self.decoder_norm = norm(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, patch_size ** 2 * in_chans)
        self.patch_size, self.norm_pix_loss, self.num_patches = patch_size, norm_pix_loss, n
        for blk in [*self.blocks, *self.decoder_blocks]:
            blk.attn.fused_attn = False  # the reference's timm 0.3.2 attention

    def forward(self, imgs: torch.Tensor, mask_ratio: float = 0.75) -> torch.Tensor:
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        n, length, d = x.shape
        m = random_masking(n, length, mask_ratio, device=x.device)
        x = torch.gather(x, 1, m.ids_keep.unsqueeze(-1).repeat(1, 1, d))
        cls = self.cls_token + self.pos_embed[:, :1, :]
        x = torch.cat((cls.expand(x.shape[0], -1, -1), x), dim=1)
        for blk in self.blocks:
            x = blk(x)
        x = self.decoder_embed(self.norm(x))
        mask_tokens = self.mask_token.repeat(x.shape[0], m.ids_restore.shape[1] + 1 - x.shape[1], 1)
        x_ = torch.cat([x[:, 1:, :], mask_tokens], dim=1)
        x_ = torch.gather(x_, 1, m.ids_restore.unsqueeze(-1).repeat(1, 1, x.shape[2]))
        x = torch.cat([x[:, :1, :], x_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            x = blk(x)
        pred = self.decoder_pred(self.decoder_norm(x))[:, 1:, :]
        target = patchify(imgs, self.patch_size)
        if self.norm_pix_loss:
            mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
            target = (target - mean) / (var + 1.0e-6) ** 0.5
        loss = ((pred - target) ** 2).mean(dim=-1)
        return (loss * m.mask).sum() / m.mask.sum()
