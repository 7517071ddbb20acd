"""Writes Fashion-MNIST as an ImageNet-style folder data set: OUT/train/<class>/*.png (training split) and
OUT/val/<class>/*.png (test split).

    python tools/make_fashion_folders.py --output data/fmnist --train-per-class 1000 --val-per-class 200
"""
import argparse
import logging

from transfer.classification.fashion import make_fashion_folders

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--output", required=True)
    ap.add_argument("--train-per-class", type=int, default=0, help="0 = all 6,000")
    ap.add_argument("--val-per-class", type=int, default=0, help="0 = all 1,000")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    print(make_fashion_folders(a.output, a.train_per_class, a.val_per_class))
