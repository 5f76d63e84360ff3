"""How many of the book's verdicts a rerun should change: a joint bootstrap over seeds.

A rerun (new seeds, or another machine's rounding, which moves every run as a new seed would) redraws every run at
once, and the book's claims share runs: ACC of EWC on every task enters three claims, and one unlucky seed moves all
three. So the verdicts are redrawn together: each bootstrap draw picks seeds with replacement from those the claims were
judged on (``_redraw``: claims on the same seeds get the same draw), gives every claim the per-seed effects of its
drawn seeds, judges the whole list
again (Holm's adjustment of the primary family included, ``ewc.claims.adjust``) and counts the verdicts that differ
from the published ones. The spread of that count over draws is the range a rerun's count should fall in.

A bootstrap over a handful of seeds is a rough model of a rerun (it can only redraw seeds that were run, and it
understates the spread of the seed distribution's tails), so the range is a prediction to be checked by reruns, not a
guarantee; with fewer than three seeds there is nothing to resample and no prediction is made.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from ewc import claims
from ewc.claims import Judgement, adjust

DRAWS = 400
MIN_SEEDS = 3


@dataclass(frozen=True)
class Forecast:
    """``keeps``: per judgement (in order), the share of draws that keep its verdict (None: no runs, or fewer than
    ``MIN_SEEDS`` seeds); ``exploratory``: the central 90 % range (low, high) of the number of exploratory verdicts a
    draw changes, and ``expected`` its mean; ``primary_kept``: the share of draws that keep every primary verdict."""

    keeps: tuple[float | None, ...]
    exploratory: tuple[int, int]
    expected: float
    primary_kept: float | None
    draws: int


def forecast(judgements: list[Judgement], draws: int = DRAWS, seed: int = 0) -> Forecast:
    """The joint bootstrap of the module docstring over ``judgements`` (as ``ewc.claims.judge_all`` returns them)."""
    usable = [i for i, j in enumerate(judgements) if j.comparison is not None and len(j.seeds) >= MIN_SEEDS]
    keeps: list[float | None] = [None] * len(judgements)
    if not usable:
        return Forecast(tuple(keeps), (0, 0), 0.0, None, 0)
    pool = sorted(set().union(*(judgements[i].seeds for i in usable)))
    published = [judgements[i].verdict for i in usable]
    primary = np.array([judgements[i].claim.primary for i in usable])
    rng = np.random.default_rng(seed)
    same = np.zeros((draws, len(usable)), bool)
    for d in range(draws):
        stream = rng.choice(pool, size=4 * len(pool), replace=True)
        redrawn = [_redraw(judgements[i], stream, rng) for i in usable]
        verdicts = [j.verdict for j in adjust(redrawn)]
        same[d] = [v == p for v, p in zip(verdicts, published)]
    for col, i in enumerate(usable):
        keeps[i] = float(same[:, col].mean())
    changed = (~same[:, ~primary]).sum(axis=1)
    low, high = (int(v) for v in np.quantile(changed, [0.05, 0.95], method="inverted_cdf"))
    primary_kept = float(same[:, primary].all(axis=1).mean()) if primary.any() else None
    return Forecast(tuple(keeps), (low, high), float(changed.mean()), primary_kept, draws)


def _redraw(j: Judgement, stream, rng) -> Judgement:
    """``j`` with as many seeds as it has, drawn with replacement: the first of ``stream`` (one sequence of seeds per
    draw, shared by every claim) that are among its own, so claims on the same seeds draw the same ones and claims on
    overlapping seeds share the overlap; topped up from its own seeds in the rare draw whose stream has too few."""
    by_seed = dict(zip(j.seeds, j.effects))
    drawn = [s for s in stream if s in by_seed][: len(j.seeds)]
    drawn += list(rng.choice(j.seeds, size=len(j.seeds) - len(drawn), replace=True))
    return dataclasses.replace(j, seeds=tuple(drawn), effects=tuple(by_seed[s] for s in drawn), adjusted=None)


def is_verdict(line: str) -> bool:
    """A checked line that ends in a verdict: 'cell N: <claim>: <verdict>[ (<how>)]'."""
    word = line.rsplit(": ", 1)[-1].split(" (")[0]
    words = (claims.HOLDS, claims.HOLDS_BOOK, claims.SMALLER, claims.UNRESOLVED, claims.CONTRADICTED, "no runs")
    return word in words or word.startswith("equivalent within")


def judge_rerun(judgements: list[Judgement], line_diffs: list[dict], predicted: Forecast | None = None) -> dict:
    """How a rerun's changed checked lines (``line_diffs``: per chapter, the published lines the rerun did not
    print) stand against this forecast over ``judgements``: the claims whose verdict changed, split into primary and
    exploratory (each claim once, whichever chapters print it); the forecast's 90 % range of exploratory changes; the
    other checked lines that changed (settings, seeds: none may); and whether the rerun passes: no primary verdict
    and no other line changed, the exploratory count inside the range. ``predicted``: ``forecast(judgements)``
    where the caller has it already (the bootstrap is not cheap)."""
    primary = {j.claim.text for j in judgements if j.claim.primary}
    changed = {line.split(": ", 1)[1] for d in line_diffs for line in d["published"]}
    claims_changed = {line.rsplit(": ", 1)[0] for line in changed if is_verdict(line)}
    other = sorted(line for line in changed if not is_verdict(line))
    low, high = (predicted or forecast(judgements)).exploratory
    exploratory = sorted(claims_changed - primary)
    return {
        "primary_changed": sorted(claims_changed & primary),
        "exploratory_changed": exploratory,
        "forecast_range": [low, high],
        "other_lines_changed": other,
        "verdicts_pass": not (claims_changed & primary) and not other and low <= len(exploratory) <= high,
    }
