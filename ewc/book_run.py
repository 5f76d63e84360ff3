"""The record of a complete ``python -m ewc book`` run: its wall time and peak memory, written to
``results/<profile>/book-run.json`` for whoever wants to know what a book run costs on their machine. No chapter shows
it: it changes with every run, and a chapter's checked output must not."""

from __future__ import annotations

import os
import resource
import threading
import time

import psutil

from ewc.paths import book_run_path
from ewc.results import write_json_atomic


class TreeMemory:
    """The peak of the summed resident memory of this process and all its descendants (training workers, chapter
    kernels, the HTML build), sampled every ``interval`` seconds.
    ``ru_maxrss`` alone would miss it: it gives the largest single process, not what processes side by side hold."""

    def __init__(self, interval: float = 0.5):
        self.interval, self.peak_kib = interval, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="memory-sampler", daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def peak_mib(self) -> float | None:
        return None if self.peak_kib is None else round(self.peak_kib / 1024, 1)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = tree_rss_kib(os.getpid())
            self.peak_kib = max(self.peak_kib or 0, total)
            self._stop.wait(self.interval)


def tree_rss_kib(root: int) -> int:
    """Resident memory (KiB) of process ``root`` and all its descendants (psutil); 0 if ``root`` has ended."""
    try:
        process = psutil.Process(root)
        tree = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0
    total = 0
    for member in tree:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # ended while we looked
            pass
    return total // 1024


def record_book_run(
    profile: str,
    wall_s: float,
    tree_peak_mib: float | None = None,
    jobs: int | None = None,
    runs_trained: int | None = None,
    runs_total: int | None = None,
    benches_measured: int | None = None,
) -> dict:
    """Write the cost of a complete book run (training what was missing, every chapter, then the HTML): wall
    seconds; the peak resident memory of this process and of any one of its children (the chapter kernels, the HTML
    build), MiB; when sampled (``TreeMemory``), the peak of all of them together; and what the run had to do: how
    many of the profile's runs it trained and how many benches it measured (a book whose runs are all stored only
    executes its chapters)."""
    peak_kib = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    record = {
        "profile": profile,
        "wall_s": round(wall_s, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "peak_rss_all_processes_mib": tree_peak_mib,
        "jobs": jobs,
        "runs_trained": runs_trained,
        "runs_total": runs_total,
        "benches_measured": benches_measured,
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu_count": os.cpu_count(),
        "load_avg_1min_at_end": os.getloadavg()[0],
    }
    book_run_path(profile).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(record, book_run_path(profile))
    return record
