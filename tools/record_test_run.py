"""Runs the test suite once and records what it took: docs/results/test_suite.json (passed / failed counts, wall
time, the 15 slowest tests, commit, CPU, load average before and after).

    python tools/record_test_run.py [--output docs/results/test_suite.json] [-- extra pytest arguments]
"""
import sys

from transfer.studies.suite_record import main

if __name__ == "__main__":
    sys.exit(main())
