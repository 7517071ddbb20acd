"""A variant of the transfer study's segmentation recipe (configs/ade20k/transfer_study.py): every level of UperNet's
pyramid comes from the last block (``out_indices=(5, 5, 5, 5)``: ViTDet's simple pyramid, as the detection recipe
builds it), where the study's recipe taps blocks 1, 2, 3 and 5, as mmseg's MAE recipes tap four depths. From the last
block alone the head sees only what the backbone computed, not the near-pixel features of its first blocks.
Measured on four classes over three seeds (docs/results/transfer_study_4c_last_block, README "Does it transfer?"):
scratch scores lower than with the early taps (46.9 against 48.5 mIoU on the same scenes and seeds,
docs/results/transfer_study_4c_pretrain64), the in-domain MAE of 2,400 steps stays level with it or behind, the demo
MAE leads it in every seed (+2.1 on average); the in-domain MAE of 4,800 steps leads it in two seeds of three (+1.8 on
average, docs/results/transfer_study_4c_last_block_pretrain4800), that of 7,200 steps in every seed (+6.0 / +3.1 /
+3.1, docs/results/transfer_study_4c_pretrain7200), that of 10,800 steps by as much (+6.0 / +2.5 / +3.1,
docs/results/transfer_study_4c_pretrain10800).

    python tools/transfer_study.py --output-dir runs/ts_last_block \
        --ade-config configs/ade20k/transfer_study_last_block.py
"""
_base_ = ["./transfer_study.py"]

model = dict(backbone=dict(out_indices=(5, 5, 5, 5)))
