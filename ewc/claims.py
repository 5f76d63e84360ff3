"""The book's claims as data, each judged over seeds with ``ewc.stats``.

A claim compares one number of a set of runs (``a``) with the same or another number of another set (``b``, paired by
seed) or with a constant, in a claimed direction. Runs are given as ``{label: {seed: results dict}}``; labels are
modes (``none``, ``ewc-all``, ...) or any name a chapter chooses. Numbers are in percentage points.

The verdict lines (``verdict_lines``) name the claim and its verdict only, so they are the same on every machine
whose runs land on the same side of the interval; the numbers behind them are in ``claims_table``.
"""

from __future__ import annotations

import math
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


@dataclass(frozen=True)
class Claim:
    """``a`` minus ``b`` is claimed to be above zero (``direction`` +1), below it (-1), or zero (0: an equality,
    which can only be contradicted, by an interval that excludes zero, or left standing as "no difference resolved").

    Attributes:
        text: the claim as the book states it.
        a, b: (label, metric) of each side; ``b`` may be a constant (points) or None (zero).
        direction: +1, -1 or 0.
        floor: an optional bar on the mean of a - b (points) that a calibrated profile must clear.
        source: "report" for the report's findings, "book" for comparisons this book adds.
    """

    text: str
    a: tuple[str, Metric]
    b: tuple[str, Metric] | float | None = None
    direction: int = 1
    floor: float | None = None
    source: str = "report"


@dataclass(frozen=True)
class Judgement:
    claim: Claim
    comparison: stats.Comparison | None  # None: the runs it needs are missing
    seeds: tuple[int, ...]

    @property
    def verdict(self) -> str:
        if self.comparison is None:
            return "no runs"
        return self.comparison.verdict

    @property
    def rerun_keeps(self) -> float | None:
        """The chance that a rerun over as many new seeds gives this verdict again (``stats.rerun_keeps_verdict``);
        None without runs."""
        if self.comparison is None:
            return None
        return stats.rerun_keeps_verdict(self.comparison.diff, self.claim.direction)

    @property
    def floor_met(self) -> bool | None:
        if self.claim.floor is None or self.comparison is None:
            return None
        return self.comparison.diff.mean * self.claim.direction >= self.claim.floor and self.verdict == stats.REPRODUCED


def judge(claim: Claim, runs: Runs) -> Judgement:
    """Judge ``claim`` on the seeds every side has (paired by seed)."""
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
    return Judgement(claim, stats.paired(a, b, claim.direction), seeds)


def judge_all(claims: list[Claim], runs: Runs) -> list[Judgement]:
    return [judge(c, runs) for c in claims]


def verdict_lines(judgements: list[Judgement]) -> list[str]:
    """'<claim>: <verdict>' per claim: stable under reruns unless a verdict really changes."""
    return [f"{j.claim.text}: {j.verdict}" for j in judgements]


def _signed(x: float) -> str:
    return f"{x:+.1f}".replace("-", "−")


def claims_table(judgements: list[Judgement]):
    """Claim, mean difference, its 95 % interval (paired by seed), seeds agreeing, floor, verdict, and the chance
    that a rerun over as many new seeds gives the same verdict (Markdown)."""
    rows = []
    for j in judgements:
        c = j.comparison
        if c is None:
            rows.append([j.claim.text, "—", "—", "—", "—", j.verdict, "—"])
            continue
        d = c.diff
        interval = "—" if d.n < 2 else f"{_signed(d.low)} to {_signed(d.high)}"
        bar = j.claim.direction * j.claim.floor + 0.0 if j.claim.floor is not None else None  # no "-0"
        floor = (
            ""
            if bar is None
            else f"{'≥' if j.claim.direction > 0 else '≤'} {bar:g}: {'met' if j.floor_met else 'not met'}"
        )
        agree = "—" if j.claim.direction == 0 else f"{c.agree}/{c.of}"
        rows.append([j.claim.text, _signed(d.mean), interval, agree, floor, f"**{j.verdict}**", _percent(j)])
    header = [
        "claim",
        "mean difference (points)",
        "95 % interval",
        "seeds agreeing",
        "floor",
        "verdict",
        "a rerun keeps it",
    ]
    return _md(markdown_table(header, rows, "lrrrllr"))


def _percent(j: Judgement) -> str:
    return f"{100 * j.rerun_keeps:.0f} %"


def _fragile(j: Judgement) -> str:
    """'52 % kept; about 19 seeds would settle it 9 times in 10' (no seed count for an equality: no number of seeds
    shows one)."""
    n = None if j.claim.direction == 0 else stats.seeds_to_resolve(j.comparison.diff)
    return f"{_percent(j)} kept" + (f"; about {n} seeds would settle it 9 times in 10" if n else "")


def rerun_expectation(judgements: list[Judgement], report: dict | None) -> str:
    """How many of these verdicts a rerun over as many new seeds should change (the sum of each claim's chance of
    changing, ``Judgement.rerun_keeps``, and the central 90 % range of that count, ``stats.count_range``); for the
    least stable, how many seeds would resolve them if their mean difference is the true one
    (``stats.seeds_to_resolve``); and, given a rerun check's report (``ewc.rerun``), which of them the last rerun
    changed, and whether that count lies in the range (Markdown)."""
    judged = [j for j in judgements if j.comparison is not None]
    expected = sum(1 - j.rerun_keeps for j in judged)
    low, high = stats.count_range([1 - j.rerun_keeps for j in judged])
    fragile = sorted((j for j in judged if j.rerun_keeps < 0.8), key=lambda j: j.rerun_keeps)
    text = (
        f"A rerun over as many new seeds should change about **{expected:.1f} of these {len(judged)} verdicts**, "
        f"between {low} and {high} in nine reruns out of ten (the sum of each claim's chance of changing, from its "
        "own seed spread, and the range of that count were the claims independent)"
    )
    if fragile:
        text += "; the least stable: " + "; ".join(f"*{j.claim.text}* ({_fragile(j)})" for j in fragile)
    text += "."
    if judged:
        every = math.prod(j.rerun_keeps for j in judged)
        text += f" Were the claims independent, a rerun would keep every verdict with probability {100 * every:.0f} %."
        text += _all_kept(judged)
    if report is not None:
        # a checked line reads 'cell N: <claim>: <verdict>'
        published = {
            line.split(": ", 1)[1].rsplit(": ", 1)[0]
            for d in report.get("line_differences", [])
            for line in d["published"]
        }
        changed = sorted(published & {j.claim.text for j in judged})
        inside = "inside" if low <= len(changed) <= high else "outside"
        text += (
            f" The last rerun check ({report['finished']}) changed **{len(changed)}** of them, {inside} that range"
            + (": " + "; ".join(f"*{c}*" for c in changed) if changed else "")
            + "."
        )
    return _md(text)


def _all_kept(judged: list[Judgement]) -> str:
    """What keeping every verdict together 9 times in 10 would take: each claim kept with probability 0.9^(1/n), so
    the seeds that resolve each directional claim with that power (``stats.seeds_to_resolve``, its mean difference
    taken as true); an equality judged by a 95 % interval is contradicted 5 % of the time even when it holds."""
    strict = 0.9 ** (1 / len(judged))
    seeds = [(stats.seeds_to_resolve(j.comparison.diff, strict), j) for j in judged if j.claim.direction != 0]
    need = [(n, j) for n, j in seeds if n is not None]
    if not need:
        return ""
    most, worst = max(need, key=lambda pair: pair[0])
    text = (
        f" For a rerun to keep all {len(judged)} together nine times in ten, each must be kept "
        f"{100 * strict:.1f} % of the time: with each mean difference taken as true, the directional claims would "
        f"need {min(n for n, _ in need)} to {most} seeds each (most: *{worst.claim.text}*)"
    )
    if any(j.claim.direction == 0 for j in judged):
        text += ", and an equality judged by a 95 % interval is kept at most 95 % of the time, whatever the seeds"
    return text + "."


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
        row = [first.claim.text]
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


def report_findings(tasks: int) -> list[Claim]:
    """The report's three findings and its ranking, as claims about runs labelled by mode."""
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


def book_comparisons() -> list[Claim]:
    """Comparisons this book adds (online EWC, L2), as claims about runs labelled by mode."""
    return [
        Claim(
            "online EWC ends with the same ACC as EWC on every task (the penalties have the same gradient)",
            ("ewc-online", acc),
            ("ewc-all", acc),
            direction=0,
            source="book",
        ),
        Claim(
            "EWC on every task ends with a higher ACC than the L2 pull", ("ewc-all", acc), ("l2", acc), source="book"
        ),
        Claim(
            "the L2 pull learns new tasks less well than EWC on every task (lower 'just learned')",
            ("l2", just_learned),
            ("ewc-all", just_learned),
            direction=-1,
            source="book",
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
