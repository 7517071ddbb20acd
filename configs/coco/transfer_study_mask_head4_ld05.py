"""configs/coco/transfer_study_mask_head4.py with layer decay 0.5 instead of 0.7 (6 blocks: the patch embedding
steps at 0.5^7 = 0.8% of the top lr, as ViTDet-B's 0.7 over 12 blocks gives 0.7^13 = 1%); the same for every arm.
    python tools/transfer_study.py --coco-config configs/coco/transfer_study_mask_head4_ld05.py ...
"""
from .transfer_study_mask_head4 import dataloader, lr_multiplier, model, optimizer, train

optimizer.params.layer_decay = 0.5
model.config_name = __file__
