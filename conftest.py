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


# The groups that take longest (Snakemake suites, the whole smoke book), handed to the workers first, so that neither
# is left to run alone at the end.
LONGEST_GROUPS = ("tests/test_suites.py", "tests/test_smoke_book.py")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """The published chapters under nbval, and every test that reads the built book, are slow (see pytest.ini).

    pytest-xdist (``--dist loadgroup``, pytest.ini) gives each group to one worker: a file's tests stay together, so a
    chapter's cells run in order in one kernel and a module's fixtures are made once; every reader of the session's
    built book shares one group, so the book is built once. Groups go out in this order: the longest, then the slow
    ones, then the rest, each in the order collected."""
    groups = {}
    for item in items:
        reads_book = "built_book" in getattr(item, "fixturenames", ())
        if str(item.fspath).endswith(".ipynb") or reads_book:
            item.add_marker(pytest.mark.slow)
        groups[item.nodeid] = "built-book" if reads_book else item.nodeid.split("::")[0]
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))

    slow_groups = {groups[item.nodeid] for item in items if item.get_closest_marker("slow")}

    def rank(item) -> int:
        group = groups[item.nodeid]
        if group in LONGEST_GROUPS:
            return LONGEST_GROUPS.index(group)
        return len(LONGEST_GROUPS) + (group not in slow_groups)

    items.sort(key=rank)  # stable: a group's tests stay in their collected order
