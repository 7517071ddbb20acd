"""Benchmarks of the classification transfer. `linprobe`: the full linear probe (paper protocol, augmented images
every epoch) against the cached-feature probe (several lrs, chosen on held-out training images) and k-NN, on the
same data and budget; writes OUTPUT_DIR/benchmark_linprobe.json.

    python tools/benchmark_linprobe.py linprobe --config configs/classification/smoke_linprobe.py \
        --data-path data/fmnist --pretrained runs/mae_fmnist.pth --output-dir runs/bench_lin [key=value ...]
"""
import argparse
import json
import logging
from pathlib import Path

from mae_core.config import load_config
from transfer.classification.benchmark import benchmark_linprobe

if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    lp = sub.add_parser("linprobe", help="full vs cached-feature linear probe (and k-NN)")
    lp.add_argument("--config", required=True)
    lp.add_argument("--data-path", required=True)
    lp.add_argument("--pretrained", default=None)
    lp.add_argument("--output-dir", required=True)
    lp.add_argument("--modes", default="fast,full,knn")
    lp.add_argument("overrides", nargs="*")
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    res = benchmark_linprobe(load_config(a.config, a.overrides), a.data_path, a.output_dir, a.pretrained,
                             tuple(a.modes.split(",")))
    Path(a.output_dir).mkdir(parents=True, exist_ok=True)
    (Path(a.output_dir) / "benchmark_linprobe.json").write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))
