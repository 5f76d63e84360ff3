"""pytest runs the unit tests (tests/) and nbval over the published chapters (results/quick/chapters/*.ipynb).

nbval re-executes each published chapter in a kernel that inherits this environment: make this checkout's ``ewc``
importable there. The chapters only reload the committed results of the published run and fail loudly when a result
is missing or was made by code whose science fingerprint differs from this checkout's (``ewc.chapter``)."""

import os
from pathlib import Path

import pytest

from ewc.console import quiet_kernels

ROOT = Path(__file__).resolve().parent
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ["IPYTHONDIR"] = quiet_kernels(ROOT / "_build" / "ipython")  # TensorFlow's C++ lines stay out of cells


def pytest_collection_finish(session):
    """The chapters check results against this checkout's recorded fingerprint and never probe it themselves: record
    it (the runner's job, here the test runner's) when nbval is about to execute them."""
    if any(str(item.fspath).endswith(".ipynb") for item in session.items):
        from ewc.fingerprint import cached_fingerprint

        cached_fingerprint()


def pytest_collection_modifyitems(items):
    """The published chapters under nbval, and every test that reads the built book, are slow (see pytest.ini)."""
    for item in items:
        if str(item.fspath).endswith(".ipynb") or "built_book" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
