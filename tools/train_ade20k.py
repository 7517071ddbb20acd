"""ADE20K semantic segmentation (UperNet, mmseg) with an MAE-pretrained ViT (mae-train-ade20k).

    python tools/train_ade20k.py --config configs/ade20k/smoke.py --data-path runs/ade_fashion --num-classes 10 \
        --pretrained runs/demo/checkpoint-final.pth --output-dir runs/ade_smoke [--no-resume] [--eval-only] [k=v ...]
    torchrun --nproc_per_node 8 tools/train_ade20k.py --launcher pytorch --config ... (multi-GPU)
"""
import sys

from transfer.mmseg.cli import main

if __name__ == "__main__":
    sys.exit(main())
