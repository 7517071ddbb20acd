"""configs/ade20k/transfer_study_last_block.py with mixed precision (``AmpOptimWrapper``): fp16 on a GPU; on a CPU
bf16 autocast where it runs faster, else fp32 (transfer.mmseg.train.cpu_amp; the choice in metrics.json); the
validation in fp32. The same for every arm, as configs/coco/transfer_study_mask_head4_256_bf16.py for the detector.

    python tools/transfer_study.py --ade-config configs/ade20k/transfer_study_last_block_bf16.py ...
Expected: docs/results/transfer_study_4c_pretrain4800_full1200_labelled75_all_bf16_epyc_seeds0-2/transfer_study.md:
MAE - scratch +8.42 / +4.41 / +3.56 mIoU on seeds 0-2 (the fp32 recipe's: +7.66 / +5.07 / +4.47).
"""
_base_ = ["./transfer_study_last_block.py"]

optim_wrapper = dict(type="AmpOptimWrapper", loss_scale="dynamic")
