"""The science fingerprint: stored results are compared on the entries of their own probe version, and the
four-task probe added in version 2 moves when a consolidation reads another task's images (which the two-task probe
cannot see)."""

import pytest

from ewc import fingerprint, train


@pytest.fixture(scope="module")
def current():
    return fingerprint.compute()


def test_a_version_1_record_is_compared_on_version_1_entries_only(current):
    old = {k: v for k, v in current.items() if fingerprint.SINCE.get(k, 1) == 1} | {"version": 1}
    assert fingerprint.differences(old, current) == []
    assert fingerprint.differences({**old, "run_train_loss": [9.0] * 4}, current) == ["run_train_loss"]
    new_without = {k: v for k, v in current.items() if k != "run4_train_loss_ewc-all"}
    assert fingerprint.differences(new_without, current) == ["run4_train_loss_ewc-all"]
    assert fingerprint.differences(None, current) == ["(no fingerprint)"]


def test_the_four_task_probe_sees_a_fisher_taken_on_the_wrong_task(current, monkeypatch):
    def task1_only(trainer, tasks, record):  # planted: every consolidation reads task 1's images
        last = len(tasks) - 1
        while record["consolidated"] < record["tasks_done"]:
            k = record["consolidated"]
            if k < last and trainer.config.mode != "none":
                record["fisher_s"].append(trainer.consolidate(tasks[0], k))
            record["consolidated"] = k + 1

    monkeypatch.setattr(train, "_consolidate_pending", task1_only)
    diffs = fingerprint.differences(current, fingerprint.compute())
    assert "run4_train_loss_ewc-all" in diffs and "run_train_loss" not in diffs


def test_chapters_read_the_recorded_fingerprint_and_never_probe_it(tmp_path, monkeypatch):
    """On a cold cache a chapter stops with the command that records the fingerprint; only the runner probes."""
    from ewc import chapter

    monkeypatch.setenv("EWC_DATA_DIR", str(tmp_path))
    monkeypatch.setattr(fingerprint, "_memo", None)
    probed = []
    monkeypatch.setattr(fingerprint, "compute", lambda: probed.append(1) or {"version": 2, "probe": 1.0})
    with pytest.raises(fingerprint.MissingFingerprint, match="python -m ewc fingerprint"):
        chapter.suite_progress("paper")
    assert probed == []
    assert fingerprint.cached_fingerprint() == {"version": 2, "probe": 1.0} and probed == [1]
    monkeypatch.setattr(fingerprint, "_memo", None)  # a new process: it reads the record the runner left
    assert fingerprint.stored_fingerprint() == {"version": 2, "probe": 1.0} and probed == [1]


PROBE_ONCE = """
import json, sys, time
from pathlib import Path
from ewc import fingerprint
def compute():  # a slow probe that leaves a trace of every call
    with open(sys.argv[1], "a") as f:
        f.write("probed\\n")
    time.sleep(1.5)
    return {"version": 2, "probe": 1.0}
fingerprint.compute = compute
print(json.dumps(fingerprint.cached_fingerprint()))
"""


def test_processes_asking_at_once_on_a_cold_cache_probe_once(tmp_path):
    """The test runner's two workers (and jobs side by side) all need the record at start: one probes, the others
    wait for its record instead of probing too."""
    import json
    import os
    import subprocess
    import sys

    from helpers import ROOT

    trace = tmp_path / "trace"
    env = os.environ | {"EWC_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}
    procs = [
        subprocess.Popen([sys.executable, "-c", PROBE_ONCE, str(trace)], env=env, stdout=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0]
    assert [json.loads(o) for o in outputs] == [{"version": 2, "probe": 1.0}] * 3
    assert trace.read_text() == "probed\n"
