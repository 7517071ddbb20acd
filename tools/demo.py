"""The demo (what `make demo` runs; mae-demo): python tools/demo.py [--output-dir DIR] [key=value ...]
"""
import sys

from transfer.studies.demo import main

if __name__ == "__main__":
    sys.exit(main())
