"""Does the MAE transfer? MAE (in domain, demo) vs scratch on detection, segmentation and classification, over
seeds, as one resumable command (cells in OUT/cells/; a rerun skips finished ones; see the library module
transfer/studies/transfer_study.py).

  OMP_NUM_THREADS=2 python tools/transfer_study.py --output-dir runs/transfer_study --seeds 3 \
      --publish docs/results [--items DIR]
"""
import sys

from transfer.studies.transfer_study import main

if __name__ == "__main__":
    sys.exit(main())
