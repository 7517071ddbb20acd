"""MAE pretraining (console script: mae-pretrain).

    python tools/pretrain.py --config CONFIG --data-path PATH --output-dir DIR [key=value ...]

Running it again with the same --output-dir resumes from the last checkpoint (--no-resume starts over).
Multi-GPU: torchrun --nproc_per_node N tools/pretrain.py ...
"""
import sys

from mae_core.cli import pretrain_main

if __name__ == "__main__":
    sys.exit(pretrain_main())
