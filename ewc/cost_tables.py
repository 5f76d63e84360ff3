"""What the book's runs and benchmarks cost, as the chapters print it: minutes per run and the engineering appendix's
measurements (the benches of ``ewc.bench``). The report's claims about cost are judged in ``ewc.cost_claims``.

Every function takes results dicts or a bench's dict and returns text (``run_minutes``) or
Markdown (``ewc.markdown``), naming the machine a bench ran on, since its figures hold for that machine only.
"""

from __future__ import annotations

from ewc.markdown import markdown


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
