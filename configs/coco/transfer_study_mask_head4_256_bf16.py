"""configs/coco/transfer_study_mask_head4_256.py trained under bf16 autocast on a CPU where it is faster
(``train.amp.precision="auto"``; fp32 elsewhere, the choice in metrics.json), evaluation in fp32; the same for every
arm. tools/benchmark.py detector times the two (docs/results/benchmark_detector_bf16_vs_fp32_epyc.json).
    python tools/transfer_study.py --coco-config configs/coco/transfer_study_mask_head4_256_bf16.py ...
"""
from .transfer_study_mask_head4_256 import dataloader, lr_multiplier, model, optimizer, train

train.amp = dict(enabled=True, precision="auto")
model.config_name = __file__
