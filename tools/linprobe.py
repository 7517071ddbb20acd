"""Linear probing of a frozen pretrained ViT (mae-linprobe): linprobe.mode=full (paper), fast (cached features, lr
chosen on held-out training images) or knn (cosine k-NN, k = 20).

    python tools/linprobe.py --config configs/classification/smoke_linprobe.py --data-path DATA \
        --pretrained CKPT --output-dir OUT [--no-resume] [--eval-only] [key=value ...]
"""
import sys

from transfer.classification.cli import linprobe_main

if __name__ == "__main__":
    sys.exit(linprobe_main())
