"""configs/coco/transfer_study_mask_head4.py with ViTDet's mask head width too: 4 convs of 256 channels (the
recipe's slimmed heads use 128) before the upsampling; the same for every arm.
    python tools/transfer_study.py --coco-config configs/coco/transfer_study_mask_head4_256.py ...
"""
from .transfer_study_mask_head4 import dataloader, lr_multiplier, model, optimizer, train

model.roi_heads.mask_head.conv_dims = [256, 256, 256, 256]
model.config_name = __file__
