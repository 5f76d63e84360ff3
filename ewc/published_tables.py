"""This book's numbers beside published ones, as the chapters print them: the report's findings as its text states
them (``report_comparison``), van de Ven & Tolias' benchmark with our interval of the difference and a verdict per
method (``benchmark_table``, ``benchmark_verdicts``), and a λ grid with the published choice marked
(``lambda_grid_table``).

Every function takes results dicts grouped by mode and seed or published means, and returns Markdown
(``ewc.markdown``) or lines for ``print``. Accuracies are in percent, differences in points.
"""

from __future__ import annotations

from ewc.markdown import markdown, markdown_table
from ewc.plots import MODE_TITLES
from ewc.stats import against_published, mean_sd
from ewc.tables import training_length


def report_comparison(runs: dict) -> object:
    """The report's findings, as its text states them (its figures carry no tables), beside this book's numbers as
    mean ± sd over seeds.

    ``runs``: ``{mode: {seed: results dict}}``; needs ``none``, ``ewc-all`` and ``ewc-previous``.
    """

    def over(mode, value):
        return mean_sd([value(r["task_matrix"]) for r in runs[mode].values()])

    c = next(iter(runs["none"].values()))["config"]
    t = c["tasks"]
    rows = [
        [
            "training per task",
            "30 epochs × 60,000 images, Adam 1e-4, λ = 200",
            f"{training_length(c)}, Adam {c['lr']:g}, λ = {c['lam']:g} (`{c['profile']}`)",
        ],
        ["seeds", "one run", f"{len(runs['none'])} per experiment"],
        ["no penalty: task 1 right after learning it", "almost 100 %", f"{over('none', lambda r: 100 * r[0][0])} %"],
        ["no penalty: task 1 after task 2", "about 60 %", f"{over('none', lambda r: 100 * r[1][0])} %"],
        [
            f"no penalty: tasks 2 to {t} right after learning each",
            "not stated",
            f"{over('none', lambda r: 100 * sum(r[k][k] for k in range(1, t)) / (t - 1))} %",
        ],
        [
            "EWC on every task: lowest task at the end",
            "high on all tasks",
            f"{over('ewc-all', lambda r: 100 * min(r[-1]))} %",
        ],
        [
            "EWC on every task: task 2 minus task 4 at the end",
            "task 2 above task 4",
            f"{over('ewc-all', lambda r: 100 * (r[-1][1] - r[-1][3]))} points" if t > 3 else "—",
        ],
        [
            "EWC on the previous task: task 1 at the end",
            "degraded after 2–3 more tasks",
            f"{over('ewc-previous', lambda r: 100 * r[-1][0])} % (EWC on every task: "
            f"{over('ewc-all', lambda r: 100 * r[-1][0])} %)",
        ],
    ]
    return markdown(
        markdown_table(["", "report (Sörberg 2020, from its text)", "this book, mean ± sd over seeds"], rows, "lll")
    )


def benchmark_table(published: dict[str, tuple[float, float]], ours: dict[str, dict[int, dict]], source: str):
    """Published ACC (%, mean ± SEM) beside ours (mean ± SEM over our seeds) and ours minus theirs with its 95 %
    interval (``against_published``). ``source`` names the published work in the header (Markdown)."""
    rows = []
    for mode, (mean, sem) in published.items():
        gap = against_published(ours.get(mode) or {}, mean, sem)
        if gap is None:
            rows.append([MODE_TITLES.get(mode, mode), f"{mean:.2f} ± {sem:.2f}", "not run yet", "—"])
            continue
        diff = f"{gap.diff:+.2f}"
        if gap.n > 1:
            ours_text = f"{gap.ours:.2f} ± {gap.sem:.2f} ({gap.n} seeds)"
            diff += f" [{gap.low:+.2f}, {gap.high:+.2f}]"
        else:
            ours_text = f"{gap.ours:.2f} (1 seed)"
        rows.append([MODE_TITLES.get(mode, mode), f"{mean:.2f} ± {sem:.2f}", ours_text, diff.replace("-", "−")])
    header = [
        "method",
        f"{source}, ACC % (mean ± SEM)",
        "this suite, ACC % (mean ± SEM)",
        "ours − theirs, points [95 % interval]",
    ]
    return markdown(markdown_table(header, rows, "lrrr"))


def benchmark_verdicts_text(
    published: dict[str, tuple[float, float]], ours: dict[str, dict[int, dict]], tolerance: float = 3.0
) -> str:
    """``benchmark_verdicts`` as a Markdown list in the reader's words: each method by its name, not its mode."""
    lines = benchmark_verdicts(published, ours, tolerance)
    return "\n".join(f"* **{MODE_TITLES.get(m, m)}**: {line.split(': ', 1)[1]}" for m, line in zip(published, lines))


def benchmark_verdicts(
    published: dict[str, tuple[float, float]], ours: dict[str, dict[int, dict]], tolerance: float = 3.0
) -> list[str]:
    """One line per method: is our ACC within ``tolerance`` points of the published mean? "within" where the whole
    95 % interval of the difference lies inside ±tolerance, "off by more" where it lies wholly outside, "undecided"
    where it crosses a bound (and, with one seed, which side the point falls on: there is no interval). A "within"
    whose interval excludes 0 also says on which side of theirs ours lies: close, but resolved as different."""
    lines = []
    for mode, (mean, sem) in published.items():
        gap = against_published(ours.get(mode) or {}, mean, sem)
        if gap is None:
            lines.append(f"{mode}: not run yet")
            continue
        shown = f"ours − theirs {gap.diff:+.1f} points".replace("-", "−")
        if gap.n < 2:
            side = "inside" if abs(gap.diff) <= tolerance else "outside"
            lines.append(f"{mode}: {shown} (1 seed, no interval): undecided, the point is {side} ±{tolerance:g}")
        elif -tolerance <= gap.low and gap.high <= tolerance:
            side = " and below theirs" if gap.high < 0 else " and above theirs" if gap.low > 0 else ""
            excludes = " (the interval excludes 0)" if side else ""
            lines.append(
                f"{mode}: {shown}, 95 % interval inside ±{tolerance:g}: within {tolerance:g} points{side}{excludes}"
            )
        elif gap.high < -tolerance or gap.low > tolerance:
            lines.append(
                f"{mode}: {shown}, 95 % interval outside ±{tolerance:g}: off by more than {tolerance:g} points"
            )
        else:
            lines.append(f"{mode}: {shown}, 95 % interval crosses ±{tolerance:g}: undecided ({gap.n} seeds)")
    return lines


def lambda_grid_table(grid: dict[str, dict[float, dict]], chosen: dict[str, float], chosen_by: str = "their choice"):
    """ACC (%) of one run per λ and mode (``{mode: {λ: result}}``, ``None`` for a run not made yet), one row per λ,
    one column per mode; the λ in ``chosen`` (``{mode: λ}``) is marked ``(chosen_by)``, the best ACC of each column
    is bold (Markdown)."""
    modes = list(grid)
    lams = sorted({lam for runs in grid.values() for lam in runs} | set(chosen.values()))
    best = {
        m: max((lam for lam, r in grid[m].items() if r), key=lambda lam: grid[m][lam]["metrics"]["acc"], default=None)
        for m in modes
    }
    rows = []
    for lam in lams:
        row = [f"{lam:g}"]
        for m in modes:
            r = grid[m].get(lam)
            cell = "—" if r is None else f"{100 * r['metrics']['acc']:.2f}"
            if r is not None and lam == best[m]:
                cell = f"**{cell}**"
            if chosen.get(m) == lam:
                cell += f" ({chosen_by})"
            row.append(cell)
        rows.append(row)
    header = ["λ", *[f"{MODE_TITLES.get(m, m)}, ACC %" for m in modes]]
    return markdown(markdown_table(header, rows, "r" + "r" * len(modes)))
