"""Image tokenizers for the dVAE-token target: image -> grid of token ids aligned with the MAE's patch grid.

A tokenizer is frozen; its identity (kind, path, sha256 of the weight file, vocab, stride) goes into the MAE
checkpoint's manifest through the target's ``describe()``.
    ids = tok.tokenize(x01)      # x01 [N, C, H, W] in [0, 1] -> [N, H / stride, W / stride] long
Kinds: 'dalle' (the DALL-E dVAE encoder, package ``dall-e``, imported lazily) and 'dvae' (this project's own
Gumbel-softmax dVAE, trained with tools/train_tokenizer.py).
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn as nn

KINDS = ("dalle", "dvae")


def sha256_of(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Tokenizer(nn.Module):
    """Base: subclasses set ``vocab_size``, ``stride``, ``in_chans`` and implement ``logits``."""

    kind = "base"
    vocab_size: int
    stride: int
    in_chans: int

    def __init__(self) -> None:
        super().__init__()
        self.path, self.sha256 = "", ""

    def logits(self, x01: torch.Tensor) -> torch.Tensor:
        """x01 [N, C, H, W] in [0, 1] -> [N, vocab, H / stride, W / stride]."""
        raise NotImplementedError

    @torch.no_grad()
    def tokenize(self, x01: torch.Tensor) -> torch.Tensor:
        """x01 [N, C, H, W] in [0, 1] -> token ids [N, H / stride, W / stride] (argmax of the logits)."""
        if x01.shape[1] != self.in_chans:
            x01 = x01.mean(1, keepdim=True).expand(-1, self.in_chans, -1, -1) if x01.shape[1] in (1, 3) else x01
        return self.logits(x01.float()).argmax(1)

    def describe(self) -> dict:
        return {"kind": self.kind, "path": self.path, "sha256": self.sha256, "vocab": self.vocab_size,
                "stride": self.stride, "in_chans": self.in_chans}


def load_tokenizer(kind: str, path: str | os.PathLike) -> Tokenizer:
    """A frozen tokenizer of `kind` ('dalle' | 'dvae') from its weight file."""
    if kind not in KINDS:
        raise ValueError(f"unknown tokenizer {kind!r}; known: {', '.join(KINDS)}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"tokenizer weight file not found: {path}")
    if kind == "dalle":
        from mae_core.targets.tokenizers.dalle import DalleTokenizer
        tok = DalleTokenizer.from_file(path)
    else:
        from mae_core.targets.tokenizers.dvae import DVAETokenizer
        tok = DVAETokenizer.from_file(path)
    tok.path, tok.sha256 = str(path), sha256_of(path)
    tok.eval().requires_grad_(False)
    return tok
