"""Benchmarks, each side by side with a baseline in the same run (ratios, not timed assertions; mae-benchmark).

  python tools/benchmark.py pretrain --model vit_base_patch16 --batch 16 --precision fp32|bf16
  python tools/benchmark.py data       (decode + crop per core: ours vs torchvision ImageFolder)
  python tools/benchmark.py folder     (pretraining on a folder of one size: tensor path vs per-image crops)
  python tools/benchmark.py detector   (Mask R-CNN training on the CPU: bf16 autocast vs fp32)
  python tools/benchmark.py segmentor  (UperNet training on the CPU: bf16 autocast vs fp32)
  python tools/benchmark.py classifier (ViT fine-tuning on the CPU: bf16 autocast vs fp32)
The last output line is JSON: ours_ips, baseline_ips, ratio, ours_peak_mb, baseline_peak_mb, GFLOP/s.
"""
import sys

from transfer.studies.bench.cli import main

if __name__ == "__main__":
    sys.exit(main())
