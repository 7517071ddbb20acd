"""The MAE paper's COCO setting, ViT-B: Mask R-CNN with the ViT adapted to FPN (four evenly spaced blocks, 2, 5, 8,
11, resampled to strides 4, 8, 16, 32), 1024 LSJ, AdamW, 100 epochs, cosine schedule, AMP.

Source: MAE paper, Appendix A.3 ("we equally divide this stack into 4 subsets and apply convolutions to upsample or
downsample ..."; hyper-parameters searched per entry, details deferred to Li et al. 2021, "Benchmarking Detection
Transfer Learning with Vision Transformers", arXiv 2111.11429, which releases no config). Attention layout as that
benchmark describes it: windowed attention (14 x 14) in all blocks except the four tapped ones, which are global,
with relative position (here ViTDet's decomposed form, zero-init). lr 8e-5, weight decay 0.1, layer decay 0.7 and
drop path 0.1 are the values this project takes from that benchmark; they were not re-checked against its text in
this revision (no copy of the paper here) and are listed as such in docs/recipes.md.
Command (8 GPUs):
    python tools/train_coco.py --config configs/coco/mask_rcnn_mae_fpn_b.py --num-gpus 8 \
        --pretrained mae_pretrain_vit_base.pth --output-dir runs/coco_mae_b
Should reach on COCO val2017: box AP 50.3, mask AP 44.9 (MAE paper, Table 4).
"""
from detectron2.config import LazyCall as L

from transfer.detectron2.lazy import cosine_schedule, mae_fpn_backbone

from .mask_rcnn_vitdet_b_100ep import dataloader, model, optimizer, train  # noqa: F401

model.backbone = mae_fpn_backbone("vit_base_patch16", img_size=1024, drop_path_rate=0.1, window_size=14)
model.config_name = __file__
optimizer.lr = 8e-5
lr_multiplier = L(cosine_schedule)(max_iter="${train.max_iter}", warmup_iters=460)
train.output_dir = "runs/coco_mae_b"
