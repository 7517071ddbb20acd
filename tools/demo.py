"""The demo: python tools/demo.py [--output-dir DIR] [key=value ...] (what `make demo` runs)."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mae_core.demo import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
