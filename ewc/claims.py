"""The book's claims as data, each judged over seeds with ``ewc.stats``.

A claim compares one number of a set of runs (``a``) with the same or another number of another set (``b``, paired by
seed) or with a constant, in a claimed direction. Runs are given as ``{label: {seed: results dict}}``; labels are
modes (``none``, ``ewc-all``, ...) or any name a chapter chooses. Numbers are in percentage points.

The verdict lines (``verdict_lines``) name the claim and its verdict only, so they are the same on every machine
whose runs land on the same side of the interval; the numbers behind them are in ``claims_table``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

from ewc import stats
from ewc.tables import _md, markdown_table

Runs = dict[str, dict[int, dict]]
NO_DIFFERENCE = stats.NO_DIFFERENCE
Metric = Callable[[dict], float]


# ---------------------------------------------------------------------------------------------------------------
# Numbers of one run, in percentage points


def acc(result: dict) -> float:
    """ACC: mean final accuracy over all tasks."""
    return 100 * result["metrics"]["acc"]


def just_learned(result: dict) -> float:
    """Mean accuracy on each task right after learning it."""
    return 100 * result["metrics"]["just_trained"]


def final(task: int) -> Metric:
    """Final accuracy on ``task`` (1-based, as the book counts)."""

    def metric(result: dict) -> float:
        return 100 * result["metrics"]["final"][task - 1]

    metric.__name__ = f"final accuracy on task {task}"
    return metric


def loss_after_next(task: int = 1) -> Metric:
    """Points ``task`` loses while the next task is learned: R[k][k] - R[k+1][k] (1-based ``task``)."""

    def metric(result: dict) -> float:
        r = result["task_matrix"]
        return 100 * (r[task - 1][task - 1] - r[task][task - 1])

    return metric


def loss_by_end(task: int = 1) -> Metric:
    """Points ``task`` loses between learning it and the end of the run."""

    def metric(result: dict) -> float:
        r = result["task_matrix"]
        return 100 * (r[task - 1][task - 1] - r[-1][task - 1])

    return metric


def first_task_fading(result: dict) -> float:
    """How much more task 1 has lost by the end than one task after it was learned (points)."""
    return loss_by_end(1)(result) - loss_after_next(1)(result)


# ---------------------------------------------------------------------------------------------------------------
# Claims


HOLDS = "holds at the report's size"  # a report finding at the size the report states
HOLDS_BOOK = "holds"  # a comparison of this book's own: there is no report size to meet
SMALLER = "same direction, smaller than the report"
UNRESOLVED = "not resolved"
CONTRADICTED = stats.CONTRADICTED
ONE_RUN = " (one run)"  # a single seed, judged as the report judged its runs: by the value itself


def equivalent(margin: float) -> str:
    """The verdict of an equality shown to hold within ``margin`` points (two one-sided tests)."""
    return f"equivalent within ±{margin:g}"


@dataclass(frozen=True)
class Claim:
    """``a`` minus ``b`` (``b`` a constant, or None for zero) is claimed to be large in ``direction`` (+1: above,
    -1: below): the *effect* direction x (a - b), per seed, is claimed to reach ``size`` (points), the size the source
    states, where ``null`` is the value that means no effect at all (0 for a difference; chance, 10 %, for an
    accuracy level). Direction 0 claims an equality: the effect lies within ``margin`` of zero.

    Attributes:
        text: the claim as the book states it.
        a, b: (label, metric) of each side; ``b`` may be a constant (points) or None (zero).
        direction: +1, -1 or 0.
        size, null: in effect units (points, the claimed direction positive): see above.
        margin: the equivalence margin of an equality (points); None: no equivalence can be shown.
        primary: one of the report's primary findings, judged together (Holm); else exploratory.
        experiment: the experiment the claim belongs to ("Exp. 1", "Exp. 2", "Exp. 3", "Ranking", "book").
        report: the report's value (points, or % for a level) and where it was read: "31 (Figs 3–5)".
        floor: an optional bar on the mean of a - b (points) that a calibrated profile must clear.
        source: "report" for the report's findings, "book" for comparisons this book adds.
    """

    text: str
    a: tuple[str, Metric]
    b: tuple[str, Metric] | float | None = None
    direction: int = 1
    floor: float | None = None
    source: str = "report"
    size: float = 0.0
    null: float = 0.0
    margin: float | None = None
    primary: bool = False
    experiment: str = ""
    report: str = ""
    label: str = ""  # a short form for narrow tables; the text when empty

    @property
    def short(self) -> str:
        """The claim's short form for narrow tables (its text when it has none)."""
        return self.label or self.text

    def __post_init__(self) -> None:
        if self.direction not in (-1, 0, 1):
            raise ValueError(f"direction must be -1, 0 or 1, got {self.direction}")
        if self.direction and self.size < self.null:
            raise ValueError(f"a claim's size ({self.size}) cannot be below its null ({self.null})")


@dataclass(frozen=True)
class Judgement:
    """A claim judged on runs: ``comparison`` summarizes a - b over ``seeds`` (None: the runs it needs are missing);
    ``effects`` are the per-seed effects (direction x (a - b); a - b for an equality), in the order of ``seeds``;
    ``adjusted`` holds Holm-adjusted p-values (``tests``) when the claim was judged in its primary family."""

    claim: Claim
    comparison: stats.Comparison | None
    seeds: tuple[int, ...]
    effects: tuple[float, ...] = ()
    adjusted: tuple[float, ...] | None = None

    @functools.cached_property
    def tests(self) -> tuple[float, ...] | None:
        """Unadjusted one-sided p-values (None for fewer than two seeds). Direction +-1: that the effect is above
        ``size`` (holds), below ``size`` (smaller), above ``null`` (a true effect). Equality: that it is inside the
        margin (the larger of the two one-sided tests, TOST), and that it is outside it."""
        if len(self.effects) < 2:
            return None
        c = self.claim
        if c.direction:
            return (
                stats.p_above(self.effects, c.size),
                stats.p_below(self.effects, c.size),
                stats.p_above(self.effects, c.null),
            )
        if c.margin is None:
            return (1.0, min(1.0, 2 * min(stats.p_above(self.effects, 0.0), stats.p_below(self.effects, 0.0))))
        inside = max(stats.p_above(self.effects, -c.margin), stats.p_below(self.effects, c.margin))
        outside = min(1.0, 2 * min(stats.p_above(self.effects, c.margin), stats.p_below(self.effects, -c.margin)))
        return inside, outside

    @property
    def verdict(self) -> str:
        if self.comparison is None:
            return "no runs"
        c = self.claim
        holds = HOLDS if c.source == "report" else HOLDS_BOOK
        if len(self.effects) == 1:
            v = self.effects[0]
            if not c.direction:
                return UNRESOLVED + ONE_RUN
            return (holds if v >= c.size else SMALLER if v > c.null else CONTRADICTED) + ONE_RUN
        p = self.adjusted if self.adjusted is not None else self.tests
        if not c.direction:
            return equivalent(c.margin) if p[0] < stats.ALPHA else CONTRADICTED if p[1] < stats.ALPHA else UNRESOLVED
        if p[0] < stats.ALPHA:
            return holds
        if p[1] < stats.ALPHA:
            return SMALLER if p[2] < stats.ALPHA else CONTRADICTED
        return UNRESOLVED

    @property
    def shortfall(self) -> float | None:
        """How far the mean effect falls short of the claim's size (points; None without runs or for an equality)."""
        if self.comparison is None or not self.claim.direction:
            return None
        return self.claim.size - sum(self.effects) / len(self.effects)

    @property
    def floor_met(self) -> bool | None:
        if self.claim.floor is None or self.comparison is None:
            return None
        return self.comparison.diff.mean * self.claim.direction >= self.claim.floor and self.verdict in (
            HOLDS,
            HOLDS_BOOK,
            SMALLER,
        )


def judge(claim: Claim, runs: Runs) -> Judgement:
    """Judge ``claim`` alone (unadjusted) on the seeds every side has (paired by seed)."""
    label_a, metric_a = claim.a
    sides = [label_a] + ([claim.b[0]] if isinstance(claim.b, tuple) else [])
    if any(label not in runs or not runs[label] for label in sides):
        return Judgement(claim, None, ())
    seeds = tuple(sorted(set.intersection(*(set(runs[label]) for label in sides))))
    if not seeds:
        return Judgement(claim, None, ())
    a = [metric_a(runs[label_a][s]) for s in seeds]
    if isinstance(claim.b, tuple):
        label_b, metric_b = claim.b
        b = [metric_b(runs[label_b][s]) for s in seeds]
    else:
        b = [float(claim.b or 0.0)] * len(seeds)
    sign = claim.direction or 1
    effects = tuple(sign * (x - y) for x, y in zip(a, b))
    return Judgement(claim, stats.paired(a, b, claim.direction), seeds, effects)


def adjust(judgements: list[Judgement]) -> list[Judgement]:
    """The judgements with the primary ones (two seeds or more) Holm-adjusted together, test by test: each of a
    claim's one-sided tests is adjusted within the family of the same test over the primary claims."""
    family = [i for i, j in enumerate(judgements) if j.claim.primary and j.tests is not None]
    if not family:
        return list(judgements)
    width = max(len(judgements[i].tests) for i in family)
    columns = [
        stats.holm([judgements[i].tests[k] if k < len(judgements[i].tests) else 1.0 for i in family])
        for k in range(width)
    ]
    out = list(judgements)
    for row, i in enumerate(family):
        n = len(judgements[i].tests)
        out[i] = dataclasses.replace(judgements[i], adjusted=tuple(columns[k][row] for k in range(n)))
    return out


def judge_all(claims: list[Claim], runs: Runs) -> list[Judgement]:
    """Judge every claim on ``runs``; the primary ones among them are Holm-adjusted as one family (``adjust``)."""
    return adjust([judge(c, runs) for c in claims])


def of_experiment(judgements: list[Judgement], *experiments: str) -> list[Judgement]:
    """The judgements of claims in ``experiments`` ("Exp. 1", ...), judged with the whole list (so a primary claim
    carries the same Holm adjustment on every page that shows it)."""
    return [j for j in judgements if j.claim.experiment in experiments]


def verdict_lines(judgements: list[Judgement]) -> list[str]:
    """'<claim>: <verdict>' per claim: stable under reruns unless a verdict really changes."""
    return [f"{j.claim.text}: {j.verdict}" for j in judgements]


def _signed(x: float) -> str:
    return f"{x:+.1f}".replace("-", "−")


def size_text(claim: Claim) -> str:
    """The effect the claim needs, in the table's words: '≥ 20', '≤ −5', '±2' (an equality), '> 0' (no size)."""
    if not claim.direction:
        return "—" if claim.margin is None else f"±{claim.margin:g}"
    if claim.size == claim.null == 0:
        return "> 0" if claim.direction > 0 else "< 0"
    return f"{'≥' if claim.direction > 0 else '≤'} {claim.direction * claim.size + 0.0:g}".replace("-", "−")


def findings_table(claims: list[Claim]):
    """The claims as fixed before any run was judged: family, the report's value and the size each needs (Markdown)."""
    rows = [[c.text, "primary" if c.primary else "exploratory", c.report or "—", size_text(c)] for c in claims]
    return _md(markdown_table(["claim", "family", "the report", "needs (points)"], rows, "lllr"))


def claims_table(judgements: list[Judgement]):
    """Claim (primary or exploratory), the size it needs, the mean effect (a - b, points) with its 95 % interval
    (paired by seed), and the verdict (Markdown)."""
    rows = []
    for j in judgements:
        kind = "primary" if j.claim.primary else "exploratory"
        c = j.comparison
        if c is None:
            rows.append([j.claim.short, kind, size_text(j.claim), "—", "—", j.verdict])
            continue
        d = c.diff
        interval = "—" if d.n < 2 else f"[{_signed(d.low)}, {_signed(d.high)}]"
        rows.append([j.claim.short, kind, size_text(j.claim), _signed(d.mean), interval, f"**{j.verdict}**"])
    header = ["claim", "family", "needs", "mean (points)", "95 % interval", "verdict"]
    return _md(markdown_table(header, rows, "llrrrl"))


def floors_summary(judgements: list[Judgement]) -> str:
    """'k of n floors met; not met: <claims>' over the judgements that carry a floor and have runs."""
    floored = [j for j in judgements if j.claim.floor is not None and j.comparison is not None]
    missed = [j.claim.text for j in floored if not j.floor_met]
    text = f"{len(floored) - len(missed)} of {len(floored)} floors met"
    return text + (f"; not met: {'; '.join(missed)}" if missed else "")


def candidates_table(judged: dict[str, list[Judgement]], mark: str = "floor"):
    """One row per claim, one column per candidate (``{candidate: judgements of the same claims}``): the mean
    difference, its 95 % interval and ``mark``: "floor", for a claim with a floor, whether it is met; "verdict",
    the verdict and the seeds it rests on (Markdown)."""
    if mark not in ("floor", "verdict"):
        raise ValueError(f"mark must be 'floor' or 'verdict', got {mark!r}")
    names = list(judged)
    rows = []
    for i, first in enumerate(judged[names[0]]):
        row = [first.claim.short]
        for name in names:
            j = judged[name][i]
            c = j.comparison
            if c is None:
                row.append(j.verdict)
                continue
            d = c.diff
            cell = _signed(d.mean) + ("" if d.n < 2 else f" [{_signed(d.low)}, {_signed(d.high)}]")
            if mark == "floor" and j.claim.floor is not None:
                cell += f" **{'met' if j.floor_met else 'not met'}**"
            if mark == "verdict":
                cell = f"**{j.verdict}**: {cell}, {len(j.seeds)} seed{'s' if len(j.seeds) != 1 else ''}"
            row.append(cell)
        rows.append(row)
    return _md(markdown_table(["claim (points)", *names], rows, "l" + "r" * len(names)))


# ---------------------------------------------------------------------------------------------------------------
# The book's claims


#: The report's values behind the primary claims' sizes, read off its Figures 3-5 (digitized in
#: ``results/report-figures/figures.json``, ``ewc.report_figures``) at the end of the last task (epoch 150).
#: A test checks these against the digitized figures.
REPORT_ACC = {"none": 65.4, "ewc-all": 96.7, "ewc-previous": 89.5}
REPORT_TASK1_FINAL = {"ewc-all": 94.9, "ewc-previous": 79.3}  # Figs 4 and 5, task 1 at epoch 150


def lowest_final(result: dict) -> float:
    """The lowest final accuracy over all tasks (points): every task ends at least this high."""
    return 100 * min(result["metrics"]["final"])


def report_findings(tasks: int) -> list[Claim]:
    """The report's findings as claims about runs labelled by mode, each at the size the report states.

    Primary (judged together, Holm), with the size each needs and why:
    * Exp. 1 (Fig. 3: task 1 "drops from almost 100 % to a mere 60 %"): task 1 loses >= 20 points over task 2, half
      the report's 40 -- a loss of 20 points is still the catastrophe the report describes, one of 5 is not.
    * Exp. 2 (Fig. 4: "performance is high on all tasks"; its lowest task ends at about 95 %): every task ends at
      >= 90 % under EWC on every task, the lowest of the five judged, so all five hold jointly.
    * Exp. 2, Exp. 3 and the Discussion's ranking ("clearly offers the best", "far better than ... without any EWC"):
      the ACC differences between the three experiments, each >= half the difference of the report's figures.
    * Exp. 3 (Fig. 5: a task "degrades significantly"): task 1 ends lower with EWC on the previous task only than
      with EWC on every task, by at least half the difference of the report's figures.
    Exploratory: task 2 ending above task 4 (the report's "for example" from one run), and task 1 still fading under
    EWC on the previous task once it leaves the penalty."""
    none, all_, prev = (REPORT_ACC[m] for m in ("none", "ewc-all", "ewc-previous"))
    claims = [
        Claim(
            "Exp. 1: without a penalty, task 1 loses ≥ 20 points while task 2 is learned",
            ("none", loss_after_next(1)),
            size=20.0,
            primary=True,
            experiment="Exp. 1",
            label="Exp. 1: task 1 loses ≥ 20 points over task 2",
            report="40 in its words, 32 on its curve (Fig. 3)",
        ),
        Claim(
            "Exp. 2: with EWC on every task, every task ends at ≥ 90 %",
            ("ewc-all", lowest_final),
            size=90.0,
            null=10.0,
            primary=True,
            experiment="Exp. 2",
            label="Exp. 2: with EWC, every task ends ≥ 90 %",
            report="lowest task 94.9 % (Fig. 4)",
        ),
        _acc_claim("Exp. 2: EWC on every task ends with an ACC", "ewc-all", "none", all_ - none, "Exp. 2"),
        _task1_claim(REPORT_TASK1_FINAL["ewc-all"] - REPORT_TASK1_FINAL["ewc-previous"]),
        _acc_claim("Ranking: EWC on every task ends with an ACC", "ewc-all", "ewc-previous", all_ - prev, "Ranking"),
        _acc_claim(
            "Ranking: EWC on the previous task ends with an ACC", "ewc-previous", "none", prev - none, "Ranking"
        ),
    ]
    if tasks >= 4:
        claims.append(
            Claim(
                "Exp. 2: under EWC on every task, task 2 ends above task 4",
                ("ewc-all", final(2)),
                ("ewc-all", final(4)),
                experiment="Exp. 2",
                label="Exp. 2: with EWC, task 2 ends above task 4",
                report="1.3 (Fig. 4)",
            )
        )
    claims.append(
        Claim(
            "Exp. 3: under EWC on the previous task, task 1 keeps losing after it leaves the penalty",
            ("ewc-previous", first_task_fading),
            experiment="Exp. 3",
            label="Exp. 3: task 1 keeps fading after it leaves the penalty",
            report="18.6 (Fig. 5)",
        )
    )
    return claims


def _task1_claim(report_difference: float) -> Claim:
    """Exp. 3's primary claim: task 1 ends lower with EWC on the previous task only, by half the report's difference
    (to the point below)."""
    size = float(int(report_difference / 2))
    return Claim(
        f"Exp. 3: with EWC on the previous task only, task 1 ends ≥ {size:g} points below EWC on every task",
        ("ewc-previous", final(1)),
        ("ewc-all", final(1)),
        direction=-1,
        size=size,
        primary=True,
        experiment="Exp. 3",
        label=f"Exp. 3: task 1 ends ≥ {size:g} below EWC on every task",
        report=f"{report_difference:.0f} (Figs 4–5)",
    )


def _acc_claim(text: str, a: str, b: str, report_difference: float, experiment: str) -> Claim:
    """'<text> ≥ s points above <b>': a primary ACC difference whose size s is half the report's, to the point below."""
    size = float(int(report_difference / 2))
    names = {"none": "no penalty", "ewc-all": "EWC on every task", "ewc-previous": "EWC on the previous task"}
    short = {"none": "no penalty", "ewc-all": "EWC on all", "ewc-previous": "EWC on the previous"}
    return Claim(
        f"{text} ≥ {size:g} points above {names[b]}",
        (a, acc),
        (b, acc),
        size=size,
        primary=True,
        experiment=experiment,
        label=f"{experiment}: ACC of {short[a]} ≥ {size:g} above {short[b]}",
        report=f"{report_difference:.0f} (Figs 3–5)",
    )


def calibration_floors(tasks: int) -> list[Claim]:
    """The claims whose floors the ``quick`` profile was calibrated against (the Experiments chapter), as they were
    stated then: the direction of each finding, with a bar on its mean. Kept unchanged, so the calibration's record
    reads as it was made; the book's verdicts come from ``report_findings``."""
    claims = [
        Claim(
            "Exp. 1: without a penalty, task 1 loses accuracy while task 2 is learned",
            ("none", loss_after_next(1)),
            floor=20.0,
        ),
        Claim(
            "Exp. 2: EWC on every task ends with a higher ACC than no penalty",
            ("ewc-all", acc),
            ("none", acc),
            floor=15.0,
        ),
    ]
    claims += [
        Claim(f"Exp. 2: under EWC on every task, task {k} ends above 80 %", ("ewc-all", final(k)), 80.0, floor=0.0)
        for k in range(1, tasks + 1)
    ]
    if tasks >= 4:
        claims.append(
            Claim(
                "Exp. 2: under EWC on every task, task 2 ends above task 4",
                ("ewc-all", final(2)),
                ("ewc-all", final(4)),
            )
        )
    claims += [
        Claim(
            "Exp. 3: task 1 ends lower with EWC on the previous task only than with EWC on every task",
            ("ewc-previous", final(1)),
            ("ewc-all", final(1)),
            direction=-1,
            floor=0.0,
        ),
        Claim(
            "Exp. 3: under EWC on the previous task, task 1 keeps losing after it leaves the penalty",
            ("ewc-previous", first_task_fading),
        ),
        Claim(
            "Ranking: EWC on every task ends with a higher ACC than EWC on the previous task",
            ("ewc-all", acc),
            ("ewc-previous", acc),
            floor=0.0,
        ),
        Claim(
            "Ranking: EWC on the previous task ends with a higher ACC than no penalty",
            ("ewc-previous", acc),
            ("none", acc),
            floor=0.0,
        ),
    ]
    return claims


def on_network(claims: list[Claim], network: str) -> list[Claim]:
    """``claims`` repeated on another network (e.g. "MLP"): exploratory (the report ran only its CNN), named so that
    a verdict line says which network it is about."""
    return [
        dataclasses.replace(c, text=f"{network}: {c.text}", label=c.label and f"{network}: {c.label}", primary=False)
        for c in claims
    ]


def book_comparisons() -> list[Claim]:
    """Comparisons this book adds (the L2 pull), as exploratory claims about runs labelled by mode. Online EWC with
    gamma 1 is not among them: its penalty has the same gradient as EWC on every task's, so the two are compared step
    by step (``ewc.penalty``'s tests, and identical stored trajectories), not by a statistic over seeds."""
    return [
        Claim(
            "EWC on every task ends with a higher ACC than the L2 pull",
            ("ewc-all", acc),
            ("l2", acc),
            source="book",
            experiment="book",
        ),
        Claim(
            "the L2 pull learns new tasks less well than EWC on every task (lower 'just learned')",
            ("l2", just_learned),
            ("ewc-all", just_learned),
            direction=-1,
            source="book",
            experiment="book",
        ),
    ]


def compare_groups(
    text: str, a: dict[int, dict], b: dict[int, dict], metric: Metric, noise_sd: float, direction: int = 1
) -> str:
    """'<text>: <verdict> (<how>)' for ``metric`` of runs ``a`` minus ``b`` (``{seed: result}``): paired over their
    common seeds when they share at least three, otherwise the difference of their means judged against ``noise_sd``,
    the seed spread of one run's ``metric`` measured in the main experiments (``stats.against_noise``)."""
    common = sorted(set(a) & set(b))
    if len(common) >= 3:
        c = stats.paired([metric(a[s]) for s in common], [metric(b[s]) for s in common], direction)
        return f"{text}: {c.verdict} (paired over {len(common)} seeds)"
    mean_a = sum(metric(r) for r in a.values()) / len(a)
    mean_b = sum(metric(r) for r in b.values()) / len(b)
    verdict = stats.against_noise(mean_a - mean_b, noise_sd, direction)
    return f"{text}: {verdict} ({len(a)} and {len(b)} seed(s), against the main experiments' seed spread)"
