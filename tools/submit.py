"""Submit pretraining, fine-tuning or linear probing to SLURM through submitit (requeued on preemption/timeout).

    python tools/submit.py --nodes N --gpus-per-node G --partition P --timeout MIN [--job-dir DIR] \
        -- pretrain|finetune|linprobe <the tool's own arguments>
"""
import sys

from transfer.slurm.launcher import main

if __name__ == "__main__":
    sys.exit(main())
