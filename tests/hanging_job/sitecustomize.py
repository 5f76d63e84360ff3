"""Test fixture (put on PYTHONPATH): a ``python -m ewc suite-job ...`` process hangs at start-up instead of training,
as a long run would, so a test can stop a suite while its job runs; every other process starts as usual."""

import sys
import time

if "suite-job" in sys.argv:
    time.sleep(600)
