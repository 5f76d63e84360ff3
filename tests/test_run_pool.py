"""The book trains its runs side by side in worker processes: every run once, into its own file, the runs sharing a
task 1 in one worker so that task 1 is trained once; a worker's failure stops the book with the run named."""

import json
import os
import time

import pytest
from test_console import NOISY
from test_suites import mnist_file

from ewc import run_pool
from ewc.experiment import task1_key
from ewc.suites import suite

pytestmark = pytest.mark.slow  # Snakemake, worker processes or the whole smoke book


def tiny_runs(root):
    s = suite("tiny")
    return [(name, config, s.path(name, root)) for name, config in s.runs.items()]


def test_runs_are_grouped_by_their_task1_in_order(tmp_path):
    runs = tiny_runs(tmp_path)
    groups = run_pool.by_task1(runs[::-1])
    assert sorted(r[0] for g in groups for r in g) == sorted(r[0] for r in runs)  # every run, once
    for group in groups:
        assert len({json.dumps(task1_key(c), sort_keys=True) for _, c, _ in group}) == 1
        assert [r[0] for r in group] == [r[0] for r in runs[::-1] if r in group]  # the given order
    keys = [json.dumps(task1_key(g[0][1]), sort_keys=True) for g in groups]
    assert len(set(keys)) == len(keys) == 2  # the tiny suite's two seeds


class Recorder:
    """Enough of tqdm for ``train_runs``."""

    def __init__(self):
        self.n, self.texts = 0, []

    def update(self, n):
        self.n += n

    def set_description_str(self, text):
        self.texts.append(text)

    def set_postfix_str(self, text, refresh=True):
        self.texts.append(text)

    def refresh(self):
        pass


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Results, data and the task-1 cache in a temporary directory (the workers inherit the environment)."""
    monkeypatch.setenv("EWC_MNIST", mnist_file())
    monkeypatch.setenv("EWC_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("EWC_TASK1_CACHE", str(tmp_path / "task1"))
    return tmp_path


def test_two_workers_train_every_run_once_and_each_task1_once(isolated, monkeypatch, capfd):
    """... and quietly, where importing TensorFlow prints its C++ start-up lines (the workers inherit descriptor 2)."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(NOISY), os.environ.get("PYTHONPATH", "")]))
    runs = tiny_runs(isolated / "results")
    bar = Recorder()
    run_pool.train_runs(runs, jobs=2, bar=bar)
    assert capfd.readouterr().err == ""
    reused = {}
    for _, config, path in runs:
        result = json.loads(path.read_text())
        assert result["complete"] and result["config"] == config.to_dict()
        reused.setdefault(config.seed, []).append(result["task1_reused"])
    assert {seed: sorted(flags) for seed, flags in reused.items()} == {0: [False, True], 1: [False, True]}
    assert len(list((isolated / "task1").glob("task1-*.npz"))) == 2
    assert bar.n == sum(run_pool.declared_images(c) for _, c, _ in runs)  # reused task 1s are counted as done
    assert bar.texts[-2] == "runs 4/4 done"


def test_a_failing_worker_names_its_run_and_stops_the_rest(isolated):
    runs = tiny_runs(isolated / "results")
    blocker = isolated / "results" / "tiny" / "none"
    blocker.parent.mkdir(parents=True)
    blocker.write_text("a file where the run's directory should be")
    started = time.monotonic()
    with pytest.raises(run_pool.WorkerFailed, match=r"training none/seed-\d failed"):
        run_pool.train_runs(runs, jobs=2)
    assert time.monotonic() - started < 120  # the parent does not wait for ever on a dead worker


def test_a_worker_killed_from_outside_stops_the_book_instead_of_hanging(isolated):
    """A worker killed by the system (out of memory, a signal) never reports: the parent notices that it died."""
    import multiprocessing
    import os
    import signal
    import threading

    runs = tiny_runs(isolated / "results")
    outcome = []

    def train():
        try:
            run_pool.train_runs(runs, jobs=2)
            outcome.append(None)
        except run_pool.WorkerFailed as exc:
            outcome.append(exc)

    thread = threading.Thread(target=train)
    thread.start()
    deadline = time.monotonic() + 60
    while not multiprocessing.active_children() and time.monotonic() < deadline:
        time.sleep(0.1)
    victim = multiprocessing.active_children()[0]
    os.kill(victim.pid, signal.SIGKILL)
    thread.join(timeout=120)
    assert not thread.is_alive(), "the parent hung on a dead worker"
    assert isinstance(outcome[0], run_pool.WorkerFailed) and "died (exit code -9)" in str(outcome[0])


def test_jobs_0_trains_in_this_process_with_the_same_bookkeeping(isolated):
    import multiprocessing

    runs = tiny_runs(isolated / "results")[:2]  # none/seed-0 and none/seed-1: two task-1 groups
    bar = Recorder()
    run_pool.train_runs(runs, jobs=0, bar=bar)
    assert not multiprocessing.active_children()
    assert all(json.loads(path.read_text())["complete"] for _, _, path in runs)
    assert bar.n == sum(run_pool.declared_images(c) for _, c, _ in runs)
