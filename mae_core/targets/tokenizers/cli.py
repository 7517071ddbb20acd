"""Command line of tools/train_tokenizer.py: train the dVAE on Fashion-MNIST (or an IDX folder), save it."""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from mae_core.checkpoint.atomic import atomic_write_json
from mae_core.cli import setup_logging, tool_main
from mae_core.data.datasets import read_fashion_mnist
from mae_core.overrides import ConfigError
from mae_core.targets.tokenizers.dvae import save_dvae
from mae_core.targets.tokenizers.train import train_dvae

logger = logging.getLogger(__name__)


def train_and_save(output: str | Path, data_path: str = "fashion-mnist", steps: int = 600, batch_size: int = 128,
                   vocab_size: int = 512, hidden: int = 32, stride: int = 4, seed: int = 0, limit: int = 0) -> dict:
    """Trains on the train split (first `limit` images if > 0), tracks the hard-token reconstruction error on
    1,000 test images, saves the tokenizer file and a JSON history beside it -> the history's summary."""
    root = None if data_path == "fashion-mnist" else data_path
    train, _ = read_fashion_mnist("train", root)
    test, _ = read_fashion_mnist("test", root)
    model, history = train_dvae(train[:limit] if limit else train, test[:1000], steps=steps, batch_size=batch_size,
                                vocab_size=vocab_size, hidden=hidden, stride=stride, seed=seed)
    settings = dict(data_path=data_path, steps=steps, batch_size=batch_size, seed=seed, limit=limit)
    path = save_dvae(model, output, {"history": history, "train_settings": settings})
    atomic_write_json({"settings": settings, "history": history}, Path(path).with_suffix(".json"), indent=1)
    return {"path": str(path), "first": history[0], "last": history[-1]}


@tool_main
def main(argv: list[str] | None = None) -> int:
    """``mae-train-tokenizer``: writes OUTPUT_DIR/dvae.pth (or --output FILE) and its .json history."""
    p = argparse.ArgumentParser(description="train the dVAE tokenizer for the token target")
    p.add_argument("--output-dir", default=None, help="folder for dvae.pth and dvae.json")
    p.add_argument("--output", default=None, help="or: the tokenizer file to write (.pth)")
    p.add_argument("--data-path", default="fashion-mnist", help="'fashion-mnist' or a folder of its IDX files")
    p.add_argument("--steps", type=int, default=600)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--hidden", type=int, default=32)
    p.add_argument("--stride", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, default=0, help="train on the first N images only")
    a = p.parse_args(argv)
    setup_logging()
    if bool(a.output) == bool(a.output_dir):
        raise ConfigError("give one of --output-dir DIR (writes DIR/dvae.pth) or --output FILE")
    out = train_and_save(a.output or Path(a.output_dir) / "dvae.pth", a.data_path, a.steps, a.batch_size, a.vocab,
                         a.hidden, a.stride, a.seed, a.limit)
    print(json.dumps(out))
    return 0
