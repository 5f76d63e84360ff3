"""Train a list of runs, in this process or side by side in worker processes, under one progress display
(``train_pending``: the runs of a suite that are not done, as ``python -m ewc book`` trains them).

On a small CPU, several single-threaded TensorFlow processes can keep the cores busier than one process with as
many threads (a CNN step at batch 64 splits poorly across threads); the book's ``--jobs`` says how many. Runs that
share their task 1 (``ewc.experiment.task1_key``: same seed, network and training settings) form a group that one
worker trains in order, so the first trains task 1 into the shared cache and the others reuse it: no two workers
ever train the same task 1. Every run gets a fresh process, so whatever memory a run leaves behind in TensorFlow is
returned before the next run starts.

The thread count changes how TensorFlow sums in parallel, so a run's rounding, and after a few hundred chaotic steps
its accuracies, depend on ``jobs``; results are statistics over seeds either way (the rerun check uses this).
"""

from __future__ import annotations

import json
import multiprocessing
import os
import queue
import sys
import time
from pathlib import Path

from tqdm import tqdm

from ewc import fingerprint, suites
from ewc.config import RunConfig
from ewc.console import progress_stream, quiet_native_stderr

SEND_EVERY_S = 0.5  # how often a worker reports the images it trained
POLL_S = 2.0  # how often the parent looks for a worker that died without reporting


class WorkerFailed(RuntimeError):
    """A worker process failed to train a run (its traceback went to stderr)."""


def default_jobs() -> int:
    """One worker, with every core's threads: a quick CNN run peaks at about 2.5 GB, so two side by side would break
    the book's 4 GiB budget, for a gain in speed that was not measured to be large (see the book's training-time
    chapter)."""
    return 1


def by_task1(runs: list[tuple[str, RunConfig, Path]]) -> list[list[tuple[str, RunConfig, Path]]]:
    """``runs`` split into groups that share their task 1, each group in the given order, groups in order of their
    first run."""
    from ewc.experiment import task1_key  # ewc.experiment loads TensorFlow, which the parent only needs with jobs 0

    groups: dict[str, list] = {}
    for run in runs:
        groups.setdefault(json.dumps(task1_key(run[1]), sort_keys=True), []).append(run)
    return list(groups.values())


def train_runs(runs: list[tuple[str, RunConfig, Path]], jobs: int = 1, bar=None) -> None:
    """Train every (name, config, results path) of ``runs`` with ``ewc.experiment.run_experiment`` (task 1 shared,
    resuming checkpoints), in up to ``jobs`` worker processes side by side (fewer if there are fewer task-1 groups),
    each with ``cpu_count // jobs`` threads and a fresh process per run; ``jobs`` 0 trains here, in order, with
    TensorFlow's own thread count.
    ``bar`` (a tqdm) is advanced by the images trained; its description counts the runs finished.

    Raises:
        WorkerFailed: a worker failed (its traceback is on stderr); the runs it finished are kept.
    """
    groups = by_task1(runs)
    if jobs == 0:
        _train_here(runs, bar)
    else:
        _train_in_workers(groups, max(1, min(jobs, len(groups))), bar)


def train_pending(suite_name: str, progress: bool = True, jobs: int | None = None) -> int:
    """Train every run of suite ``suite_name`` (a profile's suite is named after the profile) that is not complete
    and matching, ``jobs`` side by side (default ``default_jobs``), under one live progress display; returns how
    many were trained."""
    suite = suites.suite(suite_name)
    current = fingerprint.cached_fingerprint()  # probed here if not recorded yet: the chapters only read the record
    pending = [
        (name, c, suite.path(name))
        for name, c in suite.runs.items()
        if suites.status(c, suite.path(name), current) != "done"
    ]
    done = len(suite.runs) - len(pending)
    if not pending:
        print(f"runs: all {len(suite.runs)} runs of suite {suite_name} are complete", file=sys.stderr, flush=True)
        return 0
    jobs = default_jobs() if jobs is None else jobs
    print(
        f"runs: training {len(pending)} of {len(suite.runs)} runs of suite {suite_name} ({done} complete), "
        + (f"{jobs} at a time, each in a fresh process" if jobs else "in this process"),
        file=sys.stderr,
        flush=True,
    )
    with tqdm(
        total=sum(declared_images(c) for _, c, _ in pending),
        unit="img",
        unit_scale=True,
        file=progress_stream(),
        disable=not progress,
        bar_format="{desc} {percentage:3.0f}%|{bar:20}| {n_fmt}/{total_fmt} img [{elapsed}<{remaining}, "
        "{rate_fmt}] {postfix}",
    ) as bar:
        train_runs(pending, jobs, bar)
    print(f"runs: {len(pending)} trained", file=sys.stderr, flush=True)
    return len(pending)


def _describe(bar, finished: int, total: int, current: str) -> None:
    if bar is not None:
        bar.set_description_str(f"run {min(finished + 1, total)}/{total} {current}".rstrip())


def _train_here(runs, bar) -> None:
    from ewc.experiment import run_experiment

    for i, (name, config, path) in enumerate(runs):
        _describe(bar, i, len(runs), name)
        start = bar.n if bar is not None else 0
        run_experiment(config, path, share_task1=True, progress=bar)
        if bar is not None:
            bar.n = start + declared_images(config)  # a reused task 1 or a resumed run trains fewer images
            bar.refresh()


def declared_images(config: RunConfig) -> int:
    """The images a run trains from scratch (the progress display's unit)."""
    return config.tasks * config.train_images_per_task


def _train_in_workers(groups, jobs: int, bar) -> None:
    """Up to ``jobs`` groups at a time, each in a slot that trains the group's runs in order, every run in a fresh
    process: whatever memory TensorFlow keeps after a run is returned when its process ends, so a slot never holds
    more than one run's memory."""
    ctx = multiprocessing.get_context("spawn")  # TensorFlow's thread pools do not survive a fork
    events = ctx.Queue()
    threads = max(1, (os.cpu_count() or 1) // jobs)
    left = [list(group) for group in groups]  # runs not started yet, per group
    next_group, workers = 0, {}  # slot -> (process, group, run name)
    total = sum(len(g) for g in groups)
    finished, running = 0, {}

    def start(slot: int, group: int) -> None:
        run = left[group].pop(0)
        process = ctx.Process(target=_worker, args=(slot, run, events, threads), daemon=True)
        process.start()
        workers[slot] = (process, group, run[0])

    def start_more() -> None:
        nonlocal next_group
        while next_group < len(left) and len(workers) < jobs:
            start(min(set(range(jobs)) - set(workers)), next_group)
            next_group += 1

    _describe(bar, 0, total, "")
    start_more()
    try:
        while workers:
            try:
                kind, worker, value = events.get(timeout=POLL_S)
            except queue.Empty:  # a worker killed from outside (out of memory, a signal) never reports
                for process, _, name in workers.values():
                    if process.exitcode not in (None, 0):
                        raise WorkerFailed(f"the process training {name} died (exit code {process.exitcode})") from None
                continue
            if kind == "images" and bar is not None:
                bar.update(value)
            elif kind == "start":
                running[worker] = value
            elif kind == "task" and bar is not None:
                running[worker] = f"{running.get(worker, '').split(' ')[0]} {value}"
            elif kind == "done":
                finished += 1
                running.pop(worker, None)
            elif kind == "failed":
                raise WorkerFailed(f"training {value} failed (its traceback is above)")
            elif kind == "exit":
                process, group, _ = workers.pop(worker)
                process.join()
                if left[group]:
                    start(worker, group)  # the group's next run, after the one that may have trained its task 1
                else:
                    start_more()
            if bar is not None and kind != "images":
                bar.set_description_str(f"runs {finished}/{total} done")
                bar.set_postfix_str(" | ".join(running[w] for w in sorted(running)), refresh=True)
    finally:
        for process, _, _ in workers.values():
            process.terminate()
            process.join()


class _QueueBar:
    """``ewc.train.Progress`` (the slice of tqdm's interface a run reports to), forwarded to the parent's display."""

    def __init__(self, worker: int, events):
        self.worker, self.events, self.pending, self.sent = worker, events, 0, time.monotonic()
        self.n = 0

    def update(self, n: int) -> None:
        self.pending += n
        self.n += n
        if time.monotonic() - self.sent >= SEND_EVERY_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.events.put(("images", self.worker, self.pending))
        self.pending, self.sent = 0, time.monotonic()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.events.put(("task", self.worker, text))


def _worker(worker: int, run: tuple[str, RunConfig, Path], events, threads: int) -> None:
    """Train one run (name, config, results path) in this fresh process, reporting to ``events``."""
    name = run[0]
    try:
        with quiet_native_stderr():
            import tensorflow as tf

            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
            from ewc.experiment import run_experiment

            bar = _QueueBar(worker, events)
            _, config, path = run
            events.put(("start", worker, name))
            run_experiment(config, path, share_task1=True, progress=bar)
            bar.update(max(0, declared_images(config) - bar.n))  # a reused task 1, a resumed run
            bar.flush()
            events.put(("done", worker, name))
    except BaseException:
        import traceback

        traceback.print_exc(file=sys.stderr)
        events.put(("failed", worker, name))
    finally:
        events.put(("exit", worker, None))
