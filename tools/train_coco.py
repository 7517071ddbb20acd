"""Mask R-CNN with an MAE-pretrained ViT on COCO or any COCO-format set (detectron2). See docs/coco.md.

    python tools/train_coco.py --config configs/coco/smoke.py --train-json J --train-images DIR \
        --val-json J --val-images DIR --pretrained CKPT --output-dir DIR [key=value ...]
Also: --eval-only, --resume, --num-gpus N (detectron2's launch). Results: DIR/metrics.json.
"""

from transfer.detectron2.cli import main

if __name__ == "__main__":
    main()
