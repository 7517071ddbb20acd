"""CPU smoke recipe: ViTDet Mask R-CNN with the demo's small ViT (vit_demo_patch4: 192 wide, 6 deep, 3 heads,
patch 4) on the 128 px Fashion-MNIST COCO set (tools/make_scenes.py).

At 128 px the grid is 32 x 32: window attention 8 x 8 (16 windows) in blocks 0, 1, 3, 4, global in 2 and 5 (the
every-third pattern of ViTDet-B); the pyramid takes the stride-4 map to strides 4, 8, 16, 32 (+ p6). Heads are
slimmed (128 channels, a 2-fc box head, a 2-conv mask head, 64 RoIs per image). Batch 4, lr 4e-4, layer decay 0.7,
300 iterations by default; on 2 busy shared cores a step takes several seconds, so docs/coco.md states the
iterations that fit the measured budget (train.max_iter=N).
Commands:
    python tools/make_scenes.py --output-dir runs/fashion --formats coco --classes 0,1,7,8
    python tools/train_coco.py --config configs/coco/smoke.py \
        --data-path runs/fashion/coco \
        --pretrained CKPT --output-dir runs/coco_smoke
Measured on 2 shared CPU cores (docs/coco.md): see that page for box / mask AP from MAE and from scratch.
"""
from detectron2.config import LazyCall as L

from transfer.detectron2.lazy import lsj_dataloader, mask_rcnn, step_schedule, vit_adamw, vitdet_backbone

MAX_ITER = 300
model = mask_rcnn(
    vitdet_backbone("vit_demo_patch4", img_size=128, window_size=8, global_blocks=(2, 5), drop_path_rate=0.0,
                    scale_factors=(1.0, 0.5, 0.25, 0.125), out_channels=128),
    num_classes=4, anchor_sizes=(16, 32, 64, 128, 256), channels=128, rpn_pre_nms_train=1000,
    rpn_post_nms_train=256, rpn_pre_nms_test=500, rpn_post_nms_test=50, roi_batch=64,
    box_conv_dims=(), box_fc_dims=(256, 256), mask_conv_dims=(128, 128), config_name=__file__)
dataloader = lsj_dataloader(image_size=128, batch=4, train_names="fashion_coco_train", test_names="fashion_coco_val",
                            min_scale=0.5, max_scale=1.5, num_workers=0, mask_format="bitmask")
optimizer = vit_adamw(lr=4e-4, layer_decay=0.7, weight_decay=0.05)
train = dict(
    output_dir="runs/coco_smoke", init_checkpoint="", max_iter=MAX_ITER, device="cpu", seed=0,
    amp=dict(enabled=False, precision="auto"),   # on a CPU: bf16 autocast where faster (or "bf16" / "fp32")
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=False),
    checkpointer=dict(period=100, max_to_keep=2), eval_period=0, log_period=20)
lr_multiplier = L(step_schedule)(max_iter="${train.max_iter}", milestones=(0.8,), warmup_iters=30)
