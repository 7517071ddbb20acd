"""The full linear probe (paper protocol, augmented images every epoch) against the cached-feature probe (several
lrs, chosen on held-out training images) and k-NN, on the same data and budget (mae-benchmark-linprobe); writes
OUTPUT_DIR/benchmark_linprobe.json.

    python tools/benchmark_linprobe.py --config configs/classification/smoke_linprobe.py \
        --data-path data/fmnist --pretrained runs/mae_fmnist.pth --output-dir runs/bench_lin [key=value ...]
"""
import sys

from transfer.classification.cli import benchmark_linprobe_main

if __name__ == "__main__":
    sys.exit(benchmark_linprobe_main())
