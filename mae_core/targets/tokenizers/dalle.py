"""The DALL-E dVAE encoder as a tokenizer (vocab 8192, output stride 8), from the PyPI package ``dall-e``.

The package installs but needs ``attrs`` (imported, not declared). Its official weight file (``encoder.pkl``) is a
pickled ``dall_e.Encoder`` module; ``dall_e.load_model`` reads it with ``torch.load``'s default, which torch >= 2.6
refuses (weights_only). Here the file is read with ``weights_only=True`` and an allowlist of the package's classes,
so no arbitrary code runs; a plain state-dict file of the same encoder is accepted too.
Input: pixels in [0, 1], mapped by the package's ``map_pixels`` (logit-Laplace epsilon) as DALL-E does.
"""
from __future__ import annotations

import collections
import logging
from pathlib import Path

import torch
import torch.nn as nn

from mae_core.targets.tokenizers import Tokenizer

logger = logging.getLogger(__name__)


def _dall_e():
    try:
        import dall_e
        from dall_e import encoder, utils
    except ImportError as e:
        raise ImportError("the 'dalle' tokenizer needs the dall-e package and attrs: pip install dall-e attrs "
                          f"({e})") from e
    return dall_e, encoder, utils


class DalleTokenizer(Tokenizer):
    kind = "dalle"

    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.vocab_size = int(encoder.vocab_size)
        self.in_chans = int(encoder.input_channels)
        self.stride = 8  # three 2x max-pools

    @classmethod
    def from_file(cls, path: str | Path) -> "DalleTokenizer":
        dall_e, enc_mod, utils = _dall_e()
        allowed = [enc_mod.Encoder, enc_mod.EncoderBlock, utils.Conv2d, nn.Sequential, nn.ReLU, nn.MaxPool2d,
                   nn.Identity, collections.OrderedDict, torch.device, set]
        with torch.serialization.safe_globals(allowed):
            obj = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(obj, enc_mod.Encoder):
            encoder = obj
        elif isinstance(obj, dict) and "blocks.input.w" in obj:
            vocab, hid = obj["blocks.output.conv.w"].shape[:2]
            encoder = enc_mod.Encoder(n_hid=hid // 8, vocab_size=vocab, input_channels=obj["blocks.input.w"].shape[1],
                                      n_blk_per_group=sum(k.startswith("blocks.group_1.block_") and k.endswith(
                                          "res_path.conv_1.w") for k in obj))
            encoder.load_state_dict(obj)
        else:
            raise ValueError(f"{path}: neither a pickled dall_e Encoder nor its state dict")
        # the package's Conv2d runs in fp16 on CUDA; tokens are taken in fp32 everywhere for reproducibility
        for m in encoder.modules():
            if isinstance(m, utils.Conv2d):
                m.use_float16 = False
        return cls(encoder)

    def logits(self, x01: torch.Tensor) -> torch.Tensor:
        _, _, utils = _dall_e()
        return self.encoder(utils.map_pixels(x01.float()))
