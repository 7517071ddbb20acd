"""Fine-tuning (full or partial: finetune.trainable_blocks=k) of a pretrained ViT for classification.

    python tools/finetune.py --config configs/classification/smoke_finetune.py --data-path DATA \
        --pretrained CKPT --output-dir OUT [--resume [CKPT]] [--eval-only] [key=value ...]
    torchrun --nproc_per_node 8 tools/finetune.py ...   (DDP: gloo on CPU, nccl on GPU)
"""


from transfer.classification.cli import parse
from transfer.classification.finetune import run_finetune

if __name__ == "__main__":
    args, cfg = parse(__doc__)
    run_finetune(cfg, args.data_path, args.output_dir, args.pretrained, args.resume, args.eval_only)
