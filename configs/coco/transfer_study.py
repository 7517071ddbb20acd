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
from detectron2.config import LazyCall as L

from transfer.detectron2.lazy import lsj_dataloader, mask_rcnn, step_schedule, vit_adamw, vitdet_backbone

MAX_ITER = 300
model = mask_rcnn(
    vitdet_backbone("vit_demo_patch4", patch_size=8, img_size=128, window_size=8, global_blocks=(2, 5),
                    drop_path_rate=0.0, scale_factors=(2.0, 1.0, 0.5, 0.25), out_channels=128),
    num_classes=10, anchor_sizes=(16, 32, 64, 128, 256), channels=128, rpn_pre_nms_train=1000,
    rpn_post_nms_train=256, rpn_pre_nms_test=500, rpn_post_nms_test=50, roi_batch=64,
    box_conv_dims=(), box_fc_dims=(256, 256), mask_conv_dims=(128, 128), config_name=__file__)
dataloader = lsj_dataloader(image_size=128, batch=4, train_names="fashion_coco_train", test_names="fashion_coco_val",
                            min_scale=0.5, max_scale=1.5, num_workers=0, mask_format="bitmask")
optimizer = vit_adamw(lr=1.2e-3, layer_decay=0.7, weight_decay=0.05)
train = dict(
    output_dir="runs/coco_study", init_checkpoint="", max_iter=MAX_ITER, device="cpu", seed=0,
    amp=dict(enabled=False),
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=False),
    checkpointer=dict(period=100, max_to_keep=2), eval_period=0, log_period=20)
lr_multiplier = L(step_schedule)(max_iter="${train.max_iter}", milestones=(0.8,), warmup_iters=30)
