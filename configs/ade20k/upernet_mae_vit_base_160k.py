"""UperNet + FCN auxiliary head on an MAE-pretrained ViT-B/16, ADE20K 512x512, 160k iterations (MAE paper Table 5).

Recipe: mmseg's MAE config (configs/mae/mae-base_upernet_8xb2-amp-160k_ade20k-512x512.py, which reproduced the
paper's 48.1 as 48.13): batch 16 (8 GPUs x 2), AdamW lr 1e-4, betas (0.9, 0.999), weight decay 0.05, layer decay
0.65 over 12 blocks, linear warmup 1,500 iterations then poly (power 1) to 0, drop path 0.1, layer scale 1.0,
relative position bias (zero-init, paper A.4), out indices (3, 5, 7, 11) -> Feature2Pyramid (strides 4..32),
sliding-window test (512 crops, stride 341), mixed precision (AmpOptimWrapper fp16 with dynamic loss scale: the
source is named "amp" and sets `fp16=dict(loss_scale='dynamic')`, a key mmengine ignores beside its OptimWrapper).
Schedule: 160k iterations (126.7 epochs of the 20,210 training images) as mmseg's config and BEiT's segmentation
code, which the paper follows; the paper's text says 100 epochs at batch 16 (126,300 iterations:
train_cfg.max_iters=126300 and the PolyLR end with it). 160k is kept because it is the schedule of the run that
matched the paper's number. Every value and its source: docs/recipes.md.

    torchrun --nproc_per_node 8 tools/train_ade20k.py --config configs/ade20k/upernet_mae_vit_base_160k.py \
        --data-root data/ade/ADEChallengeData2016 --pretrained mae_pretrain_vit_base.pth --output-dir runs/ade_b

Should reach mIoU 48.1 on ADE20K validation (single scale; MAE paper Table 5, pixel target with norm).
"""
_base_ = ["mmseg::_base_/datasets/ade20k.py", "mmseg::_base_/default_runtime.py"]
custom_imports = dict(imports=["transfer.mmseg"], allow_failed_imports=False)

crop_size = (512, 512)
embed_dim, depth, num_heads = 768, 12, 12
norm_cfg = dict(type="SyncBN", requires_grad=True)
data_preprocessor = dict(type="SegDataPreProcessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         bgr_to_rgb=True, pad_val=0, seg_pad_val=255, size=crop_size)
model = dict(
    type="EncoderDecoder",
    data_preprocessor=data_preprocessor,
    backbone=dict(type="MAEViT", img_size=512, patch_size=16, embed_dim=embed_dim, depth=depth, num_heads=num_heads,
                  out_indices=(3, 5, 7, 11), drop_path_rate=0.1, init_values=1.0, rel_pos="bias", pretrained=None),
    neck=dict(type="Feature2Pyramid", embed_dim=embed_dim, rescales=[4, 2, 1, 0.5], norm_cfg=norm_cfg),
    decode_head=dict(type="UPerHead", in_channels=[embed_dim] * 4, in_index=[0, 1, 2, 3], pool_scales=(1, 2, 3, 6),
                     channels=768, dropout_ratio=0.1, num_classes=150, norm_cfg=norm_cfg, align_corners=False,
                     loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=dict(type="FCNHead", in_channels=embed_dim, in_index=2, channels=256, num_convs=1,
                        concat_input=False, dropout_ratio=0.1, num_classes=150, norm_cfg=norm_cfg, align_corners=False,
                        loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=0.4)),
    train_cfg=dict(),
    test_cfg=dict(mode="slide", crop_size=crop_size, stride=(341, 341)))

optim_wrapper = dict(type="AmpOptimWrapper", dtype="float16", loss_scale="dynamic",
                     optimizer=dict(type="AdamW", lr=1e-4, betas=(0.9, 0.999), weight_decay=0.05),
                     constructor="MAELayerDecayConstructor",
                     paramwise_cfg=dict(num_layers=depth, layer_decay_rate=0.65))
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type="PolyLR", eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=160000, val_interval=16000)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
default_hooks = dict(checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=16000, max_keep_ckpts=2),
                     visualization=dict(type="SegVisualizationHook", draw=False))
train_dataloader = dict(batch_size=2)  # per GPU: 8 x 2 = 16
val_dataloader = dict(batch_size=1)
test_dataloader = val_dataloader
