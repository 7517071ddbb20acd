"""ViTDet Mask R-CNN, ViT-H/14 (MAE-pretrained): global blocks 7, 15, 23, 31, layer decay 0.9, drop path 0.5,
gradient checkpointing (memory); otherwise the ViT-B recipe.

Command (8 GPUs, 80 GB each):
    python tools/train_coco.py --config configs/coco/mask_rcnn_vitdet_h_100ep.py --num-gpus 8 \
        --pretrained mae_pretrain_vit_huge.pth --output-dir runs/coco_vitdet_h
Should reach on COCO val2017: box AP 56.7, mask AP 50.2 (ViTDet paper).
"""
from transfer.detectron2.lazy import vitdet_backbone

from .mask_rcnn_vitdet_b_100ep import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.backbone = vitdet_backbone("vit_huge_patch14", img_size=1024, window_size=14, global_blocks=(7, 15, 23, 31),
                                 drop_path_rate=0.5, grad_checkpointing=True)
optimizer.params.layer_decay = 0.9
train.output_dir = "runs/coco_vitdet_h"
