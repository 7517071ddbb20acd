"""The MAE paper's COCO setting, ViT-L: ViT + FPN from blocks 5, 11, 17, 23 (global; windowed attention elsewhere);
otherwise as mask_rcnn_mae_fpn_b.py, with layer decay 0.8 and drop path 0.3 (source and caveat as in that file's
docstring: MAE paper Appendix A.3 -> Li et al. 2021, arXiv 2111.11429).

Command (8 GPUs):
    python tools/train_coco.py --config configs/coco/mask_rcnn_mae_fpn_l.py --num-gpus 8 \
        --pretrained mae_pretrain_vit_large.pth --output-dir runs/coco_mae_l
Should reach on COCO val2017: box AP 53.3, mask AP 47.2 (MAE paper, Table 4).
"""
from transfer.detectron2.lazy import mae_fpn_backbone

from .mask_rcnn_mae_fpn_b import dataloader, lr_multiplier, model, optimizer, train  # noqa: F401

model.backbone = mae_fpn_backbone("vit_large_patch16", img_size=1024, drop_path_rate=0.3, window_size=14,
                                  grad_checkpointing=True)
model.config_name = __file__
optimizer.params.layer_decay = 0.8
train.output_dir = "runs/coco_mae_l"
