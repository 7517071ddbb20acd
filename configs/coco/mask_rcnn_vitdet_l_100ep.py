"""ViTDet Mask R-CNN, ViT-L (MAE-pretrained): the ViT-B recipe with global blocks 5, 11, 17, 23, layer decay 0.8,
drop path 0.4 (detectron2 projects/ViTDet/configs/COCO/mask_rcnn_vitdet_l_100ep.py, which keeps ViT-B's weight-decay
rule: none on pos_embed and norm layers).

Command (8 GPUs):
    python tools/train_coco.py --config configs/coco/mask_rcnn_vitdet_l_100ep.py --num-gpus 8 \
        --pretrained mae_pretrain_vit_large.pth --output-dir runs/coco_vitdet_l
Should reach on COCO val2017: box AP 55.5, mask AP 49.2 (ViTDet paper / model zoo).
"""
from transfer.detectron2.lazy import vitdet_backbone

from .mask_rcnn_vitdet_b_100ep import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.backbone = vitdet_backbone("vit_large_patch16", img_size=1024, window_size=14, global_blocks=(5, 11, 17, 23),
                                 drop_path_rate=0.4, square_pad=1024)
model.config_name = __file__
optimizer.params.layer_decay = 0.8
train.output_dir = "runs/coco_vitdet_l"
