"""ViTDet Mask R-CNN, ViT-H (MAE-pretrained) at patch 16, 75 epochs: detectron2
projects/ViTDet/configs/COCO/mask_rcnn_vitdet_h_75ep.py. Global blocks 7, 15, 23, 31, layer decay 0.9, drop path
0.5, weight decay 0.1 on every parameter (upstream sets ``overrides = {}`` and ``weight_decay_norm = None``),
138,281 iterations (x0.1 at 122,916 / 133,159: ViT-B's schedule x 3/4), gradient checkpointing (memory);
otherwise the ViT-B recipe.

Patch 16, as upstream: the MAE ViT-H is released at patch 14 (strides 3.5 .. 28 would not give p2 .. p6), so its
patch kernel is resampled 14 -> 16 when the checkpoint is loaded (``transfer.detectron2.weights.fit_tables`` ->
``mae_core.checkpoint.convert.patch_resample.resample_patch_embed``, pseudo-inverse of the patch resize; upstream
ships ``mae_pretrain_vit_huge_p14to16.pth``) and the position table is resampled to the 64 x 64 grid. The change is
approximate; measured with ``python -m transfer.detectron2.resample_error --steps 200``
(docs/results/patch_resample_14to16.json: a small MAE, 96 wide, 4 deep, pretrained 200 steps at patch 14 on
Fashion-MNIST at 112 px, 64 test images): relative error of the patch embedding on images resized by 16/14 0.22 %,
of the whole encoder's tokens on the same grid 0.39 % (kernel merely interpolated: 1.7 %); on the same images at
patch 16 (a 7 x 7 instead of 8 x 8 grid, how ViTDet uses the weights) the mean patch token moves by 21 %, which is
the different tokenization, not a defect of the kernel; COCO fine-tuning starts from there, as upstream's does.
Command (8 GPUs, 80 GB each):
    python tools/train_coco.py --config configs/coco/mask_rcnn_vitdet_h_75ep.py --num-gpus 8 \
        --pretrained mae_pretrain_vit_huge.pth --output-dir runs/coco_vitdet_h
Should reach on COCO val2017: box AP 56.7, mask AP 50.2 (ViTDet model zoo, Mask R-CNN ViT-H 75ep).
"""
from transfer.detectron2.lazy import vitdet_backbone

from .mask_rcnn_vitdet_b_100ep import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.backbone = vitdet_backbone("vit_huge_patch14", patch_size=16, img_size=1024, window_size=14,
                                 global_blocks=(7, 15, 23, 31), drop_path_rate=0.5, grad_checkpointing=True,
                                 square_pad=1024)
model.config_name = __file__
optimizer.params.layer_decay = 0.9
optimizer.params.no_decay = []
optimizer.params.norm_decay = True
train.max_iter = 184375 * 3 // 4
lr_multiplier.milestones = (163889 * 3 // 4 / train.max_iter, 177546 * 3 // 4 / train.max_iter)
train.output_dir = "runs/coco_vitdet_h"
