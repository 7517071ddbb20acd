"""The paper's Table 7 (pixel w/o norm, pixel w/ norm, dVAE token targets -> classification, COCO, ADE20K) as one
resumable command (mae-compare-targets); see docs/study.md.

  OMP_NUM_THREADS=1 python tools/compare_targets.py --output-dir runs/compare_targets      # small scale, CPU
"""
import sys

from transfer.studies.compare_targets import main

if __name__ == "__main__":
    sys.exit(main())
