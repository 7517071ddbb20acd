"""Writes the small COCO-format instance set of Fashion-MNIST items on 128 px canvases (for configs/coco/smoke.py).

    python tools/make_coco_fashion.py --output-dir runs/fashion_coco [--num-train 300 --num-val 100 --seed 0]
"""
import argparse
import logging

from transfer.detectron2.synthetic import make_fashion_coco


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--output-dir", required=True)
    p.add_argument("--num-train", type=int, default=300)
    p.add_argument("--num-val", type=int, default=100)
    p.add_argument("--canvas", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    paths = make_fashion_coco(a.output_dir, a.num_train, a.num_val, a.canvas, seed=a.seed)
    for split, d in paths.items():
        print(f"{split}: --{split}-json {d['json']} --{split}-images {d['images']}")


if __name__ == "__main__":
    main()
