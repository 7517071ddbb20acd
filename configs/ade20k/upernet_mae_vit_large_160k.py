"""UperNet + FCN auxiliary head on an MAE-pretrained ViT-L/16, ADE20K 512x512, 160k iterations (MAE paper Table 5).

Same recipe as the ViT-B file (batch 16, AdamW 1e-4, weight decay 0.05, warmup 1,500 + poly, AMP, sliding-window
test) with 24 blocks, out indices (7, 11, 15, 23), drop path 0.2 and layer decay 0.75. The paper does not list
the ViT-L layer decay for ADE20K (it searched lr per entry); 0.75 is its ViT-L fine-tuning value - an assumption.

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
