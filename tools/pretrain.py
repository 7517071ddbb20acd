"""MAE pretraining.  python tools/pretrain.py --config CONFIG --data-path PATH --output-dir DIR [key=value ...]

Running it again with the same --output-dir resumes from the last checkpoint (--no-resume starts over).
Multi-GPU: torchrun --nproc_per_node N tools/pretrain.py ...
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mae_core.cli import pretrain_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(pretrain_main())
