"""The record of a complete ``python -m ewc book`` run: its wall time and peak memory, shown by the training-time
chapter."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path


def book_run_path(profile: str) -> Path:
    """``results/<profile>/book-run.json``: the cost of the last complete ``python -m ewc book`` at ``profile``."""
    from ewc.suites import results_root

    return results_root() / profile / "book-run.json"


def last_book_run(profile: str) -> dict | None:
    """The record ``record_book_run`` wrote for ``profile``, or None."""
    path = book_run_path(profile)
    return json.loads(path.read_text()) if path.is_file() else None


def record_book_run(profile: str, wall_s: float) -> dict:
    """Write the cost of a complete book run (every chapter trained afresh, then the HTML): wall seconds and the peak
    resident memory of this process and of any one of its children (the chapter kernels, the HTML build), MiB."""
    import resource

    from ewc.results import write_json_atomic

    peak_kib = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    record = {
        "profile": profile,
        "wall_s": round(wall_s, 1),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu_count": os.cpu_count(),
        "load_avg_1min_at_end": os.getloadavg()[0],
    }
    book_run_path(profile).parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(record, book_run_path(profile))
    return record
