"""The whole pipeline re-executed at the smoke profile, as a new user would run it: the runs are trained, the benches
measured, every chapter rendered and the HTML built; the console stays quiet, no source is touched, and what the book
checks matches the committed reference (made on another instruction set too: see the reference's header)."""

import json
import os
import re
import subprocess
import sys

import pytest
from helpers import ROOT

from ewc.rerun import checked_lines

REFERENCE = ROOT / "tests" / "reference" / "smoke-checked-lines.json"
EXPECTED_STDERR = re.compile(
    r"^(runs: .*|bench: \w+ \(smoke\) \.\.\.|chapter \d+/\d+: \w+ \(\d+ s\)|built .*index\.html \(\d+ pages\))$"
)


def git_status() -> list[str]:
    return subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout.split("\n")


def source_digest() -> dict[str, int]:
    return {str(p.relative_to(ROOT)): hash(p.read_bytes()) for p in sorted((ROOT / "book").rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def smoke_book(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smoke-book")
    before = git_status(), source_digest()
    env = {**os.environ, "EWC_RESULTS_DIR": str(tmp / "results"), "EWC_TASK1_CACHE": str(tmp / "task1")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the runner must stay quiet without it
    proc = subprocess.run(
        [sys.executable, "-m", "ewc", "book", "--profile", "smoke", "--no-progress", "--html-dir", str(tmp / "html")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return proc, tmp, before


def test_smoke_book_builds_with_a_quiet_console(smoke_book):
    proc, tmp, _ = smoke_book
    assert proc.returncode == 0, proc.stderr[-4000:]
    noise = [line for line in proc.stderr.splitlines() if not EXPECTED_STDERR.match(line)]
    assert noise == [], "\n".join(noise[:20])
    assert (tmp / "html" / "index.html").is_file()


def test_running_the_book_touches_no_source(smoke_book):
    _, _, (status_before, sources_before) = smoke_book
    assert source_digest() == sources_before
    assert git_status() == status_before  # nothing tracked changed, nothing new outside ignored outputs
    assert not list((ROOT / "book").glob("*.ipynb"))


def test_checked_lines_match_the_reference(smoke_book):
    _, tmp, _ = smoke_book
    chapters = tmp / "results" / "smoke" / "chapters"
    found = {p.stem: checked_lines(p) for p in sorted(chapters.glob("*.ipynb")) if not p.stem.endswith(".error")}
    reference = json.loads(REFERENCE.read_text())["chapters"]
    assert sorted(found) == sorted(reference)
    for name, lines in reference.items():
        assert found[name] == lines, name
