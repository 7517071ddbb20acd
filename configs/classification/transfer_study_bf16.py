"""configs/classification/transfer_study.py trained in the precision this machine runs fastest
(``train.precision="auto"``: bf16 autocast on a GPU, on a CPU with AMX, and on one with AVX-512 bf16 where measured
faster; fp32 elsewhere; the choice in metrics.json), as the study's pretraining already does. The same for every arm.

    python tools/transfer_study.py --ft-config configs/classification/transfer_study_bf16.py ...
Expected: docs/results/transfer_study_4c_pretrain4800_full1200_labelled75_all_bf16_epyc_seeds0-2/transfer_study.md:
MAE - scratch +10.36 / +8.84 / +5.79 top-1 on seeds 0-2 (the fp32 recipe's: +7.92 / +10.06 / +8.84).
"""
from pathlib import Path

from mae_core.config import load_config

config = load_config(Path(__file__).with_name("transfer_study.py"), {"train.precision": "auto"})
