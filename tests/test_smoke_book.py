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

from ewc.forecast import is_verdict
from ewc.rerun import checked_lines

pytestmark = pytest.mark.slow  # Snakemake, worker processes or the whole smoke book

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
    """The smoke book, its runs trained in the book's own process (``--jobs 0``): the same results as fresh worker
    processes, bit for bit, without 19 interpreter starts; the workers, quiet where TensorFlow is noisy, are
    test_run_pool's."""
    tmp = tmp_path_factory.mktemp("smoke-book")
    before = git_status(), source_digest()
    env = {**os.environ, "EWC_RESULTS_DIR": str(tmp / "results"), "EWC_TASK1_CACHE": str(tmp / "task1")}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # the runner must stay quiet without it
    proc = subprocess.run(
        [sys.executable, "-m", "ewc", "book", "--profile", "smoke", "--no-progress", "--jobs", "0"]
        + ["--html-dir", str(tmp / "html")],
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


ACC_TOLERANCE = 5.0  # points: two seeds of a tiny network; a machine's rounding moves them far less


def test_checked_lines_match_the_reference(smoke_book):
    """Every checked line that is not a verdict is the same; a verdict over two seeds may differ on another machine,
    so verdict lines are only counted; every group's mean ACC is within ACC_TOLERANCE of the reference."""
    from ewc.rerun import group_means

    _, tmp, _ = smoke_book
    chapters = tmp / "results" / "smoke" / "chapters"
    found = {p.stem: checked_lines(p) for p in sorted(chapters.glob("*.ipynb")) if not p.stem.endswith(".error")}
    reference = json.loads(REFERENCE.read_text())
    assert sorted(found) == sorted(reference["chapters"])
    for name, lines in reference["chapters"].items():

        def plain(ls):
            return [line for line in ls if not is_verdict(line)]

        assert plain(found[name]) == plain(lines), name
        assert len(found[name]) == len(lines), name
    means = {g: sum(v["ACC"]) / len(v["ACC"]) for g, v in group_means("smoke", tmp / "results").items()}
    assert sorted(means) == sorted(reference["acc_means"])
    off = {
        g: (round(means[g], 2), ref) for g, ref in reference["acc_means"].items() if abs(means[g] - ref) > ACC_TOLERANCE
    }
    assert off == {}


@pytest.mark.parametrize("name", ["fisher", "train", "step"])
def test_the_books_benches_are_well_formed(smoke_book, name):
    """The benches the book measured for its training-time chapter, each in a process of its own, pass test_bench's
    checks (the penalty bench, whose per-task sum the book times only up to K = 5, is checked in test_bench with the
    sum at every K)."""
    from test_bench import check

    proc, tmp, _ = smoke_book
    assert proc.returncode == 0, proc.stderr[-4000:]
    check(json.loads((tmp / "results" / "smoke" / f"bench-{name}-smoke.json").read_text()), name)


@pytest.fixture(scope="module")
def smoke_check(smoke_book):
    """``--check-against-published`` on the smoke book just made, on the same machine, flags and process layout
    (``--jobs 0``): every run trained again from nothing, the chapters rendered again and compared."""
    proc, tmp, _ = smoke_book
    assert proc.returncode == 0, proc.stderr[-4000:]
    env = {**os.environ, "EWC_RESULTS_DIR": str(tmp / "results")}
    env.pop("EWC_TASK1_CACHE", None)  # the check keeps a task-1 cache of its own
    check = subprocess.run(
        [sys.executable, "-m", "ewc", "book", "--profile", "smoke", "--check-against-published"]
        + ["--no-progress", "--jobs", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return check, json.loads((tmp / "results" / "smoke" / "rerun-check.json").read_text())


def test_a_rerun_that_computes_what_the_book_did_passes_the_check(smoke_book, smoke_check):
    """The check end to end: a rerun of the same numbers (every run's first loss equal to the published one) must
    find every checked line identical, every group mean inside its rerun interval, and pass; and every run it
    compared was trained again, not copied from the published results (its own timings)."""
    from ewc import suites
    from ewc.paths import RERUN_SCRATCH

    check, report = smoke_check
    published = sorted((smoke_book[1] / "results" / "smoke").glob("*/seed-*.json"))
    rerun = RERUN_SCRATCH / "smoke" / "results" / "smoke"
    assert len(published) == len(suites.suite("smoke").runs)
    for path in published:
        again = rerun / path.relative_to(path.parents[1])
        timings = [json.loads(p.read_text())["timings"]["total_s"] for p in (path, again)]
        assert timings[0] != timings[1], f"{again} is the published run, copied"
    assert check.returncode == 0, check.stderr[-4000:]
    runs = len(suites.suite("smoke").runs)
    assert report["suites_retrained"] == ["smoke"]
    assert report["book_runs"] == report["runs_compared"] == report["runs_with_the_published_first_loss"] == runs
    assert report["checked_lines_identical"] and report["line_differences"] == []
    assert report["primary_changed"] == report["exploratory_changed"] == report["other_lines_changed"] == []
    assert report["verdicts_pass"] and report["forecast_range"][0] == 0
    assert report["means_compared"] > 0 and report["means_inside_rerun_intervals"]
    assert all(r["rerun_mean"] == r["published_mean"] for r in report["means"])
    assert check.stderr.rstrip().endswith("passes")


def test_checked_lines_join_a_print_split_over_stream_messages(tmp_path):
    import nbformat

    nb = nbformat.v4.new_notebook()
    split = nbformat.v4.new_code_cell("print('a')", metadata={"tags": ["nbval-check-output"]})
    split.outputs = [
        nbformat.v4.new_output("stream", name="stdout", text="a"),
        nbformat.v4.new_output("stream", name="stdout", text="\nb\n"),
    ]
    whole = nbformat.v4.new_code_cell("print('a')", metadata={"tags": ["nbval-check-output"]})
    whole.outputs = [nbformat.v4.new_output("stream", name="stdout", text="a\nb\n")]
    unchecked = nbformat.v4.new_code_cell("print('c')")
    unchecked.outputs = [nbformat.v4.new_output("stream", name="stdout", text="c\n")]
    nb.cells = [split, whole, unchecked]
    nbformat.write(nb, tmp_path / "n.ipynb")
    assert checked_lines(tmp_path / "n.ipynb") == ["cell 0: a", "cell 0: b", "cell 1: a", "cell 1: b"]
