"""The transfer study's segmentation recipe (tools/transfer_study.py): UperNet + FCN auxiliary head on the
demo-sized ViT (192 wide, 6 deep, 3 heads) at patch 8, 128 px crops (grid 16 x 16) of the Fashion-MNIST scenes'
ADE-style label maps. The neck takes the stride-8 maps to strides 4, 8, 16, 32, as the ADE20K recipes do from 16.
The scenes are mostly background, which the ADE convention ignores (label 0, ``reduce_zero_label``): the losses are
averaged over the labelled pixels only (``avg_non_ignore``), where mmseg's default divides by every pixel of the crop
and so shrinks the gradient by the labelled fraction of the crop.

    python tools/transfer_study.py --output-dir runs/transfer_study   (makes the scenes, runs every arm)
    python tools/train_ade20k.py --config configs/ade20k/transfer_study.py \
        --data-path runs/transfer_study/data/ade --num-classes 10 --pretrained CKPT --output-dir runs/ade_study
Expected: docs/results/transfer_study.md (measured, per arm and seed).
"""
_base_ = ["./smoke.py"]

max_iters = 200
model = dict(
    backbone=dict(patch_size=8, drop_path_rate=0.0),
    neck=dict(rescales=[2, 1, 0.5, 0.25]),
    decode_head=dict(loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0,
                                      avg_non_ignore=True)),
    auxiliary_head=dict(loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=0.4,
                                         avg_non_ignore=True)),
    test_cfg=dict(_delete_=True, mode="whole"))
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-3, by_epoch=False, begin=0, end=10),
    dict(type="PolyLR", eta_min=0.0, power=1.0, begin=10, end=max_iters, by_epoch=False),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters)
default_hooks = dict(checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=100, max_keep_ckpts=1))
# indices=N trains on the first N labelled scenes only (a label-scarce study, the MAE still pretrained on all its
# unlabelled scenes): transfer_study.py --ade-options train_dataloader.dataset.indices=75
train_dataloader = dict(batch_size=8, dataset=dict(indices=None))
