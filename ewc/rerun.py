"""``python -m ewc book --check-against-published``: does the published book survive a rerun on this machine?

Every run of the profile's suite is trained afresh into a scratch directory (``_build/rerun/results``, with a task-1
cache of its own, so nothing trained before is reused), the chapters are rendered from those runs, and then:

* every line of every cell the book checks (tag ``nbval-check-output``: the settings, the seeds, every verdict line)
  must be identical to the published chapter's;
* for every group of runs with at least two seeds, the rerun's mean ACC and mean final accuracy on each task must lie
  inside the published 95 % interval of that mean.

To emulate another machine, change XLA's code generation: ``XLA_FLAGS=--xla_cpu_max_isa=AVX2``. The comparison is
written to ``results/<profile>/rerun-check.json`` (published and rerun means side by side) and summarized on stderr;
the exit status is 1 when anything differs.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

SCRATCH = Path("_build") / "rerun"


def checked_lines(notebook: Path) -> list[str]:
    """The text output of every cell tagged ``nbval-check-output``, one entry per line, prefixed by its cell."""
    import nbformat

    from ewc.book import CHECK_TAG

    nb = nbformat.read(notebook, as_version=4)
    lines = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code" or CHECK_TAG not in cell.metadata.get("tags", []):
            continue
        # a kernel may split one print into several stream messages: join them before splitting into lines
        text = "".join(
            "".join(o.get("text") or o.get("data", {}).get("text/plain", "")) for o in cell.get("outputs", [])
        )
        lines += [f"cell {i}: {line}" for line in text.splitlines()]
    return lines


def group_means(profile: str, root: Path) -> dict[str, dict[str, list[float]]]:
    """``{group: {"ACC": [per seed], "final task k": [...]}}`` for the suite's groups of several seeds."""
    from ewc import suites

    suite = suites.suite(profile)
    groups: dict[str, dict[str, list[float]]] = {}
    for name in suite.runs:
        group, _, seed = name.rpartition("/seed-")
        path = root / profile / f"{name}.json"
        if not group or not path.is_file():
            continue
        result = json.loads(path.read_text())
        values = groups.setdefault(group, {})
        values.setdefault("ACC", []).append(100 * result["metrics"]["acc"])
        for k, v in enumerate(result["metrics"]["final"]):
            values.setdefault(f"final task {k + 1}", []).append(100 * v)
    return {g: v for g, v in groups.items() if len(v["ACC"]) >= 2}


def compare_means(published: dict, rerun: dict) -> list[dict]:
    from ewc.stats import summarize

    rows = []
    for group, metrics in published.items():
        for metric, values in metrics.items():
            if group not in rerun or metric not in rerun[group]:
                continue
            p, r = summarize(values), summarize(rerun[group][metric])
            rows.append(
                {
                    "group": group,
                    "metric": metric,
                    "published_mean": round(p.mean, 2),
                    "published_interval": [round(p.low, 2), round(p.high, 2)],
                    "published_seeds": p.n,
                    "rerun_mean": round(r.mean, 2),
                    "rerun_seeds": r.n,
                    "inside": p.low <= r.mean <= p.high,
                }
            )
    return rows


def check_against_published(profile: str = "quick", progress: bool = True) -> int:
    """Run the check (see the module docstring); returns 0 when everything matches, else 1."""
    from ewc import book, suites
    from ewc.results import write_json_atomic

    published_root = suites.results_root()
    scratch = book.ROOT / SCRATCH
    if scratch.exists():
        shutil.rmtree(scratch)
    results = scratch / "results"
    (results / profile).mkdir(parents=True)
    for path in (published_root / profile).glob("bench-*.json"):  # measurements are not rerun, only shown
        shutil.copyfile(path, results / profile / path.name)
    saved = {k: os.environ.get(k) for k in (suites.RESULTS_ENV, "EWC_TASK1_CACHE")}
    os.environ[suites.RESULTS_ENV] = str(results)
    os.environ["EWC_TASK1_CACHE"] = str(scratch / "task1")
    started = time.time()
    try:
        book.train_pending(profile, progress)
        chapters = book.chapter_sources()
        try:
            book.execute_chapters(chapters, profile, results / profile / book.CHAPTERS_DIRNAME)
        except book.ChapterError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    line_diffs = []
    for name in chapters:
        old = checked_lines(published_root / profile / book.CHAPTERS_DIRNAME / f"{name}.ipynb")
        new = checked_lines(results / profile / book.CHAPTERS_DIRNAME / f"{name}.ipynb")
        if old != new:
            line_diffs.append(
                {"chapter": name, "published": sorted(set(old) - set(new)), "rerun": sorted(set(new) - set(old))}
            )
    means = compare_means(group_means(profile, published_root), group_means(profile, results))
    report = {
        "profile": profile,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "wall_s": round(time.time() - started, 1),
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "checked_lines_identical": not line_diffs,
        "line_differences": line_diffs,
        "means_inside_published_intervals": all(r["inside"] for r in means),
        "means": means,
    }
    write_json_atomic(report, published_root / profile / "rerun-check.json")
    outside = [r for r in means if not r["inside"]]
    print(
        f"rerun check ({report['xla_flags'] or 'default XLA flags'}): "
        f"{sum(len(d['rerun']) for d in line_diffs)} checked line(s) differ in {len(line_diffs)} chapter(s); "
        f"{len(means) - len(outside)}/{len(means)} means inside the published 95 % intervals",
        file=sys.stderr,
    )
    for d in line_diffs:
        for old, new in zip(d["published"], d["rerun"]):
            print(f"  {d['chapter']}: published '{old}' / rerun '{new}'", file=sys.stderr)
    for r in outside:
        print(
            f"  {r['group']} {r['metric']}: rerun {r['rerun_mean']} outside {r['published_interval']}", file=sys.stderr
        )
    return 0 if not line_diffs and not outside else 1


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
