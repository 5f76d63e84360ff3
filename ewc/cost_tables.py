"""What the book's runs and benchmarks cost, as the chapters print it: minutes per run, seconds per pass and per
Fisher diagonal, the benches of ``ewc.bench`` (a training step's parts, the penalty, the Fisher, stock Keras against
the trainer) and the last complete book run (``ewc.book_run``).

Every function takes a results dict, a bench's dict or a book-run record and returns text (``run_minutes``) or
Markdown (``ewc.markdown``). Each bench table ends with the CPU, cores and load it was measured on, since its
figures hold for that machine only.
"""

from __future__ import annotations

from ewc.markdown import markdown, markdown_table
from ewc.tables import passes_per_task


def run_minutes(runs: dict[str, dict[int, dict]]) -> str:
    """'each took 24–26 min of training, Fisher and evaluation' over every run of ``{group: {seed: result}}``: the
    per-task times a run records, summed (a resumed run, or one given a shared task 1, keeps the times of the
    process that did each task, so this is the run's work wherever it was done; start-up is not in it)."""
    minutes = [
        sum(sum(r["timings"][k]) for k in ("train_s", "eval_s", "fisher_s")) / 60
        for group in runs.values()
        for r in group.values()
    ]
    if not minutes:
        return ""
    low, high = f"{min(minutes):.0f}", f"{max(minutes):.0f}"
    return f"each took {low if low == high else f'{low}–{high}'} min of training, Fisher and evaluation"


def timing_table(result):
    """Seconds per pass over a task's training images (an epoch) and for each Fisher diagonal, task by task, from a
    results file's timings."""
    t, passes = result["timings"], passes_per_task(result["config"])
    rows = []
    for k, train_s in enumerate(t["train_s"]):
        epoch_s = train_s / passes
        fisher_s = t["fisher_s"][k] if k < len(t["fisher_s"]) else None
        rows.append(
            [
                f"task {k + 1}",
                f"{epoch_s:.1f}",
                "—" if fisher_s is None else f"{fisher_s:.2f}",
                "—" if fisher_s is None else f"{fisher_s / epoch_s:.3f}",
            ]
        )
    header = ["", "one pass over the task's images (s)", "Fisher diagonal (s)", "Fisher / pass"]
    return markdown(markdown_table(header, rows))


def book_run_table(record: dict | None):
    """The cost of the last complete ``python -m ewc book`` (``ewc.book_run.record_book_run``), or a note that none
    was recorded."""
    if record is None:
        return markdown("No complete run of the book has been recorded at this profile yet.")
    rows = [
        ["wall time", f"{record['wall_s'] / 60:.1f} min"],
        ["peak resident memory (largest process)", f"{record['peak_rss_mib'] / 1024:.2f} GiB"],
    ]
    if record.get("peak_rss_all_processes_mib"):
        rows.append(
            ["peak resident memory (all processes together)", f"{record['peak_rss_all_processes_mib'] / 1024:.2f} GiB"]
        )
    if record.get("runs_total") is not None:
        rows.append(["runs trained in this book run", f"{record['runs_trained']} of {record['runs_total']}"])
    if record.get("benches_measured") is not None:
        rows.append(["benches measured in this book run", str(record["benches_measured"])])
    if record.get("jobs"):
        rows.append(["runs trained side by side", str(record["jobs"])])
    rows += [
        ["finished", record["finished"]],
        ["CPUs, 1-minute load at the end", f"{record['cpu_count']}, {record['load_avg_1min_at_end']:.1f}"],
    ]
    return markdown(markdown_table([f"`python -m ewc book --profile {record['profile']}`", ""], rows))


def _bench_note(b: dict) -> str:
    m = b.get("machine") or {}
    where = f"{m.get('cpu_model', 'unknown CPU')}, {b['cpu_count']} cores" + (
        f", XLA_FLAGS={m['xla_flags']}" if m.get("xla_flags") else ""
    )
    return (
        f"\n\n*{b['arch']}, batch {b['batch_size']}, median of {b['rounds']} interleaved rounds on {where} "
        f"(load {b['load_before']:.1f} → {b['load_after']:.1f}).*"
    )


def penalty_bench_table(b: dict):
    """Train-step time (ms) by number of consolidated tasks K, from ``ewc.bench.bench_penalty``'s dict."""
    rows = [
        [
            k,
            f"{b['step_ms_none']:.1f}",
            f"{b[f'step_ms_online_k{k}']:.1f} ({b[f'ratio_online_k{k}']:.2f}×)",
            f"{b[f'step_ms_all_k{k}']:.1f} ({b[f'ratio_all_k{k}']:.2f}×)" if f"step_ms_all_k{k}" in b else "not timed",
        ]
        for k in b["ks"]
    ]
    table = markdown_table(
        [
            "consolidated tasks K",
            "no penalty (ms/step)",
            "online EWC (ms/step, × none)",
            "per-task sum (ms/step, × none)",
        ],
        rows,
    )
    return markdown(table + _bench_note(b))


def fisher_bench_table(b: dict, config=None):
    """Throughput of the fast Fisher, the per-example loop and a training pass, from ``ewc.bench.bench_fisher``;
    with ``config``, also one Fisher diagonal as a fraction of one training epoch of that configuration."""
    rows = [
        ["fast Fisher diagonal", f"{b['fast_samples_per_s']:.0f}", f"{b['fisher_samples']}"],
        ["per-example loop (reference)", f"{b['loop_samples_per_s']:.0f}", f"{b['loop_samples']}"],
        ["training pass (compiled step)", f"{b['train_samples_per_s']:.0f}", f"{b['train_samples']}"],
    ]
    table = markdown_table(["", "images per second", "images timed"], rows)
    lines = [
        f"The fast path is {b['speedup_vs_loop']:.0f}× the loop; per image, a Fisher costs "
        f"{b['cost_vs_train_pass']:.2f}× a training step."
    ]
    if config is not None:
        share = b["cost_vs_train_pass"] * config.fisher_samples / config.train_size
        lines.append(
            f"With profile `{config.profile}` ({config.fisher_samples} Fisher images, {config.train_size} "
            f"training images per epoch) one Fisher diagonal costs about {100 * share:.0f} % of one epoch."
        )
    return markdown(table + _bench_note(b) + "\n\n" + " ".join(lines))


def train_bench_table(b: dict):
    """Steady-state training throughput of stock Keras (``compile`` + ``fit``: the report's way in a process of its
    own, with the BFC allocator ``ewc`` switches on, and with ``jit_compile=True``) and of the trainer, from
    ``ewc.bench.bench_train``'s dict; speed-ups against the fastest stock-Keras variant of the same run."""
    k = b["k"]
    best = max(b["fit_samples_per_s"], b["fit_bfc_samples_per_s"], b["fit_xla_samples_per_s"])
    rows = [
        [label, f"{b[key]:.0f}", f"{b[key] / best:.2f}"]
        for label, key in (
            (
                "Keras `fit`, no XLA, own process, TensorFlow's default allocator (the report's code)",
                "fit_samples_per_s",
            ),
            ("Keras `fit`, no XLA, with the BFC allocator", "fit_bfc_samples_per_s"),
            ("Keras `fit` with `jit_compile=True`", "fit_xla_samples_per_s"),
            ("trainer, no penalty", "trainer_samples_per_s"),
            (f"trainer, online EWC, K = {k}", f"trainer_online_k{k}_samples_per_s"),
            (f"trainer, per-task sum, K = {k}", f"trainer_all_k{k}_samples_per_s"),
        )
    ]
    table = markdown_table(["", "images per second", "× the fastest `fit`"], rows)
    return markdown(
        table + _bench_note(b) + f"\n\nThe trainer is {b['speedup_vs_best_fit']:.2f}× the fastest stock-Keras "
        f"variant of this run; online EWC at K = {k} trains at {b[f'online_k{k}_vs_plain']:.2f}× the speed of "
        "no penalty. Ratios come from one run on one machine (named above); other machines give other ratios."
    )


def step_bench_table(b: dict):
    """Where a training step's time goes, from ``ewc.bench.bench_step``'s dict (Markdown)."""
    step = b["ms_step"]

    def share(ms: float) -> str:
        return f"{100 * ms / step:.0f} %"

    rows = [
        ["forward pass and loss", f"{b['ms_forward']:.1f}", share(b["ms_forward"])],
        ["backward pass (gradient − forward)", f"{b['ms_backward']:.1f}", share(b["ms_backward"])],
        ["Adam and joining the parts (step − gradient)", f"{b['ms_step_rest']:.1f}", share(b["ms_step_rest"])],
        ["**the trainer's step** (no penalty)", f"**{step:.1f}**", "100 %"],
        ["the Adam update alone, on stored gradients", f"{b['ms_update']:.1f}", share(b["ms_update"])],
        ["online EWC's penalty (online step − step)", f"{b['ms_penalty']:+.1f}", share(b["ms_penalty"])],
    ]
    return markdown(markdown_table(["part of a step", "ms per step", "share of the step"], rows) + _bench_note(b))
