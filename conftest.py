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


# The groups that take longest (Snakemake on the tiny suite, the whole smoke book), handed to the workers first, so
# that neither is left to run alone at the end.
LONGEST_GROUPS = ("tests/test_suites.py", "tests/test_smoke_book.py")


def xdist_group(item) -> str:
    """The pytest-xdist group of a test: every reader of the session's built book shares one (the book is built once
    per worker that has them); a chapter's nbval cells, and the tests of a file that share a module-scoped fixture,
    share their file's (the cells run in order in one kernel, the fixture is made once); any other test is a group of
    its own, free to go to whichever worker is idle."""
    if "built_book" in getattr(item, "fixturenames", ()):
        return "built-book"
    file = item.nodeid.split("::")[0]
    if str(item.fspath).endswith(".ipynb"):
        return file
    defs = getattr(item, "_fixtureinfo", None)
    wide = defs is not None and any(d[-1].scope not in ("function", "session") for d in defs.name2fixturedefs.values())
    return file if wide else item.nodeid


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items):
    """The published chapters under nbval, and every test that reads the built book, are slow (see pytest.ini).

    pytest-xdist (``--dist loadgroup``, pytest.ini) hands each group (``xdist_group``) to one worker: the longest
    first, then the slow ones, then the rest, each in the order collected."""
    groups = {}
    for item in items:
        if str(item.fspath).endswith(".ipynb") or "built_book" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
        groups[item.nodeid] = xdist_group(item)
        item.add_marker(pytest.mark.xdist_group(groups[item.nodeid]))
    slow_groups = {groups[item.nodeid] for item in items if item.get_closest_marker("slow")}

    def rank(item) -> int:
        group = groups[item.nodeid]
        if group in LONGEST_GROUPS:
            return LONGEST_GROUPS.index(group)
        return len(LONGEST_GROUPS) + (group not in slow_groups)

    items.sort(key=rank)  # stable: a group's tests stay in their collected order
