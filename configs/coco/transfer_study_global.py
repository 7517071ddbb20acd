"""The transfer study's detection recipe (configs/coco/transfer_study.py) with global attention in every block
(window_size 0, ViTDet's all-global variant) instead of windows in blocks 0, 1, 3, 4; the same for every arm.
Measured (budget recipe, seeds 0-1, docs/results/transfer_study_4c_pretrain4800_full1200_labelled75_coco_global_seeds0-1):
the MAE start gains a little over the windowed recipe, scratch fails to learn (box AP 3-6): not a fair recipe for
comparing the two; kept so that the measurement can be repeated.
    python tools/transfer_study.py --coco-config configs/coco/transfer_study_global.py ...
"""
from .transfer_study import dataloader, lr_multiplier, model, optimizer, train

model.backbone.net.window_size = 0
model.config_name = __file__
