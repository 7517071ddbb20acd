"""The transfer study's detection recipe (configs/coco/transfer_study.py) with global attention in every block, as
ViTDet's all-global variant (its most accurate and costliest; the default windows trade accuracy for memory at
1024 px). On the study's 16 x 16 grid a global block costs little more than a windowed one, and every block then
attends as the MAE was pretrained to; the same for every arm.
    python tools/transfer_study.py --coco-config configs/coco/transfer_study_global.py ...
"""
from .transfer_study import dataloader, lr_multiplier, model, optimizer, train

model.backbone.net.window_size = 0
model.config_name = __file__
