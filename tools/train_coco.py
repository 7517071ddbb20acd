"""Mask R-CNN with an MAE-pretrained ViT on COCO or any COCO-format set (detectron2; mae-train-coco). See docs/coco.md.

    python tools/train_coco.py --config configs/coco/smoke.py --data-path COCO_ROOT --pretrained CKPT \
        --output-dir DIR [key=value ...]
COCO_ROOT: annotations/instances_{train,val}2017.json + {train,val}2017/, or annotations/{train,val}.json +
{train,val}/; or give --train-json/--train-images/--val-json/--val-images. Also: --eval-only, --no-resume,
--num-gpus N (detectron2's launch). Results: DIR/metrics.json.
"""
import sys

from transfer.detectron2.cli import main

if __name__ == "__main__":
    sys.exit(main())
