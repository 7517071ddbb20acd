"""ViTDet Mask R-CNN, ViT-B (MAE-pretrained), 1024 LSJ, AdamW, 100 epochs, AMP: the ViTDet recipe.

Source: detectron2 projects/ViTDet/configs/COCO/mask_rcnn_vitdet_b_100ep.py (+ common/models/mask_rcnn_vitdet.py,
common/optim.py AdamW, ViTDet/configs/common/coco_loader_lsj.py). Window attention (14) in all blocks but 2, 5, 8,
11; decomposed relative position; simple feature pyramid (scales 4, 2, 1, 0.5 + p6); square padding to 1024 at train
and test time; layer decay 0.7, drop path 0.1, lr 1e-4, weight decay 0.1 (none on pos_embed and norm layers;
biases and relative-position tables decayed, as upstream), batch 64, 184,375 iterations (x0.1 at 163,889 / 177,546),
250 warmup iterations.
Command (8 GPUs; real COCO under $DETECTRON2_DATASETS/coco):
    python tools/train_coco.py --config configs/coco/mask_rcnn_vitdet_b_100ep.py --num-gpus 8 \
        --pretrained mae_pretrain_vit_base.pth --output-dir runs/coco_vitdet_b
A ViTDet model-zoo checkpoint (model_final_*.pkl) loads with --pretrained too (evaluate with --eval-only).
Should reach on COCO val2017: box AP 51.6, mask AP 45.9 (ViTDet paper / model zoo).
"""
from detectron2.config import LazyCall as L

from transfer.detectron2.lazy import lsj_dataloader, mask_rcnn, step_schedule, vit_adamw, vitdet_backbone

model = mask_rcnn(vitdet_backbone("vit_base_patch16", img_size=1024, window_size=14, global_blocks=(2, 5, 8, 11),
                                  drop_path_rate=0.1, square_pad=1024), num_classes=80, config_name=__file__)
dataloader = lsj_dataloader(image_size=1024, batch=64, train_names="coco_2017_train", test_names="coco_2017_val")
optimizer = vit_adamw(lr=1e-4, layer_decay=0.7, weight_decay=0.1, no_decay=("pos_embed",), norm_decay=False)
train = dict(
    output_dir="runs/coco_vitdet_b", init_checkpoint="", max_iter=184375, device="cuda", seed=0,
    amp=dict(enabled=True, precision="auto"),    # CUDA: AMPTrainer (fp16); a CPU: bf16 where faster
    ddp=dict(broadcast_buffers=False, find_unused_parameters=False, fp16_compression=True),
    checkpointer=dict(period=5000, max_to_keep=100), eval_period=0, log_period=20)
lr_multiplier = L(step_schedule)(max_iter="${train.max_iter}",
                                  milestones=(163889 / 184375, 177546 / 184375), warmup_iters=250)
