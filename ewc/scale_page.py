"""The chapter "At the scale of the report" (the ``report-scale`` suite): its figure, laid out two panels a row, and
a Reading written from its runs beside the report's digitized values and the ``quick`` profile's."""

from __future__ import annotations

from ewc import claims, plots, report_figures, stats
from ewc.findings import REPORT_ACC

MODES = ("none", "ewc-all", "ewc-previous", "ewc-online")


def figure(runs: dict[str, dict[int, dict]]):
    """The report's Figures 3-5 (and online EWC) at this scale: one panel per mode present, two a row, each the
    mean over seeds with a ±1 sd band and each seed thin (``plots.plot_seed_accuracy``). Returns the Figure."""
    import matplotlib.pyplot as plt

    present = [m for m in MODES if runs.get(m)]
    rows = (len(present) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(10, 3.9 * rows), sharey=True, layout="constrained", squeeze=False)
    for ax, mode in zip(axes.flat, present):
        plots.plot_seed_accuracy(list(runs[mode].values()), ax=ax, title=plots.MODE_TITLES[mode])
        ax.get_legend().remove()
    for ax in list(axes.flat)[len(present) :]:
        ax.set_visible(False)
    if present:
        handles, labels = axes.flat[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside lower center", ncols=6, fontsize=9)
    return fig


def reading(runs: dict[str, dict[int, dict]], judged: list[claims.Judgement], quick_loss: float | None = None) -> str:
    """The chapter's Reading (Markdown), from ``runs`` (``{mode: {seed: result}}``, the three experiments needed)
    and the report's findings ``judged`` on them: how much task 1 loses over task 2 beside the report and the quick
    profile (``quick_loss``, points), how well task 1 was learned in 5 epochs, the three ACCs beside the report's,
    and the verdict of each primary finding."""
    none = runs["none"].values()
    learned = stats.mean(100 * r["task_matrix"][0][0] for r in none)
    loss = stats.mean(claims.loss_after_next(1)(r) for r in none)
    epochs = next(iter(none))["config"]["epochs"]
    fig3 = report_figures.end_of_task_matrix("none")
    report_loss = 100 * (fig3[0][0] - fig3[1][0])
    acc = {m: stats.mean(claims.acc(r) for r in runs[m].values()) for m in ("none", "ewc-all", "ewc-previous")}
    seeds = len(runs["none"])
    quick = "" if quick_loss is None else f", the quick profile {quick_loss:.1f}"
    counts: dict[str, int] = {}
    for j in judged:
        if j.claim.primary:
            counts[j.verdict] = counts.get(j.verdict, 0) + 1
    verdicts = ", ".join(f"{n} {v}" for v, n in sorted(counts.items(), key=lambda kv: -kv[1]))
    beats = next((j for j in judged if j.claim.primary and j.claim.a[0] == "ewc-all" and j.claim.b), None)
    margin = (
        ""
        if beats is None or beats.comparison is None
        else f" The finding that EWC on every task beats no penalty by ≥ {beats.claim.size:g} points: {beats.verdict}."
    )
    return (
        f"With the report's data and optimizer but {epochs} of its 30 epochs per task, task 1 is learned to "
        f"{learned:.1f} % and loses {loss:.1f} points while task 2 is learned (mean of {seeds} seeds; the report "
        f"{report_loss:.1f} over 30 epochs{quick}). With forgetting this small, no penalty ends at an ACC of "
        f"{acc['none']:.1f} % (the report: {REPORT_ACC['none']:.1f} %), EWC on every task at {acc['ewc-all']:.1f} % "
        f"and on the previous task only at {acc['ewc-previous']:.1f} % (the report: {REPORT_ACC['ewc-all']:.1f} and "
        f"{REPORT_ACC['ewc-previous']:.1f} %).{margin} Of the report's primary findings here: {verdicts}. "
        "{doc}`paper_protocol` measures what sets the size of forgetting."
    )
