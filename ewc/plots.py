"""Figures drawn from results files: the report's Figures 3-5 (accuracy vs epoch) and task examples (Figs 2, 6)."""

from __future__ import annotations

import warnings

import matplotlib

matplotlib.use("Agg")  # files only; notebooks still display the returned figures inline
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

CHANCE = 0.10
MODE_TITLES = {
    "none": "No penalty",
    "ewc-all": "EWC on every previous task",
    "ewc-previous": "EWC on the previous task only",
    "ewc-online": "Online EWC (running sum)",
    "l2": "L2 to the previous task's weights",
}


def progress_label(config: dict) -> str:
    """What one point of an accuracy-vs-training figure is, for the x-axis: a pass over a task's training images
    (``epochs`` per task), or, where a task trains a fixed number of steps (``iterations``), a share of them."""
    per_task = config["epochs"]
    if config.get("iterations") and per_task == 1:
        return f"tasks trained (a point after each task's {config['iterations']} steps)"
    if config.get("iterations"):
        share = {2: "half", 4: "quarter"}.get(per_task, f"1/{per_task}")
        return f"tasks trained (a point after every {share} of a task's {config['iterations']} steps)"
    if per_task == 1:
        return "tasks trained (a point after each task)"
    return f"tasks trained (a point after each pass over the images, {per_task} per task)"


def _progress_axis(ax, config: dict, points: int) -> np.ndarray:
    """Put ``points`` accuracy rows on an x-axis counted in tasks (row i at (i + 1) / epochs per task), with a line
    at every task boundary and a tick per task; returns the x positions."""
    per_task = config["epochs"]
    x = np.arange(1, points + 1) / per_task
    tasks = int(np.ceil(points / per_task))
    for boundary in range(1, tasks):
        ax.axvline(boundary, color="0.8", linewidth=0.8, zorder=0)
    ax.set_xticks(range(0, tasks + 1))
    ax.set_xlim(0, tasks)
    ax.set_xlabel(progress_label(config))
    return x


def plot_accuracy(result: dict, ax=None, title: str | None = None):
    """Test accuracy (%) of every task vs training progress (in tasks), one line per task from when it is learned.

    Returns the matplotlib Axes. The title names the mode and the profile that made the numbers.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    acc = np.array([[np.nan if v is None else 100 * v for v in row] for row in result["accuracy"]])
    config = result["config"]
    x = _progress_axis(ax, config, len(acc))
    for k in range(acc.shape[1]):
        ax.plot(x, acc[:, k], marker="o", markersize=3, label=f"task {k + 1}")
    ax.axhline(100 * CHANCE, color="0.5", linestyle="--", linewidth=1, label="chance")
    ax.set_ylabel("test accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(loc="lower left", fontsize="small", ncols=2)
    mode = MODE_TITLES.get(config["mode"], config["mode"])
    lam = "" if config["mode"] == "none" else f", λ={config['lam']:g}"
    ax.set_title(title or f"{mode} — profile '{config['profile']}', {config['arch']}{lam}")
    return ax


def plot_task_examples(images_by_task: dict[str, np.ndarray], n: int = 6):
    """A grid: one row per named set of images (uint8 (N, 28, 28)), ``n`` images each (the report's Figs 2 and 6)."""
    fig, axes = plt.subplots(
        len(images_by_task), n, figsize=(1.3 * n, 1.4 * len(images_by_task)), layout="constrained", squeeze=False
    )
    for row, (name, images) in zip(axes, images_by_task.items()):
        for ax, image in zip(row, images[:n]):
            ax.imshow(image, cmap="gray_r", vmin=0, vmax=255)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(name, rotation=0, ha="right", va="center")
    return fig


def save_figure(fig, path) -> None:
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_seed_bands(results_by_mode: dict[str, list[dict]], ax=None, title: str | None = None):
    """Per mode: the mean accuracy (%) over the tasks learned so far vs training progress, averaged over the runs
    (seeds) given, with a +-1 standard-deviation band. Returns the Axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    config = next(iter(results_by_mode.values()))[0]["config"]
    x = _progress_axis(ax, config, len(next(iter(results_by_mode.values()))[0]["accuracy"]))
    styles = ("-", "--", ":", "-.")  # lines that coincide (EWC and online EWC often do) stay visible
    for i, (mode, runs) in enumerate(results_by_mode.items()):
        curves = np.array([[100 * np.mean([v for v in row if v is not None]) for row in r["accuracy"]] for r in runs])
        mean, sd = curves.mean(axis=0), curves.std(axis=0, ddof=1 if len(runs) > 1 else 0)
        ax.plot(
            x,
            mean,
            linestyle=styles[i % len(styles)],
            linewidth=2.2 - 0.4 * (i % len(styles)),
            marker="os^D"[i % 4],
            markersize=4,
            label=f"{MODE_TITLES.get(mode, mode)} (n={len(runs)})",
        )
        ax.fill_between(x, mean - sd, mean + sd, alpha=0.25)
    ax.set(ylabel="mean accuracy over learned tasks (%)", ylim=(0, 100))
    ax.legend(loc="lower left", fontsize="small")
    ax.set_title(title or "Mean over seeds ± 1 sd")
    return ax


def accuracy_over_seeds(runs: list[dict]) -> np.ndarray:
    """The runs' per-epoch accuracy (%) stacked: (seeds, global epochs, tasks), NaN before a task is learned."""
    return np.array([[[np.nan if v is None else 100 * v for v in row] for row in r["accuracy"]] for r in runs])


def plot_seed_accuracy(runs: list[dict], ax=None, title: str | None = None, per_seed: bool = True):
    """The report's Figures 3-5 over seeds: per task, the mean test accuracy (%) over the runs vs training progress, a
    band of ±1 sample standard deviation (n - 1) and, thin, each seed's own line. Returns the Axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 4), layout="constrained")
    acc = accuracy_over_seeds(runs)
    config = runs[0]["config"]
    epochs = _progress_axis(ax, config, acc.shape[1])
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k in range(acc.shape[2]):
        color = colors[k % len(colors)]
        with np.errstate(all="ignore"), warnings.catch_warnings():  # epochs before task k is learned are all NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(acc[:, :, k], axis=0)
            sd = np.nanstd(acc[:, :, k], axis=0, ddof=1) if len(runs) > 1 else np.zeros_like(mean)
        if per_seed:
            for seed_curve in acc[:, :, k]:
                ax.plot(epochs, seed_curve, color=color, linewidth=0.5, alpha=0.45)
        ax.plot(epochs, mean, color=color, marker="o", markersize=3, label=f"task {k + 1}")
        ax.fill_between(epochs, mean - sd, mean + sd, color=color, alpha=0.18, linewidth=0)
    ax.axhline(100 * CHANCE, color="0.5", linestyle="--", linewidth=1, label="chance")
    ax.set(ylabel="test accuracy (%)", ylim=(0, 100))
    ax.legend(loc="lower left", fontsize="small", ncols=2)
    mode = MODE_TITLES.get(config["mode"], config["mode"])
    lam = "" if config["mode"] == "none" else f", λ={config['lam']:g}"
    ax.set_title(
        title or f"{mode}: mean of {len(runs)} seeds ± 1 sd — profile '{config['profile']}', {config['arch']}{lam}"
    )
    return ax


REPORT_EPOCHS_LABEL = "epoch (30 per task; each a pass over the 60,000 training images)"


def plot_against_report(runs: list[dict], figure: int | str, ax=None, title: str | None = None):
    """One of the report's Figures 3-5 (``figure``: 3, 4, 5 or its mode) digitized (``ewc.report_figures``), dashed,
    under the same experiment's runs at the report's protocol (the mean over ``runs``, solid; none: the report's
    curves alone), one colour per task as the report drew them, vs epoch (30 per task). Returns the Axes."""
    from matplotlib.lines import Line2D

    from ewc import report_figures

    if ax is None:
        _, ax = plt.subplots(figsize=(9, 4.2), layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    x = np.arange(1, report_figures.TASKS * report_figures.EPOCHS_PER_TASK + 1)
    for k in range(report_figures.TASKS):
        curve = [np.nan if v is None else 100 * v for v in report_figures.curve(figure, k + 1)]
        ax.plot(x, curve, color=colors[k], linestyle="--", linewidth=1.3)
    if runs:
        acc = accuracy_over_seeds(runs)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            mean = np.nanmean(acc, axis=0)
        for k in range(mean.shape[1]):
            ax.plot(np.arange(1, len(mean) + 1), mean[:, k], color=colors[k], linewidth=1.8)
    for boundary in range(report_figures.EPOCHS_PER_TASK, len(x), report_figures.EPOCHS_PER_TASK):
        ax.axvline(boundary + 0.5, color="0.8", linewidth=0.8, zorder=0)
    ax.axhline(100 * CHANCE, color="0.5", linestyle=":", linewidth=1)
    handles = [Line2D([], [], color=colors[k], linewidth=1.8, label=f"task {k + 1}") for k in range(5)]
    handles += [
        Line2D([], [], color="0.3", linewidth=1.8, label=f"this book ({len(runs)} run{'s' * (len(runs) != 1)})"),
        Line2D([], [], color="0.3", linestyle="--", linewidth=1.3, label="the report (digitized)"),
    ]
    ax.legend(handles=handles, loc="lower left", fontsize=9, ncols=4)
    ax.set(xlabel=REPORT_EPOCHS_LABEL, ylabel="test accuracy (%)", ylim=(0, 100), xlim=(0.5, len(x) + 0.5))
    ax.tick_params(labelsize=9)
    ax.set_title(title or f"Figure {report_figures.FIGURE_OF_MODE.get(str(figure), figure)}", fontsize=11)
    return ax


def plot_forgetting(curves: dict[str, dict[int, list[float]]], report: list[float] | None = None, ax=None):
    """Task 1's test accuracy (%) through task 2: ``curves`` maps a setting ("fresh Adam", ...) to {seed: [accuracy
    at the end of task 1, after task 2's epoch 1, 2, ...]}; each seed thin, the mean over seeds bold; ``report``
    (the same points read off the report's Figure 3) dashed black. Returns the Axes."""
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 4), layout="constrained")
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for (setting, by_seed), color in zip(curves.items(), colors):
        if not by_seed:
            continue
        length = min(len(c) for c in by_seed.values())
        stack = np.array([c[:length] for c in by_seed.values()])
        for c in stack:
            ax.plot(np.arange(length), c, color=color, linewidth=0.6, alpha=0.5)
        ax.plot(
            np.arange(length), stack.mean(axis=0), color=color, linewidth=2, label=f"{setting} ({len(stack)} seeds)"
        )
    if report is not None:
        ax.plot(
            np.arange(len(report)), report, color="black", linestyle="--", linewidth=1.3, label="the report (Fig. 3)"
        )
    ax.axhline(100 * CHANCE, color="0.5", linestyle=":", linewidth=1)
    ax.set(xlabel="epochs of task 2 trained (0: the end of task 1)", ylabel="task 1 test accuracy (%)", ylim=(0, 100))
    ax.legend(loc="lower left", fontsize=9)
    ax.tick_params(labelsize=9)
    return ax
