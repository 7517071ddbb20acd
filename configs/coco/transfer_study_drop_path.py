"""The transfer study's detection recipe (configs/coco/transfer_study.py) with stochastic depth 0.1 in the ViT, as
ViTDet-B fine-tunes (its drop_path_rate); the same for every arm, so MAE and scratch get the same regulariser.
    python tools/transfer_study.py --coco-config configs/coco/transfer_study_drop_path.py ...
"""
from .transfer_study import dataloader, lr_multiplier, model, optimizer, train

model.backbone.net.drop_path_rate = 0.1
model.config_name = __file__
