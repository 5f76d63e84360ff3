"""The record of a complete book run, written by the runner, and the summed memory of a process tree."""

import json
import os

from ewc import book_run


def test_record_book_run_writes_wall_and_peak_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("EWC_RESULTS_DIR", str(tmp_path))
    record = book_run.record_book_run("quick", 754.34)
    assert json.loads((tmp_path / "quick" / "book-run.json").read_text()) == record
    assert record["wall_s"] == 754.3 and record["cpu_count"] == os.cpu_count()
    assert 10 < record["peak_rss_mib"] < 64 * 1024  # this pytest process has imported TensorFlow
    assert record["runs_trained"] is None and record["jobs"] is None
    record = book_run.record_book_run("quick", 60.0, runs_trained=3, runs_total=38, benches_measured=0)
    stored = json.loads((tmp_path / "quick" / "book-run.json").read_text())
    assert stored["runs_trained"] == 3 and stored["runs_total"] == 38 and stored["benches_measured"] == 0


def test_tree_memory_adds_up_children_side_by_side():
    """Two children holding 200 MiB each at once: the summed peak sees both, ru_maxrss would see one."""
    import subprocess
    import sys
    import time

    hold = (
        "import sys, time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); print(1, flush=True); "
        "sys.stdin.read()"
    )
    before = book_run.tree_rss_kib(os.getpid())
    with book_run.TreeMemory(interval=0.05) as memory:
        children = [
            subprocess.Popen([sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
            for _ in range(2)
        ]
        for child in children:
            child.stdout.readline()  # it holds its memory now
        time.sleep(0.3)
        for child in children:
            child.communicate(b"")
    assert memory.peak_mib is not None
    assert memory.peak_mib >= before / 1024 + 2 * 200
    assert book_run.tree_rss_kib(os.getpid()) < before + 100 * 1024  # the children are gone
