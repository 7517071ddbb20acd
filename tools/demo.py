"""The demo: python tools/demo.py [--output-dir DIR] [key=value ...] (what `make demo` runs)."""
import sys

from transfer.studies.demo import main

if __name__ == "__main__":
    sys.exit(main())
