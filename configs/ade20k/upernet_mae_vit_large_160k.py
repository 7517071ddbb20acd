"""UperNet + FCN auxiliary head on an MAE-pretrained ViT-L/16, ADE20K 512x512, 160k iterations (MAE paper Table 5).

The ViT-B recipe (batch 16, AdamW 1e-4, weight decay 0.05, warmup 1,500 + poly, AMP, sliding-window test) with
24 blocks, out indices (7, 11, 15, 23) (mmseg's BEiT-L config), drop path 0.2 and layer decay 0.75. No source
lists a ViT-L ADE20K recipe for MAE (the paper searched the lr per entry; mmseg ships ViT-B only). Source of the
layer decay and drop path: the official FINETUNE.md ViT-L values (0.75, 0.2), by the rule mmseg's ViT-B config
follows (its 0.65 / 0.1 are FINETUNE.md's ViT-B values). Alternative with a source: 0.8 (ViTDet's ViT-L, which
the MAE maintainers point to for ADE20K in facebookresearch/mae issue 52). Sources: docs/recipes.md.

    torchrun --nproc_per_node 8 tools/train_ade20k.py --config configs/ade20k/upernet_mae_vit_large_160k.py \
        --data-root data/ade/ADEChallengeData2016 --pretrained mae_pretrain_vit_large.pth --output-dir runs/ade_l

Should reach mIoU 53.6 on ADE20K validation (MAE paper Table 5).
"""
_base_ = ["./upernet_mae_vit_base_160k.py"]

embed_dim, depth = 1024, 24
model = dict(
    backbone=dict(embed_dim=embed_dim, depth=depth, num_heads=16, out_indices=(7, 11, 15, 23), drop_path_rate=0.2),
    neck=dict(embed_dim=embed_dim),
    decode_head=dict(in_channels=[embed_dim] * 4, channels=1024),
    auxiliary_head=dict(in_channels=embed_dim))
optim_wrapper = dict(paramwise_cfg=dict(num_layers=depth, layer_decay_rate=0.75))
