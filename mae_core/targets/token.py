"""dVAE-token target (paper, Table 1(d), as in BEiT): the decoder predicts the tokenizer's id of each masked patch.

target_args: ``tokenizer=dalle|dvae,path=FILE``. The image (de-normalised to [0, 1] with the data's mean/std) is
resized to (h * stride, w * stride) so that the token grid equals the MAE's patch grid (h, w); the frozen
tokenizer gives ids [N, L]; the loss is the cross-entropy over the tokenizer's vocabulary on removed patches.
The tokenizer is kept outside the module tree: its weights are not in the MAE's state dict nor in the optimizer;
its identity (kind, path, sha256, vocab, stride) is in ``describe()``, hence in the checkpoint manifest.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from mae_core.targets.base import ReconstructionTarget, masked_mean, register_target
from mae_core.targets.tokenizers import KINDS, Tokenizer, load_tokenizer


@register_target("dvae_token")
class TokenTarget(ReconstructionTarget):
    kind = "dvae_token"

    def __init__(self, patch_size: int, in_chans: int = 3, tokenizer: str | Tokenizer | None = None,
                 path: str = "") -> None:
        super().__init__()
        if not isinstance(tokenizer, Tokenizer):
            self.check_args(patch_size, in_chans, tokenizer=tokenizer, path=path)
            tokenizer = load_tokenizer(tokenizer, path)
        self._tok = [tokenizer]  # a list keeps it out of parameters(), state_dict() and .to()
        self.patch_size, self.in_chans = patch_size, in_chans
        self.out_dim = tokenizer.vocab_size
        self.mean = self.std = None

    @classmethod
    def check_args(cls, patch_size: int, in_chans: int, **kwargs) -> None:
        super().check_args(patch_size, in_chans, **kwargs)
        kind, path = kwargs.get("tokenizer"), kwargs.get("path", "")
        if not kind:
            raise ValueError(f"the token target needs a tokenizer: set tokenizer={'|'.join(KINDS)},path=FILE "
                             "(train one with tools/train_tokenizer.py)")
        if kind not in KINDS:
            raise ValueError(f"tokenizer={kind!r} is not one of {', '.join(KINDS)}")
        if not path or not Path(path).is_file():
            raise FileNotFoundError(f"tokenizer={kind} needs path=FILE of its weights; {path!r} is not a file")

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tok[0]

    def set_input_stats(self, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.mean, self.std = tuple(mean), tuple(std)

    def to_unit(self, imgs: torch.Tensor) -> torch.Tensor:
        """Normalised imgs [N, C, H, W] -> [0, 1] pixels (the data's mean/std; ImageNet's if none were set)."""
        mean = self.mean or (0.485, 0.456, 0.406)[: imgs.shape[1]]
        std = self.std or (0.229, 0.224, 0.225)[: imgs.shape[1]]
        m = torch.tensor(mean, device=imgs.device).reshape(1, -1, 1, 1)
        s = torch.tensor(std, device=imgs.device).reshape(1, -1, 1, 1)
        return (imgs.float() * s + m).clamp(0, 1)

    @torch.no_grad()
    def forward(self, imgs: torch.Tensor) -> torch.Tensor:
        """imgs [N, C, H, W] -> token ids [N, L] long, L = (H / p) * (W / p)."""
        tok = self.tokenizer
        if next(tok.parameters()).device != imgs.device:
            tok.to(imgs.device)
        h, w = imgs.shape[-2] // self.patch_size, imgs.shape[-1] // self.patch_size
        x = self.to_unit(imgs)
        size = (h * tok.stride, w * tok.stride)
        if tuple(x.shape[-2:]) != size:
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True).clamp(0, 1)
        with torch.autocast(imgs.device.type, enabled=False):
            ids = tok.tokenize(x)
        return ids.flatten(1)

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """pred [N, L, vocab] logits, target [N, L] ids -> cross-entropy averaged over removed patches."""
        ce = F.cross_entropy(pred.float().flatten(0, 1), target.flatten(), reduction="none")
        return masked_mean(ce.reshape(target.shape), mask)

    def describe(self) -> dict:
        return {**super().describe(), "tokenizer": self.tokenizer.describe()}
