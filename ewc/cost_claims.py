"""The report's three claims about cost (its "Impact on training time"), each judged against a threshold read from
the report's words, on the benches' rounds and the runs' timings, with the book's verdict words.

The claims and their thresholds (the training-time chapter states them before the table):

1. "Training a network with EWC is not noticeably slower": a training step with the penalty takes at most
   ``NOTICEABLE`` (1.10) times a step without one. Judged for the report's per-task sum with 1 and 5 tasks held (the
   report's runs hold 1 to 4) and for the online form with 5.
2. The Fisher diagonal is "a small performance hit ... overshadowed by the time spent in actual training": one
   Fisher takes at most ``OVERSHADOWED`` (a tenth) of the training of the task it follows. Judged on the book's runs
   (per seed) and, from the Fisher bench, at the report's protocol (60,000 Fisher images after 30 epochs of 60,000).
3. The per-task sum's cost is "proportional to the number of tasks", and the running sum avoids this: holding 5
   tasks instead of 1 makes the per-task sum's step at least ``NOTICEABLE`` times slower, while holding 20 instead of
   1 leaves the online form's step less than that.

How a ratio of two variants' times is judged: a bench times each variant once per round, in a random order each
round (``ewc.bench.common.timed_rounds``), so every round is one draw of a variant's time under the machine's load at
that moment. The ratio of two variants is the ratio of the geometric means of their rounds (times are noisy by
factors, so the test is on log seconds); Welch's t test gives its 95 % interval and one-sided p-values against a
bound. Per-seed numbers (the Fisher's share in the runs) take Student's t, as everywhere in the book. The verdict
follows the book's rule for a directed claim (``ewc.claims.Judgement.verdict``, level ``stats.ALPHA``): *holds at the
report's size* when shown beyond the threshold in the claimed direction; short of it, *same direction, smaller*
when still shown on the claimed side of "no effect" (``null``), else *contradicted*; otherwise *not resolved*. Where
no effect and the threshold coincide (an "at most" claim with nothing weaker to fall back to), a shortfall is a
contradiction.

The benches' rounds measure the timing noise of one run on one machine, not the spread between machines: the
chapter names the machine beside the verdicts.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from ewc import stats
from ewc.claims import CONTRADICTED, HOLDS, SMALLER, UNRESOLVED
from ewc.markdown import markdown, markdown_table

NOTICEABLE = 1.10  # "not noticeably slower": a step at most a tenth slower
OVERSHADOWED = 0.10  # "overshadowed by ... training": a Fisher at most a tenth of its task's training time
REPORT_TASKS = 5  # the report trains 5 tasks, so its per-task sum holds 1 to 4 of them


# ---------------------------------------------------------------------------------------------------------------
# The test


@dataclass(frozen=True)
class Estimate:
    """A measured ratio or share with its 95 % interval and one-sided p-values against a bound: ``p_below`` that the
    true value is below ``bound`` (small: shown below), ``p_above`` that it is above."""

    value: float
    low: float
    high: float
    p_below: float
    p_above: float


def _welch_log(a, b) -> tuple[float, float, float]:
    """(d, se, df) for mean(log a) - mean(log b): Welch's standard error and Welch-Satterthwaite degrees of freedom."""
    la, lb = np.log(np.asarray(a, float)), np.log(np.asarray(b, float))
    if len(la) < 2 or len(lb) < 2:
        raise ValueError("a ratio of rounds needs at least two rounds of each variant")
    va, vb = la.var(ddof=1) / len(la), lb.var(ddof=1) / len(lb)
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (len(la) - 1) + vb**2 / (len(lb) - 1)) if se > 0 else math.inf
    return float(la.mean() - lb.mean()), se, df


def ratio(a, b, bound: float, scale: float = 1.0) -> Estimate:
    """``scale`` x (geometric mean of ``a``) / (geometric mean of ``b``), rounds in seconds (at least two of each),
    with its 95 % Welch interval and one-sided p-values against ``bound`` (same units as the scaled ratio)."""
    from scipy.special import stdtr, stdtrit

    d, se, df = _welch_log(a, b)
    d += math.log(scale)
    if se == 0:  # no spread: the values decide
        value = math.exp(d)
        return Estimate(value, value, value, float(value >= bound), float(value <= bound))
    t = (d - math.log(bound)) / se
    half = float(stdtrit(df, 0.975)) * se
    return Estimate(math.exp(d), math.exp(d - half), math.exp(d + half), float(stdtr(df, t)), float(stdtr(df, -t)))


def mean_of_seeds(values, bound: float) -> Estimate:
    """The mean of per-seed ``values`` (at least two), its 95 % Student-t interval, p-values against ``bound``."""
    s = stats.summarize(values)
    return Estimate(s.mean, s.low, s.high, stats.p_below(values, bound), stats.p_above(values, bound))


def verdict(p_holds: float, p_short: float, p_effect: float) -> str:
    """The book's verdict on a directed claim from three one-sided p-values: that the effect is beyond the threshold
    in the claimed direction (``p_holds``), that it falls short of it (``p_short``), and that it is on the claimed
    side of no effect at all (``p_effect``)."""
    if p_holds < stats.ALPHA:
        return HOLDS
    if p_short < stats.ALPHA:
        return SMALLER if p_effect < stats.ALPHA else CONTRADICTED
    return UNRESOLVED


# ---------------------------------------------------------------------------------------------------------------
# The claims


@dataclass(frozen=True)
class CostVerdict:
    """One row of the verdict table: the claim as the book states it, its threshold in words, the estimate (None:
    not measured) in ``unit`` ("×" for a ratio, "%" for a share), where it was measured, and the verdict."""

    key: str
    claim: str
    threshold: str
    estimate: Estimate | None
    unit: str
    evidence: str
    verdict: str

    def measured(self) -> str:
        """'1.33× (1.17–1.50)' or '4.5 % (3.9–5.1)'; '—' when not measured."""
        e = self.estimate
        if e is None:
            return "—"
        if self.unit == "%":
            return f"{100 * e.value:.1f} % ({100 * e.low:.1f}–{100 * e.high:.1f})"
        return f"{e.value:.2f}× ({e.low:.2f}–{e.high:.2f})"


def _rounds(penalty: dict, variant: str) -> list[float] | None:
    return penalty["round_seconds"].get(variant)


def _bench_evidence(b: dict) -> str:
    return f"bench, {b['rounds']} rounds"


FORMS = {"all": "per-task sum", "online": "online form"}


def not_slower(penalty: dict, form: str, k: int) -> CostVerdict:
    """Claim 1: the step with penalty ``form`` ("all" or "online") holding ``k`` tasks takes at most NOTICEABLE times
    the step without a penalty (the penalty bench's rounds; every no-penalty round counts)."""
    rounds = _rounds(penalty, f"{form}_k{k}")
    claim = f"1 · {FORMS[form]}, {k} task{'s' if k > 1 else ''} held, against no penalty"
    threshold = f"≤ {NOTICEABLE:.2f}×"
    if rounds is None:
        return CostVerdict(f"slower_{form}_k{k}", claim, threshold, None, "×", "not timed", UNRESOLVED)
    e = ratio(rounds, penalty["round_seconds"]["none"], NOTICEABLE)
    return CostVerdict(
        f"slower_{form}_k{k}", claim, threshold, e, "×", _bench_evidence(penalty), verdict(e.p_below, e.p_above, 1.0)
    )


def fisher_shares(runs: dict[int, dict]) -> list[float]:
    """Per seed: the seconds of every Fisher diagonal over the training seconds of the tasks they follow (a run
    computes no Fisher after its last task), from each results file's ``timings``."""
    shares = []
    for result in runs.values():
        t = result["timings"]
        n = len(t["fisher_s"])
        shares.append(sum(t["fisher_s"]) / sum(t["train_s"][:n]))
    return shares


def fisher_in_runs(runs: dict[int, dict]) -> CostVerdict:
    """Claim 2 in the book's runs: a Fisher's share of its task's training time, per seed, at most OVERSHADOWED."""
    shares = fisher_shares(runs)
    claim = "2 · Fisher over its task's training, this book's runs"
    threshold = f"≤ {100 * OVERSHADOWED:.0f} %"
    if len(shares) < 2:
        return CostVerdict("fisher_runs", claim, threshold, None, "%", f"{len(shares)} run", UNRESOLVED)
    e = mean_of_seeds(shares, OVERSHADOWED)
    p_effect = stats.p_below(shares, 1.0)  # no effect: the Fisher as long as the training
    return CostVerdict(
        "fisher_runs", claim, threshold, e, "%", f"{len(shares)} seeds", verdict(e.p_below, e.p_above, p_effect)
    )


def images_per_task(config) -> int:
    """Training images a task sees (repeats counted) under a ``RunConfig``: its steps x batch, or its epochs."""
    return config.iterations * config.batch_size if config.iterations else config.epochs * config.train_size


def fisher_at_protocol(fisher: dict, config) -> CostVerdict:
    """Claim 2 at ``config``'s protocol (the report's: ``paper``), from the Fisher bench: the fast Fisher's seconds
    per image over a training step's seconds per image, times Fisher images over training images per task."""
    claim = "2 · Fisher over its task's training, the report's protocol"
    threshold = f"≤ {100 * OVERSHADOWED:.0f} %"
    r = fisher["round_seconds"]
    per_image = fisher["train_samples"] / fisher["fisher_samples"]  # fast_s / train_s -> per image ratio
    scale = per_image * config.fisher_samples / images_per_task(config)
    e = ratio(r["fast"], r["train"], OVERSHADOWED, scale)
    p_effect = ratio(r["fast"], r["train"], 1.0, scale).p_below
    return CostVerdict(
        "fisher_report", claim, threshold, e, "%", _bench_evidence(fisher), verdict(e.p_below, e.p_above, p_effect)
    )


def growth(penalty: dict, form: str, k_from: int, k_to: int) -> CostVerdict:
    """Claim 3: the step of penalty ``form`` holding ``k_to`` tasks over the same form holding ``k_from``. The per-task
    sum ("all") is claimed to grow by at least NOTICEABLE (no growth, 1.0, is its null); the online form to stay
    below NOTICEABLE."""
    grows = form == "all"
    a, b = _rounds(penalty, f"{form}_k{k_to}"), _rounds(penalty, f"{form}_k{k_from}")
    claim = f"3 · {FORMS[form]}, {k_to} tasks held against {k_from}"
    threshold = f"{'≥' if grows else '≤'} {NOTICEABLE:.2f}×"
    key = f"growth_{form}"
    if a is None or b is None:
        return CostVerdict(key, claim, threshold, None, "×", "not timed", UNRESOLVED)
    e = ratio(a, b, NOTICEABLE)
    if grows:
        v = verdict(e.p_above, e.p_below, ratio(a, b, 1.0).p_above)
    else:
        v = verdict(e.p_below, e.p_above, 1.0)
    return CostVerdict(key, claim, threshold, e, "×", _bench_evidence(penalty), v)


def judge(penalty: dict, fisher: dict, runs: dict[int, dict], report_config) -> dict[str, CostVerdict]:
    """Every row of the verdict table, by key, in the chapter's order: claim 1 for the per-task sum holding 1 and 5
    tasks and the online form holding 5, claim 2 in the runs and at ``report_config``'s protocol, claim 3 for both
    forms (the per-task sum from 1 to 5 tasks, the online form from 1 to the most the bench held)."""
    most = max(penalty["ks"])
    rows = [
        not_slower(penalty, "all", 1),
        not_slower(penalty, "all", 5),
        not_slower(penalty, "online", 5),
        fisher_in_runs(runs),
        fisher_at_protocol(fisher, report_config),
        growth(penalty, "all", 1, 5),
        growth(penalty, "online", 1, most),
    ]
    return {row.key: row for row in rows}


# ---------------------------------------------------------------------------------------------------------------
# What the chapter shows


def network(b: dict) -> str:
    """'CNN' or 'MLP 64-64' from a bench's ``arch`` ('cnn' or 'mlp [64, 64]')."""
    return "CNN" if b["arch"] == "cnn" else "MLP " + "-".join(re.findall(r"\d+", b["arch"]))


def machine(b: dict) -> str:
    """'Intel(R) Xeon(R) Processor @ 2.80GHz, 2 cores' from a bench's record (with XLA_FLAGS when set)."""
    m = b.get("machine") or {}
    flags = f", XLA_FLAGS={m['xla_flags']}" if m.get("xla_flags") else ""
    return f"{m.get('cpu_model', 'an unrecorded CPU')}, {b['cpu_count']} cores{flags}"


def verdict_table(verdicts: dict[str, CostVerdict], bench: dict):
    """The verdicts as a Markdown table, with the machine the benches ran on (one run each)."""
    rows = [[v.claim, v.threshold, v.measured(), v.evidence, f"*{v.verdict}*"] for v in verdicts.values()]
    header = ["claim · what is compared", "threshold", "measured (95 % interval)", "from", "verdict"]
    table = markdown_table(header, rows, align="lcrcl")
    note = (
        f"\n\n*Benches: one run each, on {machine(bench)}; the {network(bench)} at batch {bench['batch_size']}. "
        "Runs: the Fisher's share per seed.*"
    )
    return markdown(table + note)


def reading(verdicts: dict[str, CostVerdict], held: int):
    """The reading of the verdict table: one sentence per claim, citing its numbers and verdicts (``held``: the most
    tasks the online form held in the bench)."""
    v = verdicts

    def value(key: str) -> str:
        return v[key].measured().split(" (")[0]

    def judged(key: str) -> str:
        return f"(*{v[key].verdict}*)"

    text = (
        f"**Reading.** (1) With the report's per-task sum a training step takes {value('slower_all_k1')} as long as "
        f"without a penalty while the sum holds one task {judged('slower_all_k1')} and {value('slower_all_k5')} "
        f"while it holds five {judged('slower_all_k5')}; with the online form holding five, "
        f"{value('slower_online_k5')} {judged('slower_online_k5')}. "
        f"(2) A Fisher takes {value('fisher_runs')} of its task's training time in this book's runs "
        f"{judged('fisher_runs')} and {value('fisher_report')} at the report's protocol {judged('fisher_report')}. "
        f"(3) Holding five tasks instead of one multiplies the per-task sum's step by {value('growth_all')} "
        f"{judged('growth_all')}; holding {held} instead of one multiplies the online form's by "
        f"{value('growth_online')} {judged('growth_online')}."
    )
    return markdown(text)


def from_nothing(record: dict | None):
    """One sentence on the last from-nothing rerun of the book (``results/<profile>/rerun-check.json``): its wall
    time, processor, threads, date and peak memory; and a sentence per other suite the check retrained (its training
    is not in the book's time)."""
    if record is None:
        return markdown("No rerun of the book from nothing has been recorded at this profile.")
    flags = f", XLA limited by `{record['xla_flags']}`" if record.get("xla_flags") else ""
    others = "".join(
        f" The check also retrained the `{name}` suite ({seconds / 60:.0f} min), which the book never trains."
        for name, seconds in record.get("other_suites_training_s", {}).items()
    )
    return markdown(
        f"Made from nothing (its {record.get('book_runs', record['runs_compared'])} runs trained, the benches "
        f"measured, every chapter executed and the HTML built), the book last took {record['wall_s'] / 60:.0f} min on "
        f"an {record['processor']} ({record['jobs']} runs side by side{flags}), finishing {record['finished']}; all "
        f"its processes together held at most {record['peak_rss_all_processes_mib'] / 1024:.1f} GiB." + others
    )


def penalty_figure(penalty: dict):
    """Milliseconds per training step against the number of tasks the penalty holds: every round as a dot, the
    median as a line, for both forms, and the no-penalty median as a dashed line (Figure)."""
    import matplotlib.pyplot as plt

    per_step = 1000 / penalty["steps_per_round"]
    fig, ax = plt.subplots(figsize=(7.2, 3.8), layout="constrained")
    none = [per_step * s for s in penalty["round_seconds"]["none"]]
    ax.axhline(float(np.median(none)), color="0.4", linestyle="--", linewidth=1.2, label="no penalty (median)")
    for (form, label), marker, shift in zip(FORMS.items(), "os", (-0.15, 0.15), strict=True):
        ks = [k for k in penalty["ks"] if f"{form}_k{k}" in penalty["round_seconds"]]
        rounds = [[per_step * s for s in penalty["round_seconds"][f"{form}_k{k}"]] for k in ks]
        (line,) = ax.plot(ks, [float(np.median(r)) for r in rounds], marker=marker, label=f"{label} (median)")
        for k, r in zip(ks, rounds, strict=True):
            ax.plot([k + shift] * len(r), r, ".", color=line.get_color(), alpha=0.4, markersize=5)
    ax.set_xscale("log")
    ax.set_xticks(penalty["ks"], [str(k) for k in penalty["ks"]])
    ax.minorticks_off()
    ax.set(
        xlabel="tasks held by the penalty (K); dots: the bench's rounds",
        ylabel="ms per training step",
        ylim=(0, None),
        title=f"Training step against tasks held ({network(penalty)}, batch {penalty['batch_size']})",
    )
    ax.legend(loc="lower right", fontsize=9)
    return fig
