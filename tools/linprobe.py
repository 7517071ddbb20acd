"""Linear probing of a frozen pretrained ViT: linprobe.mode=full (paper), fast (cached features, lr chosen on
held-out training images) or knn (cosine k-NN, k = 20).

    python tools/linprobe.py --config configs/classification/smoke_linprobe.py --data-path DATA \
        --pretrained CKPT --output-dir OUT [--resume [CKPT]] [--eval-only] [key=value ...]
"""


from transfer.classification.cli import parse
from transfer.classification.linprobe import run_linprobe

if __name__ == "__main__":
    args, cfg = parse(__doc__)
    run_linprobe(cfg, args.data_path, args.output_dir, args.pretrained, args.resume, args.eval_only)
