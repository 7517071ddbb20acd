"""CPU smoke recipe: UperNet + FCN auxiliary head on the demo ViT (vit_demo_patch4: 192 wide, 6 deep, 3 heads,
patch 4) at 128 px crops (grid 32x32), on the Fashion-MNIST scenes of tools/make_scenes.py (10 classes).

    python tools/make_scenes.py --output-dir runs/fashion --formats ade
    python tools/pretrain.py --config configs/pretrain/demo.py --data-path fashion-mnist --output-dir runs/demo
    OMP_NUM_THREADS=1 python tools/train_ade20k.py --config configs/ade20k/smoke.py --data-root runs/fashion/ade \
        --num-classes 10 --pretrained runs/demo/checkpoint-final.pth --output-dir runs/ade_smoke

150 iterations at batch 4; measured on 2 shared CPU cores in docs/ade20k.md (mIoU from an MAE checkpoint vs from
scratch at this budget). It is not ADE20K: on real ADE20K the full recipes reach mIoU 48.1 (ViT-B) and 53.6 (ViT-L).
"""
_base_ = ["./upernet_mae_vit_base_160k.py"]

crop_size = (128, 128)
embed_dim, depth = 192, 6
norm_cfg = dict(type="BN", requires_grad=True)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(img_size=128, patch_size=4, embed_dim=embed_dim, depth=depth, num_heads=3, out_indices=(1, 2, 3, 5),
                  drop_path_rate=0.1, init_values=1.0),
    neck=dict(embed_dim=embed_dim, rescales=[2, 1, 0.5, 0.25], norm_cfg=norm_cfg),
    decode_head=dict(in_channels=[embed_dim] * 4, channels=64, pool_scales=(1, 2, 4), num_classes=10,
                     norm_cfg=norm_cfg),
    auxiliary_head=dict(in_channels=embed_dim, channels=32, num_classes=10, norm_cfg=norm_cfg),
    test_cfg=dict(_delete_=True, mode="whole", crop_size=(96, 96), stride=(64, 64)))

optim_wrapper = dict(_delete_=True, type="OptimWrapper",
                     optimizer=dict(type="AdamW", lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
                     constructor="MAELayerDecayConstructor",
                     paramwise_cfg=dict(num_layers=depth, layer_decay_rate=0.75))
max_iters = 150
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-3, by_epoch=False, begin=0, end=10),
    dict(type="PolyLR", eta_min=0.0, power=1.0, begin=10, end=max_iters, by_epoch=False),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(logger=dict(type="LoggerHook", interval=10, log_metric_by_epoch=False),
                     checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=max_iters, max_keep_ckpts=1))
env_cfg = dict(cudnn_benchmark=False, dist_cfg=dict(backend="gloo"))

train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations", reduce_zero_label=True),
    dict(type="RandomResize", scale=(256, 128), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type="RandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion"),
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="Resize", scale=(256, 128), keep_ratio=True),
    dict(type="LoadAnnotations", reduce_zero_label=True),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(batch_size=4, num_workers=1, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, num_workers=1, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
