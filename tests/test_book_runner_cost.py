"""The record of a complete book run: written by the runner, read back by the training-time chapter."""

import json
import os

from ewc import book_run, tables


def test_record_book_run_writes_wall_and_peak_memory(tmp_path, monkeypatch):
    monkeypatch.setenv("EWC_RESULTS_DIR", str(tmp_path))
    assert book_run.last_book_run("quick") is None
    assert "No complete run" in tables.book_run_table(None).data
    record = book_run.record_book_run("quick", 754.34)
    stored = json.loads((tmp_path / "quick" / "book-run.json").read_text())
    assert stored == record == book_run.last_book_run("quick")
    assert record["wall_s"] == 754.3 and record["cpu_count"] == os.cpu_count()
    assert 10 < record["peak_rss_mib"] < 64 * 1024  # this pytest process has imported TensorFlow
    text = tables.book_run_table(record).data
    assert "12.6 min" in text and "--profile quick" in text
