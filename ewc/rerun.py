"""``python -m ewc book --check-against-published``: does the published book survive a rerun on this machine?

The whole book is made again from nothing in a scratch directory (``_build/rerun/<profile>``): every run of the
profile's suite trained afresh (with a task-1 cache of its own, so nothing trained before is reused), the benches
measured, the chapters rendered from those runs and the HTML built. At ``quick`` the ``confirmation`` suite, whose
fresh seeds the report's findings are judged on, is retrained too (``retrained_suites``); the
other reference suites the chapters show, such as the calibration, are copied, not rerun. The check's wall time (less
the training of the confirmation suite, which the book itself never does) and peak memory (all processes together)
are recorded, so it also measures what the book costs from nothing. Then:

* the lines of every cell the book checks (tag ``nbval-check-output``: the settings, the seeds, every verdict line)
  are compared with the published chapter's: no primary verdict and no settings or seeds line may change, and the
  number of exploratory verdicts that changed must lie inside the range the published book forecasts
  (``forecast.judge_rerun``);
* for every group of runs with at least two seeds, the rerun's mean ACC and mean final accuracy on each task must lie
  inside the 95 % prediction interval for a rerun's mean (``ewc.stats.rerun_interval``); whether it also lies inside
  the published 95 % interval of the mean, which a rerun's mean misses more often than one time in twenty, is
  recorded beside it.

The report also compares every run's first training loss with the published one: where they are equal to the last
digit, the rerun computed exactly what the published run did and proves nothing about another machine. To emulate
another machine, change how TensorFlow rounds: XLA's code generation (``XLA_FLAGS=--xla_cpu_max_isa=AVX2``, which
changes nothing on some hosts) or the thread count (``--jobs``: the runs of one worker share the cores'
parallel sums differently). The comparison is written to ``results/<profile>/rerun-check.json`` (published and rerun
means side by side) and summarized on stderr; the exit status is 1 when either test fails.

The scratch directory is kept: a check interrupted with the same flags and ``--jobs`` resumes its runs; with other
ones it starts afresh.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import sys
import time
from pathlib import Path

from ewc import bench, book_run, chapter, fingerprint, forecast, run_pool, site, suites
from ewc.config import make_config
from ewc.paths import RERUN_SCRATCH, RESULTS_ENV, executed_dir, rerun_check_path, results_root
from ewc.results import write_json_atomic
from ewc.site import CHECK_TAG
from ewc.stats import rerun_interval, summarize


def checked_lines(notebook: Path) -> list[str]:
    """The text output of every cell tagged ``nbval-check-output``, one entry per line, prefixed by its cell."""
    import nbformat

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


def group_means(suite_name: str, root: Path) -> dict[str, dict[str, list[float]]]:
    """``{group: {"ACC": [per seed], "final task k": [...]}}`` for suite ``suite_name``'s groups of several seeds
    whose results lie under ``root``."""
    suite = suites.suite(suite_name)
    groups: dict[str, dict[str, list[float]]] = {}
    for name in suite.runs:
        group, _ = suites.split_run_name(name)
        path = suite.path(name, root)
        if not path.is_file():
            continue
        result = json.loads(path.read_text())
        values = groups.setdefault(group, {})
        values.setdefault("ACC", []).append(100 * result["metrics"]["acc"])
        for k, v in enumerate(result["metrics"]["final"]):
            values.setdefault(f"final task {k + 1}", []).append(100 * v)
    return {g: v for g, v in groups.items() if len(v["ACC"]) >= 2}


def retrained_suites(profile: str) -> list[str]:
    """The suites a check of ``profile`` trains afresh: the profile's own, and at ``quick`` the ``confirmation``
    suite once a block of its seeds is complete in the published results, because the published verdicts on the
    report's findings then come from it (``chapter.verdict_runs``); a rerun that copied it would keep those verdicts
    by construction. Every other suite is copied. Call it while ``$EWC_RESULTS_DIR`` names the published results."""
    names = [profile]
    if profile == "quick" and chapter.confirmation_blocks()[1]:
        names.append("confirmation")
    return names


def _labelled(profile: str, suite_name: str, values: dict) -> dict:
    """``values`` keyed as the report shows them: the profile's own groups or runs bare, another suite's prefixed
    with its name (``confirmation/none``)."""
    return values if suite_name == profile else {f"{suite_name}/{k}": v for k, v in values.items()}


def compare_means(published: dict, rerun: dict) -> list[dict]:
    rows = []
    for group, metrics in published.items():
        for metric, values in metrics.items():
            if group not in rerun or metric not in rerun[group]:
                continue
            p, r = summarize(values), summarize(rerun[group][metric])
            low, high = rerun_interval(values, r.n)
            rows.append(
                {
                    "group": group,
                    "metric": metric,
                    "published_mean": round(p.mean, 2),
                    "published_interval": [round(p.low, 2), round(p.high, 2)],
                    "published_seeds": p.n,
                    "rerun_mean": round(r.mean, 2),
                    "rerun_seeds": r.n,
                    "rerun_interval": [round(low, 2), round(high, 2)],
                    "inside": low <= r.mean <= high,
                    "inside_published_interval": p.low <= r.mean <= p.high,
                }
            )
    return rows


def _scratch_for(profile: str, jobs: int, retrained: list[str]) -> Path:
    """The scratch directory of ``profile``, emptied unless it holds a check with these flags, ``jobs`` and
    ``retrained`` suites (a scratch that copied a suite must not pass its copy off as retrained). Each profile has
    its own, so a check of one never discards another's half-trained runs."""
    scratch = RERUN_SCRATCH / profile
    marker = scratch / "rerun-settings.json"
    settings = {"profile": profile, "xla_flags": os.environ.get("XLA_FLAGS", ""), "jobs": jobs, "retrained": retrained}
    try:
        same = json.loads(marker.read_text()) == settings
    except (OSError, ValueError):
        same = False
    if not same and scratch.exists():
        shutil.rmtree(scratch)
    (scratch / "results" / profile).mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(settings))
    chapters = executed_dir(profile, scratch / "results")
    if chapters.exists():
        shutil.rmtree(chapters)  # always rendered anew
    return scratch


def first_losses(suite_name: str, root: Path) -> dict[str, float]:
    """``{run: its first recorded training loss}`` for suite ``suite_name``'s runs present under ``root``."""
    losses = {}
    suite = suites.suite(suite_name)
    for name in suite.runs:
        path = suite.path(name, root)
        if path.is_file():
            loss = json.loads(path.read_text())["train_loss"][0]
            losses[name] = float(loss[0] if isinstance(loss, list) else loss)
    return losses


def check_against_published(profile: str = "quick", progress: bool = True, jobs: int | None = None) -> int:
    """Run the check (see the module docstring); returns 0 when everything matches, else 1."""
    published_root = results_root()
    jobs = run_pool.default_jobs() if jobs is None else jobs
    fingerprint.cached_fingerprint()  # probed here on a cold cache (another XLA_FLAGS): what the chapters read
    retrained = retrained_suites(profile)
    scratch = _scratch_for(profile, jobs, retrained)
    results = scratch / "results"
    for other in published_root.iterdir():  # the reference suites the chapters show are not rerun, only shown
        if other.is_dir() and other.name not in retrained and not (results / other.name).exists():
            shutil.copytree(other, results / other.name, ignore=shutil.ignore_patterns("*.ckpt.npz", "logs", ".*"))
    saved = {k: os.environ.get(k) for k in (RESULTS_ENV, "EWC_TASK1_CACHE")}
    os.environ[RESULTS_ENV] = str(results)
    os.environ["EWC_TASK1_CACHE"] = str(scratch / "task1")
    started = time.time()
    try:
        with book_run.TreeMemory() as memory:  # the whole book from nothing: runs, benches, chapters, HTML
            extra_s = {}  # training the book itself never does (the confirmation suite): kept out of its cost
            for name in retrained:
                suite_started = time.time()
                run_pool.train_pending(name, progress, jobs)
                if name != profile:
                    extra_s[name] = round(time.time() - suite_started, 1)
            bench.run_missing_benches(profile)
            chapters = site.chapter_sources()
            try:
                site.execute_chapters(chapters, profile, executed_dir(profile, results))
            except site.ChapterError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 1
            site.build_html(site.stage_site(profile), scratch / "html")
        wall_s = time.time() - started - sum(extra_s.values())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    line_diffs = []
    for name in chapters:
        old = checked_lines(executed_dir(profile, published_root) / f"{name}.ipynb")
        new = checked_lines(executed_dir(profile, results) / f"{name}.ipynb")
        if old != new:
            line_diffs.append(
                {"chapter": name, "published": sorted(set(old) - set(new)), "rerun": sorted(set(new) - set(old))}
            )
    verdicts = judge_verdict_changes(profile, line_diffs)
    means, published_losses, rerun_losses = [], {}, {}
    for name in retrained:
        means += compare_means(
            _labelled(profile, name, group_means(name, published_root)),
            _labelled(profile, name, group_means(name, results)),
        )
        published_losses |= _labelled(profile, name, first_losses(name, published_root))
        losses = first_losses(name, results)
        rerun_losses |= _labelled(profile, name, losses)
        if name == profile:
            book_runs = len(losses)
    same_loss = [n for n in rerun_losses if published_losses.get(n) == rerun_losses[n]]
    report = {
        "profile": profile,
        "profile_config": make_config(profile).to_dict(),  # which values of the profile were checked
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "jobs": jobs,
        "suites_retrained": retrained,
        "book_runs": book_runs,
        "other_suites_training_s": extra_s,
        "machine": platform.machine(),
        "processor": _cpu_model(),
        "wall_s": round(wall_s, 1),
        "peak_rss_all_processes_mib": memory.peak_mib,
        "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "checked_lines_identical": not line_diffs,
        "line_differences": line_diffs,
        **verdicts,
        "means_inside_rerun_intervals": all(r["inside"] for r in means),
        "means_inside_published_intervals": sum(r["inside_published_interval"] for r in means),
        "means_compared": len(means),
        "runs_with_the_published_first_loss": len(same_loss),
        "runs_compared": len(rerun_losses),
        "first_losses": {n: {"published": published_losses.get(n), "rerun": v} for n, v in rerun_losses.items()},
        "means": means,
    }
    write_json_atomic(report, rerun_check_path(profile, published_root))
    outside = [r for r in means if not r["inside"]]
    print(
        f"rerun check ({report['xla_flags'] or 'default XLA flags'}, {jobs} job(s)): "
        f"{len(rerun_losses) - len(same_loss)}/{len(rerun_losses)} runs computed differently from the published "
        f"ones (first loss); {sum(len(d['rerun']) for d in line_diffs)} checked line(s) differ in "
        f"{len(line_diffs)} chapter(s); {len(means) - len(outside)}/{len(means)} means inside the 95 % rerun "
        f"intervals ({report['means_inside_published_intervals']} inside the published intervals of the mean)",
        file=sys.stderr,
    )
    for d in line_diffs:
        for old, new in zip(d["published"], d["rerun"]):
            print(f"  {d['chapter']}: published '{old}' / rerun '{new}'", file=sys.stderr)
    for r in outside:
        print(f"  {r['group']} {r['metric']}: rerun {r['rerun_mean']} outside {r['rerun_interval']}", file=sys.stderr)
    print(
        f"verdicts: {len(verdicts['primary_changed'])} primary changed (none may); "
        f"{len(verdicts['exploratory_changed'])} exploratory changed, forecast {verdicts['forecast_range']}; "
        f"{len(verdicts['other_lines_changed'])} other checked line(s) changed (none may): "
        + ("passes" if verdicts["verdicts_pass"] else "fails"),
        file=sys.stderr,
    )
    return 0 if verdicts["verdicts_pass"] and not outside else 1


def judge_verdict_changes(profile: str, line_diffs: list[dict]) -> dict:
    """``forecast.judge_rerun`` over the claims the published book judges at ``profile`` (``chapter.judged_claims``
    on the published runs: call it while ``$EWC_RESULTS_DIR`` names them)."""
    main, repeated = chapter.judged_claims(profile)
    return forecast.judge_rerun(main + repeated, line_diffs)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()
