"""ADE20K semantic segmentation (UperNet, mmseg) with an MAE-pretrained ViT: train, --eval-only, --resume.

    python tools/train_ade20k.py --config configs/ade20k/smoke.py --data-root runs/ade_fashion --num-classes 10 \
        --pretrained runs/demo/checkpoint-final.pth --output-dir runs/ade_smoke [--resume] [--eval-only] [key=value ...]
    torchrun --nproc_per_node 8 tools/train_ade20k.py --launcher pytorch --config ... (multi-GPU)
"""
import logging

from transfer.mmseg.train import run

if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    run()
