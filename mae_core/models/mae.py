"""The masked autoencoder: the project's ViT as encoder, a light decoder, a reconstruction target.

``MaskedAutoencoder`` extends :class:`VisionTransformer`, so its encoder parameters keep their timm/official names
at the top level and the decoder's are the reference code's (``mask_token``, ``decoder_embed``,
``decoder_pos_embed``, ``decoder_blocks.{i}...``, ``decoder_norm``, ``decoder_pred``): official full checkpoints
(``mae_visualize_vit_*.pth``) load with ``strict=True``.

Data flow: imgs [N, C, H, W] -> patch tokens [N, L, D] -> keep K = int(L(1 - r)) -> encoder [N, 1 + K, D]
-> decoder (mask tokens, unshuffle) [N, 1 + L, Dd] -> predictions [N, L, out_dim] -> loss on removed patches.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from mae_core.models.masking import Masking, build_mask_generator
from mae_core.models.pos_embed import sincos_2d
from mae_core.models.vit import VIT_SIZES, Block, LayerNorm, VisionTransformer, init_linear_and_norm
from mae_core.targets.base import ReconstructionTarget, build_target


class MaskedAutoencoder(VisionTransformer):
    def __init__(self, img_size: int | tuple[int, int] = 224, patch_size: int = 16, in_chans: int = 3,
                 embed_dim: int = 1024, depth: int = 24, num_heads: int = 16, mlp_ratio: float = 4.0,
                 decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
                 norm_pix_loss: bool = False, target: str | ReconstructionTarget | None = None,
                 mask_ratio: float = 0.75, masking: str = "random", mask_token_in_encoder: bool = False,
                 drop_path_rate: float = 0.0, grad_checkpointing: bool = False, norm_layer=None,
                 target_kwargs: dict | None = None) -> None:
        # norm_layer is accepted for the reference factories' signature; LayerNorm(eps=1e-6) is what they pass.
        super().__init__(img_size=img_size, patch_size=patch_size, in_chans=in_chans, num_classes=0,
                         embed_dim=embed_dim, depth=depth, num_heads=num_heads, mlp_ratio=mlp_ratio,
                         drop_path_rate=drop_path_rate, global_pool="token", grad_checkpointing=grad_checkpointing)
        if decoder_embed_dim % decoder_num_heads:
            raise ValueError(f"decoder_embed_dim={decoder_embed_dim} is not divisible by "
                             f"decoder_num_heads={decoder_num_heads}")
        self.mask_ratio = mask_ratio
        self.masking_name = masking
        self.mask_generator = build_mask_generator(masking)
        self.mask_token_in_encoder = mask_token_in_encoder
        if isinstance(target, ReconstructionTarget):
            self.target = target
        else:
            name = target or ("norm_pixel" if norm_pix_loss else "pixel")
            self.target = build_target(name, patch_size, in_chans, **(target_kwargs or {}))
        self.norm_pix_loss = self.target.kind == "norm_pixel"
        if mask_token_in_encoder:  # ablation (c): the encoder sees every position, mask tokens where removed
            self.encoder_mask_token = nn.Parameter(torch.zeros(1, 1, embed_dim))

        num_patches = self.patch_embed.num_patches
        self.decoder_embed = nn.Linear(embed_dim, decoder_embed_dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, decoder_embed_dim))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, num_patches + 1, decoder_embed_dim), requires_grad=False)
        self.decoder_blocks = nn.ModuleList([Block(decoder_embed_dim, decoder_num_heads, mlp_ratio)
                                             for _ in range(decoder_depth)])
        self.decoder_norm = LayerNorm(decoder_embed_dim)
        self.decoder_pred = nn.Linear(decoder_embed_dim, self.target.out_dim)
        self._init_decoder()

    def _init_decoder(self) -> None:
        self.decoder_pos_embed.data.copy_(sincos_2d(self.decoder_pos_embed.shape[-1], self.patch_embed.grid_size))
        nn.init.normal_(self.mask_token, std=0.02)
        if self.mask_token_in_encoder:
            nn.init.normal_(self.encoder_mask_token, std=0.02)
        for m in (self.decoder_embed, self.decoder_blocks, self.decoder_norm, self.decoder_pred):
            m.apply(init_linear_and_norm)

    @property
    def patch_size(self) -> int:
        return self.patch_embed.patch_size[0]

    # ------------------------------------------------------------------------------------------- encoder
    def make_masking(self, batch: int, grid: tuple[int, int], mask_ratio: float, noise: torch.Tensor | None,
                     device: torch.device) -> Masking:
        return self.mask_generator(batch, grid, mask_ratio, noise=noise, device=device)

    def forward_encoder(self, imgs: torch.Tensor, mask_ratio: float,
                        noise: torch.Tensor | None = None) -> tuple[torch.Tensor, Masking, tuple[int, int]]:
        """imgs [N, C, H, W] -> latent [N, 1 + K, D] (or [N, 1 + L, D] with mask tokens in the encoder)."""
        grid = self.grid_for(imgs.shape[-2:])
        x = self.patch_embed(imgs)
        n, length, d = x.shape
        pos = self.pos_embed_for(grid)
        masking = self.make_masking(n, grid, mask_ratio, noise, x.device)
        if self.mask_token_in_encoder:
            m = masking.mask.unsqueeze(-1).to(x.dtype)
            x = x * (1 - m) + self.encoder_mask_token.to(x.dtype) * m + pos[:, 1:]
        else:
            x = x + pos[:, 1:]
            x = torch.gather(x, 1, masking.ids_keep.unsqueeze(-1).expand(-1, -1, d))
        cls = (self.cls_token + pos[:, :1]).expand(n, -1, -1)
        x = torch.cat([cls, x], dim=1)
        for blk in self.blocks:
            x = self.run_block(blk, x, None, 1)
        return self.norm(x), masking, grid

    # ------------------------------------------------------------------------------------------- decoder
    def decoder_pos_embed_for(self, grid: tuple[int, int]) -> torch.Tensor:
        if tuple(grid) == tuple(self.patch_embed.grid_size):
            return self.decoder_pos_embed
        return sincos_2d(self.decoder_pos_embed.shape[-1], grid).to(self.decoder_pos_embed)

    def forward_decoder(self, latent: torch.Tensor, masking: Masking, grid: tuple[int, int]) -> torch.Tensor:
        """latent [N, 1 + K, D] -> predictions [N, L, out_dim] for every patch (cls dropped)."""
        x = self.decoder_embed(latent)
        n, _, dd = x.shape
        length = masking.ids_restore.shape[1]
        if not self.mask_token_in_encoder:
            mask_tokens = self.mask_token.to(x.dtype).expand(n, length + 1 - x.shape[1], -1)
            x_ = torch.cat([x[:, 1:], mask_tokens], dim=1)
            x_ = torch.gather(x_, 1, masking.ids_restore.unsqueeze(-1).expand(-1, -1, dd))
            x = torch.cat([x[:, :1], x_], dim=1)
        x = x + self.decoder_pos_embed_for(grid)
        for blk in self.decoder_blocks:
            x = self.run_block(blk, x, None, 1)
        return self.decoder_pred(self.decoder_norm(x))[:, 1:]

    # ------------------------------------------------------------------------------------------- loss
    def forward_loss(self, imgs: torch.Tensor, pred: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Loss over removed patches only; imgs [N, C, H, W], pred [N, L, out_dim], mask [N, L]."""
        with torch.no_grad():
            target = self.target(imgs)
        return self.target.loss(pred, target, mask)

    def forward(self, imgs: torch.Tensor, mask_ratio: float | None = None,
                noise: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> (loss, pred [N, L, out_dim], mask [N, L]), as the reference code's ``MaskedAutoencoderViT``."""
        ratio = self.mask_ratio if mask_ratio is None else mask_ratio
        latent, masking, grid = self.forward_encoder(imgs, ratio, noise)
        pred = self.forward_decoder(latent, masking, grid)
        loss = self.forward_loss(imgs, pred, masking.mask)
        return loss, pred, masking.mask

    # ------------------------------------------------------------------------------------------- export
    def encoder_state_dict(self) -> dict[str, torch.Tensor]:
        """The encoder's parameters only, in the layout of ``mae_pretrain_vit_*.pth``'s ``model``."""
        enc_prefixes = ("patch_embed.", "cls_token", "pos_embed", "blocks.", "norm.")
        return {k: v for k, v in self.state_dict().items() if k.startswith(enc_prefixes)}

    def encoder_config(self) -> dict:
        pe = self.patch_embed
        return dict(img_size=list(pe.img_size), patch_size=pe.patch_size[0], in_chans=pe.proj.in_channels,
                    embed_dim=self.embed_dim, depth=len(self.blocks), num_heads=self.num_heads)


def create_mae(encoder: str, decoder_embed_dim: int = 512, decoder_depth: int = 8, decoder_num_heads: int = 16,
               **kwargs) -> MaskedAutoencoder:
    """An MAE around a named encoder size (``vit_base_patch16``, ...); kwargs override any setting."""
    if encoder not in VIT_SIZES:
        raise KeyError(f"unknown ViT size {encoder!r}; known: {', '.join(VIT_SIZES)}")
    dim, depth, heads, patch, img = VIT_SIZES[encoder]
    args = dict(embed_dim=dim, depth=depth, num_heads=heads, patch_size=patch, img_size=img,
                decoder_embed_dim=decoder_embed_dim, decoder_depth=decoder_depth, decoder_num_heads=decoder_num_heads)
    args.update(kwargs)
    return MaskedAutoencoder(**args)


def mae_vit_base_patch16(**kwargs) -> MaskedAutoencoder:
    """Reference ``mae_vit_base_patch16_dec512d8b``."""
    return create_mae("vit_base_patch16", **kwargs)


def mae_vit_large_patch16(**kwargs) -> MaskedAutoencoder:
    """Reference ``mae_vit_large_patch16_dec512d8b``."""
    return create_mae("vit_large_patch16", **kwargs)


def mae_vit_huge_patch14(**kwargs) -> MaskedAutoencoder:
    """Reference ``mae_vit_huge_patch14_dec512d8b``."""
    return create_mae("vit_huge_patch14", **kwargs)


mae_vit_base_patch16_dec512d8b = mae_vit_base_patch16
mae_vit_large_patch16_dec512d8b = mae_vit_large_patch16
mae_vit_huge_patch14_dec512d8b = mae_vit_huge_patch14
