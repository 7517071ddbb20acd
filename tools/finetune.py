"""Fine-tuning (full or partial: finetune.trainable_blocks=k) of a pretrained ViT for classification (mae-finetune).

    python tools/finetune.py --config configs/classification/smoke_finetune.py --data-path DATA \
        --pretrained CKPT --output-dir OUT [--no-resume] [--eval-only] [key=value ...]
    torchrun --nproc_per_node 8 tools/finetune.py ...   (DDP: gloo on CPU, nccl on GPU)
Running it again resumes from OUT/checkpoint.pth; --eval-only evaluates it (or --pretrained when there is none).
"""
import sys

from transfer.classification.cli import finetune_main

if __name__ == "__main__":
    sys.exit(finetune_main())
