"""The paper's pretraining ablations (Table 1 a-f; mae-ablate): pretrain one model per row, then fine-tune and
linear-probe it.

  python tools/ablate.py --table d [--seeds 0,1] [--output-dir runs/ablations]          # small scale, CPU
  python tools/ablate.py --table all --scale full --data-path IMAGENET/train ...        # the paper's configs
Rows: configs/pretrain/ablations/<table><i>_<name>.py. Rows whose results exist are skipped; a stopped row resumes.
Writes OUTPUT/table_<t>.json and .md and prints the table.
"""
import sys

from transfer.studies.ablation.cli import main

if __name__ == "__main__":
    sys.exit(main())
