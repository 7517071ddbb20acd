"""The transfer study's detection recipe (configs/coco/transfer_study.py) with ViTDet's mask head depth: 4 convs
(of the recipe's 128 channels) before the upsampling instead of 2; the same for every arm.
    python tools/transfer_study.py --coco-config configs/coco/transfer_study_mask_head4.py ...
"""
from .transfer_study import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.mask_head.conv_dims = [128, 128, 128, 128]
model.config_name = __file__
