"""What the book's chapters print: markdown tables, one-line summaries and rounded verdicts computed from results.

Every function takes results dicts (see ``ewc.results``) or configs and returns text: a markdown table as an
``IPython.display.Markdown`` (rendered as a table by Jupyter Book; ``.data`` holds the text) or plain strings for
``print``. Accuracies are shown in percent and differences in percentage points.
"""

from __future__ import annotations

from ewc.markdown import markdown, markdown_table, pct, points
from ewc.stats import against_published, interval, mean_sd

#: Where the report (Sörberg 2020) states each knob, or that it does not.
REPORT_SOURCE = {
    "arch": "Appendix A: the CNN",
    "mlp_hidden": "not used (the report only suggests a fully connected network)",
    "tasks": "5: MNIST then 4 pixel permutations (Experiments)",
    "epochs": "30 per task (Appendix A)",
    "iterations": "not used: training length in epochs",
    "batch_size": "64 (Appendix A)",
    "lr": "1e-4, Adam (Appendix A)",
    "lam": "200 (Appendix A)",
    "gamma": "not used: its running sum does not decay",
    "permutation": "pixel (Fig. 2)",
    "block_size": "7, proposed in the Discussion (Fig. 6)",
    "permute_first": "no: task 1 is MNIST itself (Fig. 2)",
    "image_size": "28: MNIST as it is",
    "train_size": "not stated; all 60,000 assumed",
    "test_size": "not stated; all 10,000 assumed",
    "fisher_samples": "not stated; the report's code: all 60,000 training images, one at a time",
    "fresh_optimizer": "not stated; the report's code: a fresh Adam for every task (it recompiles the model)",
    "fisher_kind": "empirical: squared gradients of the loss (Background)",
    "seed": "not stated",
}


# ---------------------------------------------------------------------------------------------------------------
# Configurations


def training_length(config) -> str:
    """How long each task trains, from a RunConfig or a results file's config dict: '4 epochs × 4,000 images' or,
    when the profile counts steps (``iterations``), '250 steps of 64 over 16,000 images (1 pass)'."""
    c = config if isinstance(config, dict) else config.to_dict()
    if not c.get("iterations"):
        return f"{c['epochs']} epoch(s) × {c['train_size']:,} images"
    passes = passes_per_task(c)
    return (
        f"{c['iterations']:,} steps of {c['batch_size']} over {c['train_size']:,} images ({passes:.3g} pass"
        + ("" if passes == 1 else "es")
        + ")"
    )


def passes_per_task(config: dict) -> float:
    """Passes over a task's training images (a results file's config dict): the epochs, or the steps' share."""
    if not config.get("iterations"):
        return float(config["epochs"])
    return config["iterations"] * config["batch_size"] / config["train_size"]


def describe(config, mode: bool = True) -> str:
    """A few lines naming everything that determines a chapter's runs but their seeds, which the chapters list (and
    without the mode for chapters that show several)."""
    c = config
    net = "CNN (Appendix A)" if c.arch == "cnn" else f"MLP {'-'.join(map(str, [c.image_size**2, *c.mlp_hidden, 10]))}"
    perm = "pixel" if c.permutation == "pixel" else f"{c.block_size}×{c.block_size}-block"
    tasks = (
        f"{c.tasks} {perm} permutations of MNIST" if c.permute_first else f"MNIST + {c.tasks - 1} {perm} permutations"
    )
    if c.image_size != 28:
        tasks += f", zero-padded to {c.image_size}×{c.image_size}"
    return "\n".join(
        [
            f"profile {c.profile}" + (f", mode {c.mode}" if mode else ""),
            f"network: {net}",
            f"tasks: {c.tasks} ({tasks}), {c.train_size} train / {c.test_size} test images each",
            (
                f"training: {c.epochs} epoch(s) per task"
                if not c.iterations
                else f"training: {c.iterations} steps per task ({passes_per_task(c.to_dict()):.3g} pass(es)), "
                f"accuracy measured {'once' if c.epochs == 1 else f'{c.epochs} times'}"
            )
            + f", batch {c.batch_size}, Adam lr {c.lr:g}",
            f"penalty: λ = {c.lam:g}, {c.fisher_kind} Fisher on {c.fisher_samples} images",
        ]
    )


def protocol_table(config, report_config):
    """The active profile's values beside the report's (the ``paper`` profile) and where the report states them."""
    mine, paper = config.to_dict(), report_config.to_dict()
    rows = [
        [f"`{k}`", _value(mine[k]), _value(paper[k]), REPORT_SOURCE.get(k, "")]
        for k in mine
        if k not in ("profile", "mode")
    ]
    return markdown(
        markdown_table(["parameter", f"this book (`{config.profile}`)", "the report", "report says"], rows, "llll")
    )


def _value(v) -> str:
    if isinstance(v, (list, tuple)):
        return "×".join(map(str, v))
    return f"{v:g}" if isinstance(v, float) else str(v)


def layer_table(model):
    """Layer name, type, output shape and parameter count of a built Keras model, with a total row."""
    rows = []
    for layer in model.layers:
        shape = getattr(layer, "output", None)
        shape = tuple(shape.shape) if shape is not None else ()
        rows.append(
            [
                f"`{layer.name}`",
                type(layer).__name__,
                "(" + ", ".join("B" if d is None else str(d) for d in shape) + ")",
                f"{layer.count_params():,}",
            ]
        )
    rows.append(["**total**", "", "", f"**{model.count_params():,}**"])
    return markdown(markdown_table(["layer", "type", "output shape", "parameters"], rows, "lllr"))


# ---------------------------------------------------------------------------------------------------------------
# Several runs


def sweep_table(results: list[dict], field: str):
    """ACC, BWT and just-learned accuracy for each value of ``field`` (e.g. 'lam' or 'seed'), sorted by value."""
    rows = []
    for result in sorted(results, key=lambda r: r["config"][field]):
        m = result["metrics"]
        rows.append([_value(result["config"][field]), pct(m["acc"]), points(m["bwt"]), pct(m["just_trained"])])
    return markdown(markdown_table([field, "ACC (%)", "BWT (points)", "just learned (%)"], rows))


def permuted_just_learned(result) -> float:
    """Mean accuracy on tasks 2..T right after learning each (how well the network learns permuted tasks at all)."""
    r = result["task_matrix"]
    diag = [r[k][k] for k in range(1, len(r))]
    return sum(diag) / len(diag) if diag else float("nan")


def permuted_just_learned_pct(result) -> float:
    """``permuted_just_learned`` in percent."""
    return 100 * permuted_just_learned(result)


def rerun_check_table(report: dict | None):
    """What ``python -m ewc book --check-against-published`` found (``results/<profile>/rerun-check.json``): how the
    rerun differed, whether the verdict lines held, and every group's mean ACC beside the published one, plus any
    other mean outside its rerun interval (Markdown)."""
    if report is None:
        return markdown(
            "No rerun check is recorded at this profile yet (`python -m ewc book --check-against-published`)."
        )
    stale = (
        "**This check ran at earlier values of the profile than the published runs'**: it tells how much a rerun "
        "moved the book then, not whether the present runs survive one (`python -m ewc book "
        "--check-against-published` checks them).\n\n"
        if not report.get("current", True)
        else ""
    )
    flags = f"`XLA_FLAGS={report['xla_flags']}`" if report.get("xla_flags") else "default XLA flags"
    differs = report.get("runs_compared", 0) - report.get("runs_with_the_published_first_loss", 0)
    lines = [
        f"Rerun on {report.get('processor', 'an unknown CPU')} with {flags} and {report.get('jobs', '?')} run(s) side "
        f"by side, finished {report['finished']}: {differs} of {report.get('runs_compared', '?')} runs computed "
        f"differently from the published ones from their first training loss on. Checked lines (settings, seeds, "
        f"verdicts) identical to the published ones: **{'yes' if report['checked_lines_identical'] else 'no'}**. "
        f"Means inside the 95 % interval of a rerun's mean: **{sum(r['inside'] for r in report['means'])} of "
        f"{len(report['means'])}** ({report.get('means_inside_published_intervals', '?')} inside the narrower "
        f"published interval of the mean). The whole book from nothing took {report['wall_s'] / 60:.0f} min"
        + (
            f", {report['peak_rss_all_processes_mib'] / 1024:.1f} GiB at peak (all processes)."
            if report.get("peak_rss_all_processes_mib")
            else "."
        ),
        "",
    ]
    rows = [
        [
            r["group"],
            r["metric"],
            f"{r['published_mean']:.1f} [{r['published_interval'][0]:.1f}, {r['published_interval'][1]:.1f}]",
            f"{r['rerun_mean']:.1f}",
            f"[{r['rerun_interval'][0]:.1f}, {r['rerun_interval'][1]:.1f}]",
            "yes" if r["inside"] else "**no**",
        ]
        for r in report["means"]
        if r["metric"] == "ACC" or not r["inside"]
    ]
    header = ["runs", "mean of", "published (95 % interval)", "rerun", "interval for a rerun", "inside"]
    flips = [
        f"* {d['chapter']}: published *{old.split(': ', 1)[-1]}*, rerun *{new.split(': ', 1)[-1]}*"
        for d in report.get("line_differences", [])
        for old, new in zip(d["published"], d["rerun"])
    ]
    text = stale + "\n".join(lines) + "\n" + markdown_table(header, rows, "llrrrl")
    if flips:
        text += (
            "\n\nChecked lines that differ (a claim whose interval nearly touches zero can land on either side):\n\n"
        )
        text += "\n".join(flips)
    return markdown(text)


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


# ---------------------------------------------------------------------------------------------------------------
# Over seeds: runs given as {seed: results dict}


def seed_task_matrix(runs: dict[int, dict]):
    """Accuracy (%) on every task (columns) at the end of every task (rows), mean ± sd over the seeds."""
    first = next(iter(runs.values()))["task_matrix"]
    n = len(first)
    rows = []
    for i in range(n):
        cells = [mean_sd([100 * r["task_matrix"][i][k] for r in runs.values()]) if k <= i else "" for k in range(n)]
        cells[i] = f"**{cells[i]}**"
        rows.append([f"after task {i + 1}", *cells])
    return markdown(
        markdown_table([f"mean ± sd over {len(runs)} seeds (%)", *[f"task {k + 1}" for k in range(n)]], rows)
    )


SEED_METRICS = {
    "ACC (%)": lambda r: 100 * r["metrics"]["acc"],
    "BWT (points)": lambda r: 100 * r["metrics"]["bwt"],
    "mean forgetting (points)": lambda r: 100 * r["metrics"]["mean_forgetting"],
    "just learned (%)": lambda r: 100 * r["metrics"]["just_trained"],
}


def seed_metrics_table(runs_by_label: dict[str, dict[int, dict]]):
    """One row per label: seeds, then each metric as mean ± sd and its 95 % interval."""
    header = ["", "seeds"] + [h for name in SEED_METRICS for h in (name, "95 % interval")]
    rows = []
    for label, runs in runs_by_label.items():
        row = [label, str(len(runs))]
        for metric in SEED_METRICS.values():
            values = [metric(r) for r in runs.values()]
            row += [mean_sd(values), interval(values)]
        rows.append(row)
    return markdown(markdown_table(header, rows))


def seed_final_table(runs_by_label: dict[str, dict[int, dict]]):
    """Final accuracy (%) on each task, mean ± sd over seeds, one row per label."""
    n = len(next(iter(next(iter(runs_by_label.values())).values()))["metrics"]["final"])
    rows = [
        [label, *[mean_sd([100 * r["metrics"]["final"][k] for r in runs.values()]) for k in range(n)]]
        for label, runs in runs_by_label.items()
    ]
    return markdown(markdown_table(["final accuracy (%), mean ± sd", *[f"task {k + 1}" for k in range(n)]], rows))


def seed_grid_table(
    grid: dict[tuple[str, str], dict[int, dict]], rows: list[str], cols: list[str], value=None, corner: str = "ACC (%)"
):
    """A rows × cols table of one number per group of runs keyed by (row, col): mean ± sd over its seeds and, in
    brackets, how many seeds (default number: ACC in %)."""
    value = value or (lambda r: 100 * r["metrics"]["acc"])
    cells = [
        [r, *[f"{mean_sd([value(x) for x in grid[(r, c)].values()])} ({len(grid[(r, c)])})" for c in cols]]
        for r in rows
    ]
    return markdown(markdown_table([f"{corner}, mean ± sd (seeds)", *cols], cells))


def benchmark_table(published: dict[str, tuple[float, float]], ours: dict[str, dict[int, dict]], source: str):
    """Published ACC (%, mean ± SEM) beside ours (mean ± SEM over our seeds) and ours minus theirs with its 95 %
    interval (``against_published``). ``source`` names the published work in the header (Markdown)."""
    rows = []
    for mode, (mean, sem) in published.items():
        gap = against_published(ours.get(mode) or {}, mean, sem)
        if gap is None:
            rows.append([mode, f"{mean:.2f} ± {sem:.2f}", "not run yet", "—"])
            continue
        diff = f"{gap.diff:+.2f}"
        if gap.n > 1:
            ours_text = f"{gap.ours:.2f} ± {gap.sem:.2f} ({gap.n} seeds)"
            diff += f" [{gap.low:+.2f}, {gap.high:+.2f}]"
        else:
            ours_text = f"{gap.ours:.2f} (1 seed)"
        rows.append([mode, f"{mean:.2f} ± {sem:.2f}", ours_text, diff.replace("-", "−")])
    header = [
        "method",
        f"{source}, ACC % (mean ± SEM)",
        "this suite, ACC % (mean ± SEM)",
        "ours − theirs, points [95 % interval]",
    ]
    return markdown(markdown_table(header, rows, "lrrr"))


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
    return markdown(markdown_table(["λ", *[f"{m}, ACC %" for m in modes]], rows, "r" + "r" * len(modes)))
