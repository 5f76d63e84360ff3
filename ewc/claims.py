"""Claims as data, each judged over seeds at the size its source states (``ewc.stats``'s one-sided tests, Holm's
correction over the primary family); the report's findings themselves are stated in ``ewc.findings``.

A claim compares one number of a set of runs (``a``) with the same or another number of another set (``b``, paired by
seed) or with a constant, in a claimed direction. Runs are given as ``{label: {seed: results dict}}``; labels are
modes (``none``, ``ewc-all``, ...) or any name a chapter chooses. Numbers are in percentage points.

The verdict lines (``verdict_lines``) name the claim and its verdict only, so they are the same on every machine
whose runs land on the same side of the size; the numbers behind them are in ``claims_table``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from dataclasses import dataclass

from ewc import stats
from ewc.markdown import markdown, markdown_table, signed

Runs = dict[str, dict[int, dict]]
NO_DIFFERENCE = stats.NO_DIFFERENCE
Metric = Callable[[dict], float]


# ---------------------------------------------------------------------------------------------------------------
# Numbers of one run, in percentage points


def seed_mean(runs: dict[int, dict], metric: Metric) -> float:
    """``metric``'s mean over the runs of one group (``{seed: results dict}``)."""
    return stats.summarize([metric(r) for r in runs.values()]).mean


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


def lowest_final(result: dict) -> float:
    """The lowest final accuracy over all tasks (points): every task ends at least this high."""
    return 100 * min(result["metrics"]["final"])


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
        level: the effect is an accuracy level (%, e.g. the lowest final accuracy, whose null is chance), not a
            difference in points.
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
    level: bool = False

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
    return markdown(markdown_table(["claim", "family", "the report", "needs (points)"], rows, "lllr"))


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
        show = (lambda x: f"{x:.1f} %") if j.claim.level else signed  # a level is an accuracy, not a difference
        interval = "—" if d.n < 2 else f"[{show(d.low)}, {show(d.high)}]"
        if j.claim.level and d.n >= 2 and (d.low < 0 or d.high > 100):  # an accuracy's interval past 0-100 %
            interval = "seeds: " + ", ".join(f"{v:.1f}" for v in j.effects)
        rows.append([j.claim.short, kind, size_text(j.claim), show(d.mean), interval, f"**{j.verdict}**"])
    header = ["claim", "family", "needs", "mean (points or %)", "95 % interval", "verdict"]
    return markdown(markdown_table(header, rows, "llrrrl"))


def floors_summary(judgements: list[Judgement]) -> str:
    """'k of n floors met; not met: <claims>' over the judgements that carry a floor and have runs."""
    floored = [j for j in judgements if j.claim.floor is not None and j.comparison is not None]
    missed = [j.claim.text for j in floored if not j.floor_met]
    text = f"{len(floored) - len(missed)} of {len(floored)} floors met"
    return text + (f"; not met: {'; '.join(missed)}" if missed else "")


def floors_table(judged: dict[str, list[Judgement]], chosen: str | None = None):
    """One row per candidate (``{candidate: judgements of the same floors}``): the seeds it was judged on and how
    many of the floors it could be judged on it meets; the ``chosen`` one in bold, followed by the floors it misses
    (Markdown)."""
    rows = []
    for name, judgements in judged.items():
        floored = [j for j in judgements if j.claim.floor is not None and j.comparison is not None]
        seeds = sorted({s for j in floored for s in j.seeds})
        met = sum(bool(j.floor_met) for j in floored)
        label = f"**{name} (chosen)**" if name == chosen else name
        span = "—" if not seeds else f"{seeds[0]}–{seeds[-1]}" if len(seeds) > 2 else ", ".join(map(str, seeds))
        rows.append([label, span, f"{met} of {len(floored)}" if floored else "no runs"])
    text = markdown_table(["candidate (images × passes, λ)", "seeds", "floors met"], rows, "lrr")
    floored = [j for j in judged.get(chosen, []) if j.claim.floor is not None and j.comparison is not None]
    if floored:
        missed = [j.claim.text for j in floored if not j.floor_met]
        text += "\n\nThe chosen candidate " + (f"misses: {'; '.join(missed)}." if missed else "meets every floor.")
    return markdown(text)


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
            cell = signed(d.mean) + ("" if d.n < 2 else f" [{signed(d.low)}, {signed(d.high)}]")
            if mark == "floor" and j.claim.floor is not None:
                cell += f" **{'met' if j.floor_met else 'not met'}**"
            if mark == "verdict":
                cell = f"**{j.verdict}**: {cell}, {len(j.seeds)} seed{'s' if len(j.seeds) != 1 else ''}"
            row.append(cell)
        rows.append(row)
    return markdown(markdown_table(["claim (points)", *names], rows, "l" + "r" * len(names)))


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
