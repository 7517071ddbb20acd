"""The transfer study's detection recipe (tools/transfer_study.py): ViTDet Mask R-CNN with the demo-sized ViT (192
wide, 6 deep, 3 heads) at patch 8 on 128 px scenes of Fashion-MNIST items (grid 16 x 16, objects of 3-6 patches,
as COCO objects at patch 16 and 1024 px are a few to tens of patches).

Window attention 8 x 8 (4 windows) in blocks 0, 1, 3, 4, global in 2 and 5 (ViTDet-B's every-third pattern); the
simple pyramid takes the stride-8 map to strides 4, 8, 16, 32 (+ p6), as ViTDet does from stride 16. Heads slimmed
as in configs/coco/smoke.py. Batch 4 at lr 1.2e-3 (the study also runs 3x and keeps the better per arm): at 300
iterations lr 4e-4 gave box AP 4.1 and 1.2e-3 7.1 from the in-domain MAE (docs/results/transfer_study_pilot.md).
    python tools/transfer_study.py --output-dir runs/transfer_study   (makes the scenes, runs every arm)
    python tools/train_coco.py --config configs/coco/transfer_study.py --data-path runs/transfer_study/data/coco \
        --pretrained CKPT --output-dir runs/coco_study
Expected: docs/results/transfer_study.md (measured, per arm and seed).
"""
from .smoke import dataloader, lr_multiplier, model, optimizer, train

# configs/coco/smoke.py (same heads, data loader, schedule), with the ViT at patch 8 and the pyramid from stride 8
model.backbone.net.patch_size = 8
model.backbone.scale_factors = [2.0, 1.0, 0.5, 0.25]
model.roi_heads.num_classes = 10
model.config_name = __file__
optimizer.lr = 1.2e-3
train.output_dir = "runs/coco_study"
