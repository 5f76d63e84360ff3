import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import BUILD_COMMAND, BUILT_HTML, POPPLER, copy_checkout

from ewc.pdf import CHROMIUM_NAMES

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


@pytest.fixture(scope="session")
def mnist():
    from ewc.data import load_mnist

    return load_mnist()


@pytest.fixture(scope="session")
def recorded_fingerprint() -> dict:
    """This checkout's science fingerprint, recorded (probed on a cold cache) as the book's runner records it, for a
    test that reads the published runs through the chapters' code outside nbval (whose collection hook records it
    otherwise: the root conftest.py)."""
    from ewc.fingerprint import cached_fingerprint

    return cached_fingerprint()


@dataclass(frozen=True)
class BuiltBook:
    """The published book, built once per test session (``built_book``)."""

    checkout: Path  # the copy of the checkout it was built in
    html: Path  # the HTML the Pages workflow uploads
    pdf: Path | None  # the PDF, where headless Chromium and poppler are installed
    started: float  # when the build began (time.time()): nothing in the checkout may be newer from executing
    stderr: str


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> BuiltBook:
    """The book built once for every test that reads it: the Pages workflow's build command (``BUILD_COMMAND``) run
    in a copy of the checkout, as on a fresh runner, with ``--pdf`` added where Chromium and poppler can build and
    read the PDF (one process renders the HTML and the PDF's single page from the same staged chapters)."""
    checkout = copy_checkout(tmp_path_factory.mktemp("published") / "checkout")
    argv = shlex.split(BUILD_COMMAND)
    assert argv[0] == "python"
    pdf = None
    if any(shutil.which(n) for n in CHROMIUM_NAMES) and all(shutil.which(t) for t in POPPLER):
        pdf = checkout.parent / "ewc-book.pdf"
        argv += ["--pdf", str(pdf)]
    started = time.time()
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, *argv[1:]], cwd=checkout, env=env, capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return BuiltBook(checkout, checkout / BUILT_HTML, pdf, started, proc.stderr)
