"""The transfer study's detection recipe (configs/coco/transfer_study.py) with the ViT at half the lr of the pyramid
and heads (``vit_lr_mult`` 0.5 on top of the layer decay), as detection codebases give a backbone its own lr
multiplier; the same for every arm. At the recipe's lr the ViT then steps as in the recipe at half the lr while the
new layers keep the recipe's.
    python tools/transfer_study.py --coco-config configs/coco/transfer_study_vit_lr_half.py --lr-factor 2 ...
"""
from .transfer_study import dataloader, lr_multiplier, model, optimizer, train

optimizer.params.vit_lr_mult = 0.5
model.config_name = __file__
