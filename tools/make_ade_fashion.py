"""Writes a small ADE20K-layout set of real Fashion-MNIST items pasted on canvases (10 classes, 0 = ignore).

    python tools/make_ade_fashion.py --output-dir runs/ade_fashion [--train 400 --val 100 --size 128 --seed 0]
"""
import argparse
import logging

from transfer.mmseg.synthetic import make_fashion_ade

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output-dir", required=True)
    p.add_argument("--train", type=int, default=400)
    p.add_argument("--val", type=int, default=100)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    print(make_fashion_ade(a.output_dir, a.train, a.val, a.size, seed=a.seed))
