"""Linear probing of a frozen pretrained ViT: linprobe.mode=full (paper), fast (cached features, lr chosen on
held-out training images) or knn (cosine k-NN, k = 20).

    python tools/linprobe.py --config configs/classification/smoke_linprobe.py --data-path DATA \
        --pretrained CKPT --output-dir OUT [--resume [CKPT]] [--eval-only] [key=value ...]
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root, not a `tools` package

from transfer.classification.cli import parse  # noqa: E402
from transfer.classification.linprobe import run_linprobe  # noqa: E402

if __name__ == "__main__":
    args, cfg = parse(__doc__)
    run_linprobe(cfg, args.data_path, args.output_dir, args.pretrained, args.resume, args.eval_only)
