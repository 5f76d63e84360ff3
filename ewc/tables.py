"""The book's own runs as its chapters print them: what a chapter's runs are (its settings, beside the report's; the
network's layers) and what they gave (tables over seeds, a sweep).

Every function takes a config, a built model or results dicts (see ``ewc.results``; runs over seeds as ``{seed:
results dict}``) and returns plain text for ``print`` or Markdown (``ewc.markdown``). Accuracies are shown in percent
and differences in percentage points. What the runs cost is in ``ewc.cost_tables``; this book's numbers beside
published ones are in ``ewc.published_tables``.
"""

from __future__ import annotations

from ewc.markdown import markdown, markdown_table, pct, points
from ewc.stats import interval, mean_sd

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


def power_of_ten(x: float) -> str:
    """A learning rate as a reader writes it: 1e-4 -> '10⁻⁴', 0.0035 -> '3.5·10⁻³', 0.5 -> '0.5', 1000 -> '1000'."""
    if x == 0 or abs(x) >= 0.1:
        return f"{x:g}"
    mantissa, exponent = f"{x:.3e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    power = "10" + str(int(exponent)).translate(str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹"))
    return power if mantissa == "1" else f"{mantissa}·{power}"


def settings_table(config, report_config):
    """The settings of a profile that a reader needs, in words, beside the report's (the ``paper`` profile) with where
    the report states each (its Appendix A, a figure, its code, or not at all); "same" where the profile keeps the
    report's value. One row per setting: network, tasks, training per task, training and test images per task, when
    accuracy is measured, batch, optimizer (and whether its state is reset for each task), learning rate, λ and the
    Fisher (Markdown)."""

    def values(c) -> dict[str, str]:
        net = "the CNN" if c.arch == "cnn" else f"MLP {'-'.join(map(str, [c.image_size**2, *c.mlp_hidden, 10]))}"
        perm = "pixel" if c.permutation == "pixel" else f"{c.block_size}×{c.block_size}-block"
        first = f"{c.tasks} {perm} permutations of MNIST" if c.permute_first else "MNIST"
        tasks = first if c.permute_first else f"{first}, then {c.tasks - 1} {perm} permutations"
        if c.iterations:
            passes = passes_per_task(c.to_dict())
            length = f"{c.iterations:,} steps ({'each image seen once' if passes == 1 else f'{passes:.3g} passes'})"
            measured = f"{c.epochs} times per task"
        else:
            length = f"{c.epochs} epochs"
            measured = "after every epoch"
        return {
            "network": net,
            "tasks": tasks + ("" if c.image_size == 28 else f", padded to {c.image_size}×{c.image_size}"),
            "training per task": length,
            "training images per task": f"{c.train_size:,}",
            "test images per task": f"{c.test_size:,}",
            "accuracy measured": measured,
            "batch": f"{c.batch_size}",
            "optimizer": "Adam",
            "Adam's state between tasks": "reset" if c.fresh_optimizer else "kept",
            "learning rate": power_of_ten(c.lr),
            "λ": f"{c.lam:,.0f}" if c.lam >= 1 else f"{c.lam:g}",
            "Fisher": f"{c.fisher_kind}, {c.fisher_samples:,} images",
        }

    where = {  # where the report states its value
        "network": "Appendix A",
        "tasks": "Fig. 2",
        "training per task": "Appendix A",
        "training images per task": "not stated: all assumed",
        "test images per task": "not stated: all assumed",
        "accuracy measured": "Figs 3–5",
        "batch": "Appendix A",
        "optimizer": "Appendix A",
        "Adam's state between tasks": "its code",
        "learning rate": "Appendix A",
        "λ": "Appendix A",
        "Fisher": "its code",
    }
    mine, theirs = values(config), values(report_config)
    rows = [[k, f"{theirs[k]} ({where[k]})", "same" if mine[k] == theirs[k] else mine[k]] for k in mine]
    header = ["setting", "the report (where it says so)", f"this book (`{config.profile}`)"]
    return markdown(markdown_table(header, rows, "lll"))


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
#: The range each metric cannot leave (accuracies are percentages; BWT and forgetting differences of them).
METRIC_RANGE = {
    "ACC (%)": (0, 100),
    "BWT (points)": (-100, 100),
    "mean forgetting (points)": (-100, 100),
    "just learned (%)": (0, 100),
}


def seed_metrics_table(runs_by_label: dict[str, dict[int, dict]]):
    """One row per label: seeds, then each metric as mean ± sd and its 95 % interval."""
    header = ["", "seeds"] + [h for name in SEED_METRICS for h in (name, "95 % interval")]
    rows = []
    for label, runs in runs_by_label.items():
        row = [label, str(len(runs))]
        for name, metric in SEED_METRICS.items():
            values = [metric(r) for r in runs.values()]
            row += [mean_sd(values), interval(values, within=METRIC_RANGE[name])]
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
