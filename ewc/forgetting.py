"""What sets the size of forgetting: task 1's accuracy through task 2 at the report's protocol, read from runs.

The ``forgetting`` suite trains two tasks without a penalty at the report's protocol (30 epochs of 60,000 images,
batch 64, Adam 1e-4) over several seeds, once with a fresh Adam for task 2, as the report's code recompiles its model,
and once with the Adam of task 1 carried over, as this book's other profiles train. Its fresh-Adam run at seed 0 is the
first two tasks of the ``paper`` suite's run without a penalty (the same task 1, task-2 permutation, shuffling and
dropout stream), read from there; that run's partial results count once its second task is done.

Curves are task 1's test accuracy (%) at the end of task 1 and after each of task 2's epochs: 31 numbers per seed.
"""

from __future__ import annotations

from ewc import report_figures, results, stats, suites
from ewc.config import normalize_stored

SETTINGS = {"none_fresh-adam": "a fresh Adam for task 2", "none_carried-adam": "one Adam carried from task 1"}
CHECKPOINTS = (1, 5, 10, 30)  # epochs of task 2 the summary table reads


def curve(result: dict) -> list[float]:
    """Task 1's accuracy (%) at the end of task 1 and after each epoch of task 2 (``epochs`` + 1 values)."""
    epochs = result["config"]["epochs"]
    return [100 * row[0] for row in result["accuracy"][epochs - 1 : 2 * epochs]]


def _paper_seed0(root=None) -> dict | None:
    """The paper suite's no-penalty run at seed 0, complete or with its first two tasks done; None otherwise."""
    suite = suites.suite("paper")
    path = suite.path("none/seed-0", root)
    if not path.is_file():
        return None
    result = results.load_results(path, require_complete=False)
    if normalize_stored(result.get("config")) != suite.runs["none/seed-0"].to_dict():
        return None
    return result if len(result["accuracy"]) >= 2 * result["config"]["epochs"] else None


def curves(root=None) -> dict[str, dict[int, list[float]]]:
    """``{setting: {seed: curve}}`` for every run of the forgetting suite that is complete (and the paper suite's
    seed 0, see the module docstring), settings in the order of ``SETTINGS``."""
    suite = suites.suite("forgetting")
    out: dict[str, dict[int, list[float]]] = {name: {} for name in SETTINGS}
    seed0 = _paper_seed0(root)
    if seed0 is not None:
        out["none_fresh-adam"][0] = curve(seed0)
    for run, config in suite.runs.items():
        path = suite.path(run, root)
        if suites.status(config, path) == "done":
            group, seed = suites.split_run_name(run)
            out[group][seed] = curve(results.load_results(path))
    return {setting: dict(sorted(by_seed.items())) for setting, by_seed in out.items()}


def report_curve() -> list[float]:
    """The same 31 points read off the report's Figure 3 (task 1 from epoch 30 to epoch 60), in %."""
    values = report_figures.curve(3, 1)[29:60]
    return [100 * v for v in values]


def loss_after(curve: list[float], epoch: int) -> float:
    """The points task 1 has lost after ``epoch`` epochs of task 2, on one run's ``curve``."""
    return curve[0] - curve[epoch]


def losses(by_seed: dict[int, list[float]], epoch: int) -> list[float]:
    """Per seed, the points task 1 has lost after ``epoch`` epochs of task 2 (seeds not that far yet left out)."""
    return [loss_after(c, epoch) for c in by_seed.values() if len(c) > epoch]


def summary_rows(found: dict[str, dict[int, list[float]]]) -> list[list[str]]:
    """Rows of the dose-response table: per setting and for the report, task 1's loss (points) after each of
    ``CHECKPOINTS`` epochs of task 2 (mean ± sd over seeds, or the single value)."""
    rows = []
    for setting, by_seed in found.items():
        cells = []
        for e in CHECKPOINTS:
            values = losses(by_seed, e)
            if not values:
                cells.append("—")
            elif len(values) == 1:
                cells.append(f"{values[0]:.1f} (1 seed)")
            else:
                s = stats.summarize(values)
                cells.append(f"{s.mean:.1f} ± {s.sd:.1f} ({s.n} seeds)")
        rows.append([SETTINGS[setting], *cells])
    report = report_curve()
    rows.append(["the report (Fig. 3)", *[f"{report[0] - report[e]:.1f}" for e in CHECKPOINTS]])
    return rows


def reading(found: dict[str, dict[int, list[float]]]) -> str:
    """The dose-response in words, every number computed from ``found`` (``curves``) and the report's Figure 3:
    task 1's loss after 5 and after 30 epochs of task 2 per setting; the fresh-minus-carried difference paired by
    seed where both ran (one pair is given as it is, without an interval); and whether the report's loss lies inside
    our seeds' range (Markdown text)."""
    report = report_curve()
    r5, r30 = report[0] - report[5], report[0] - report[30]
    text = [
        f"On the report's Figure 3, task 1 loses {r5:.1f} points in task 2's first 5 epochs and {r30:.1f} by its 30th."
    ]
    if not any(found.values()):
        return " ".join(text + ["No run of this comparison has finished yet (the table above says which are missing)."])
    for setting, by_seed in found.items():
        if not by_seed:
            text.append(f"With {SETTINGS[setting]} no run has finished yet.")
            continue
        n = len(by_seed)
        at5, at30 = losses(by_seed, 5), losses(by_seed, 30)
        mean5 = sum(at5) / len(at5)
        said = f"With {SETTINGS[setting]} ({n} seed{'s' * (n != 1)}) task 1 loses {mean5:.1f} points after 5 epochs"
        if at30 and len(at30) == 1:
            said += f" and {at30[0]:.1f} after 30 ({_than(at30[0], r30)} the report's {r30:.1f}; one run has no range)"
        elif at30:
            low, high = min(at30), max(at30)
            inside = "inside" if low <= r30 <= high else "outside"
            span = f"{sum(at30) / n:.1f} (seeds {low:.1f} to {high:.1f})"
            said += f" and {span} after 30, the report's {r30:.1f} {inside} that range"
        text.append(said + ".")
    common = sorted(set(found["none_fresh-adam"]) & set(found["none_carried-adam"]))
    if len(common) == 1:
        (seed,) = common
        fresh, carried = (loss_after(found[setting][seed], 30) for setting in ("none_fresh-adam", "none_carried-adam"))
        text.append(
            f"At seed {seed}, the one seed trained both ways from the same task 1, a fresh Adam loses "
            f"{fresh - carried:+.1f} points more after 30 epochs ({fresh:.1f} against {carried:.1f}): one pair, "
            "judged as one run, with no interval."
        )
    if len(common) >= 2:
        c = stats.paired(
            [loss_after(found["none_fresh-adam"][s], 30) for s in common],
            [loss_after(found["none_carried-adam"][s], 30) for s in common],
        )
        d = c.diff
        matters = "matters" if c.verdict == stats.REPRODUCED else "is not shown to matter"
        text.append(
            f"Paired by seed over {d.n} seeds, a fresh Adam loses {d.mean:+.1f} points more after 30 epochs "
            f"[{d.low:+.1f}, {d.high:+.1f}]: the optimizer's state {matters} at this length."
        )
    return " ".join(text)


def _than(ours: float, report: float) -> str:
    """'less than', 'more than' or 'as much as' (to the printed 0.1 point)."""
    a, b = round(ours, 1), round(report, 1)
    return "less than" if a < b else "more than" if a > b else "as much as"
