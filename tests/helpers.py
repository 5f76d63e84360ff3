"""Shared test helpers (a module of its own: book/conftest.py also exists, so 'conftest' is ambiguous)."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args, env=None, timeout=600):
    """``python -m ewc ARGS`` in a subprocess from the repo root; returns the CompletedProcess."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "ewc", *args], cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )
