"""What the book's runs and benchmarks cost, as the chapters print it: minutes per run, the last complete book run
(``ewc.book_run``) and the engineering appendix's measurements (the benches of ``ewc.bench``). The report's claims
about cost are judged in ``ewc.cost_claims``.

Every function takes results dicts, a bench's dict or a book-run record and returns text (``run_minutes``) or
Markdown (``ewc.markdown``), naming the machine a bench ran on, since its figures hold for that machine only.
"""

from __future__ import annotations

from ewc.markdown import markdown, markdown_table


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


def engineering_numbers(train: dict, step: dict, fisher: dict):
    """The measurements behind the engineering appendix, as one paragraph: the trainer's throughput against stock
    Keras (``ewc.bench.bench_train``), the forward-and-backward share of its step and the bound that share puts on
    its lead over ``fit`` with XLA (``bench_step``: XLA compiles those passes alike for both, so the trainer can only
    save the rest of ``fit``'s step), and the fast Fisher against the per-example loop (``bench_fisher``)."""
    fit_xla_ms = 1000 * train["batch_size"] / train["fit_xla_samples_per_s"]
    return markdown(
        f"Measured on {_machine(train)}: the trainer trains {train['trainer_samples_per_s']:.0f} images per second, "
        f"Keras `fit` as the report's code runs it {train['fit_samples_per_s']:.0f} and `fit` with XLA "
        f"{train['fit_xla_samples_per_s']:.0f} ({train['speedup_vs_fit_xla']:.2f}× the latter). The forward and "
        f"backward passes take {step['ms_gradient']:.0f} ms of the trainer's {step['ms_step']:.0f} ms step, so no "
        f"training loop can beat `fit` with XLA ({fit_xla_ms:.0f} ms per step) by more than "
        f"{fit_xla_ms / step['ms_gradient']:.2f}×. The fast Fisher is {fisher['speedup_vs_loop']:.0f}× the "
        "per-example loop."
    )


def _machine(b: dict) -> str:
    m = b.get("machine") or {}
    return f"{m.get('cpu_model', 'an unrecorded CPU')} ({b['cpu_count']} cores, one run of each bench)"
