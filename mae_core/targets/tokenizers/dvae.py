"""This project's own discrete VAE tokenizer: a small conv encoder -> logits over a vocabulary per grid cell,
a Gumbel-softmax relaxation during training, a conv decoder back to pixels.

# Adapted from: the DALL-E dVAE recipe (Ramesh et al., 2021): Gumbel-softmax relaxation with the temperature
# annealed towards 1/16, a KL term to the uniform prior over the vocabulary; written here at a small scale, with a
# batch-level code-usage (diversity) term as in wav2vec 2.0 against codebook collapse in short runs.
Shapes: x [N, C, H, W] in [0, 1] -> logits [N, V, H/s, W/s] -> soft one-hot -> reconstruction [N, C, H, W].
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from mae_core.targets.tokenizers import Tokenizer

FORMAT = "mae-dvae/1"


class ResBlock(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(dim, dim, 3, padding=1), nn.ReLU(), nn.Conv2d(dim, dim, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class DVAE(nn.Module):
    """stride = 2 ** (number of down-samplings); the token grid is (H / stride, W / stride)."""

    def __init__(self, in_chans: int = 1, vocab_size: int = 512, hidden: int = 32, stride: int = 4) -> None:
        super().__init__()
        n_down = int(round(math.log2(stride)))
        if 2 ** n_down != stride or stride < 1:
            raise ValueError(f"dVAE stride must be a power of 2, got {stride}")
        self.config = dict(in_chans=in_chans, vocab_size=vocab_size, hidden=hidden, stride=stride)
        enc = [nn.Conv2d(in_chans, hidden, 3, padding=1)]
        for _ in range(n_down):
            enc += [nn.ReLU(), nn.Conv2d(hidden, hidden, 4, stride=2, padding=1), ResBlock(hidden)]
        self.encoder = nn.Sequential(*enc, nn.ReLU(), nn.Conv2d(hidden, vocab_size, 1))
        dec = [nn.Conv2d(vocab_size, hidden, 1), ResBlock(hidden)]  # the 1x1 conv is the codebook
        for _ in range(n_down):
            dec += [nn.ReLU(), nn.ConvTranspose2d(hidden, hidden, 4, stride=2, padding=1), ResBlock(hidden)]
        self.decoder = nn.Sequential(*dec, nn.ReLU(), nn.Conv2d(hidden, in_chans, 3, padding=1))

    def decode(self, one_hot: torch.Tensor) -> torch.Tensor:
        """[N, V, h, w] (soft or hard one-hot) -> pixels [N, C, H, W] in [0, 1]."""
        return torch.sigmoid(self.decoder(one_hot))

    def forward(self, x01: torch.Tensor, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (reconstruction from the Gumbel-softmax sample [N, C, H, W], logits [N, V, h, w])."""
        logits = self.encoder(x01)
        soft = F.gumbel_softmax(logits, tau=tau, hard=False, dim=1)
        return self.decode(soft), logits

    @torch.no_grad()
    def reconstruct_hard(self, x01: torch.Tensor) -> torch.Tensor:
        """Reconstruction from the argmax tokens (what the MAE's target sees)."""
        ids = self.encoder(x01).argmax(1)
        return self.decode(F.one_hot(ids, self.config["vocab_size"]).permute(0, 3, 1, 2).float())


def dvae_loss(model: DVAE, x01: torch.Tensor, tau: float, kl_weight: float,
              diversity_weight: float = 0.0) -> tuple[torch.Tensor, dict]:
    """Reconstruction MSE (summed over pixels, mean over images) + kl_weight * KL(q || uniform) (summed over cells)
    + diversity_weight * cells * (log V - entropy of the batch's mean q): the last term keeps the vocabulary in use
    (a short run otherwise settles on a handful of codes)."""
    rec, logits = model(x01, tau)
    mse = ((rec - x01) ** 2).flatten(1).sum(1).mean()
    logq = F.log_softmax(logits, dim=1)
    log_v = math.log(logits.shape[1])
    kl = (logq.exp() * (logq + log_v)).sum(1).flatten(1).sum(1).mean()
    mean_q = logq.exp().mean(dim=(0, 2, 3))
    diversity = log_v + (mean_q * mean_q.clamp_min(1e-12).log()).sum()
    cells = logits.shape[2] * logits.shape[3]
    total = mse + kl_weight * kl + diversity_weight * cells * diversity
    return total, {"mse_sum": mse.item(), "kl": kl.item(), "diversity_gap": diversity.item()}


class DVAETokenizer(Tokenizer):
    kind = "dvae"

    def __init__(self, model: DVAE) -> None:
        super().__init__()
        self.model = model
        self.vocab_size, self.stride = model.config["vocab_size"], model.config["stride"]
        self.in_chans = model.config["in_chans"]

    @classmethod
    def from_file(cls, path: str | Path) -> "DVAETokenizer":
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
            raise ValueError(f"{path}: not a dVAE file of this project (format {FORMAT!r}; "
                             "write one with tools/train_tokenizer.py)")
        model = DVAE(**ckpt["config"])
        model.load_state_dict(ckpt["state_dict"])
        return cls(model)

    def logits(self, x01: torch.Tensor) -> torch.Tensor:
        return self.model.encoder(x01)


def save_dvae(model: DVAE, path: str | Path, extra: dict | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"format": FORMAT, "config": model.config, "state_dict": model.state_dict(), **(extra or {})}, path)
    return path
