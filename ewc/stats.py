"""Statistics over seeds: means, standard deviations, 95 % intervals (and their text, "83.1 ± 2.4"), paired
differences, one-sided tests, Holm's correction, verdicts, and our mean against a published mean ± SEM.

A run of this project is one draw from a wide distribution (the training is chaotic: the rounding differences between
two machines' XLA code already move accuracies by points), so every claim the book makes is a statement about the
seed distribution: the mean, its 95 % Student-t interval, and how many seeds agree. A comparison with no size to
meet *holds* when the interval excludes zero in the claimed direction, is *contradicted* when it excludes zero in the
other direction, and is otherwise *not resolved*. Such a verdict is itself a draw: ``ewc.forecast`` estimates how
often a rerun would give the same one.

Size-aware tests (``ewc.claims`` builds its verdicts on them): ``p_above``/``p_below`` are one-sided t tests of the
mean of per-seed values against a bound (Student's t from ``scipy.stats``), and ``holm`` adjusts a family of p-values
for being judged together (Holm 1979). ``ALPHA`` is one-sided 2.5 %, so an unadjusted test agrees with the bound of
the 95 % two-sided interval shown beside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

Z975 = NormalDist().inv_cdf(0.975)
ALPHA = 0.025  # one-sided: the level at which one bound of a 95 % two-sided interval excludes a value
# The words of a verdict on a comparison with no size to meet (``ewc.claims`` has the size-aware scale)
REPRODUCED, CONTRADICTED, UNRESOLVED = "holds", "contradicted", "not resolved"
NO_DIFFERENCE = "not resolved"  # an equality whose interval holds zero: nothing shown either way


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError("a t interval needs at least two values")
    from scipy.special import stdtrit  # the inverse of Student's t CDF as a ufunc (scipy.stats.t.ppf, minus overhead)

    return float(stdtrit(df, 0.975))


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation (n - 1) and the 95 % t interval of the mean of ``n`` values.

    With one value the sd is 0 and the interval is (-inf, inf): a single draw resolves nothing."""

    mean: float
    sd: float
    n: int
    low: float
    high: float

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def mean(values) -> float:
    """The mean of a sequence (or iterable) of numbers, at least one, summed exactly (``math.fsum``)."""
    values = [float(v) for v in values]
    if not values:
        raise ValueError("no values to summarize")
    return math.fsum(values) / len(values)


def summarize(values) -> Summary:
    """``Summary`` of a sequence of numbers (at least one)."""
    values = [float(v) for v in values]
    mean_ = mean(values)
    n = len(values)
    if n == 1:
        return Summary(mean_, 0.0, 1, -math.inf, math.inf)
    sd = math.sqrt(math.fsum((v - mean_) ** 2 for v in values) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return Summary(mean_, sd, n, mean_ - half, mean_ + half)


def mean_sd(values, digits: int = 1) -> str:
    """'83.1 ± 2.4' (sample sd, n - 1), in the values' own unit; '83.1' for a single value."""
    s = summarize(values)
    return f"{s.mean:.{digits}f}" if s.n == 1 else f"{s.mean:.{digits}f} ± {s.sd:.{digits}f}"


def interval(values, digits: int = 1, within: tuple[float, float] | None = None) -> str:
    """The 95 % t interval of the mean, '[80.2, 86.0]'; '—' for a single value. Where the quantity cannot leave
    ``within`` (an accuracy: 0-100 %) but the t interval does, the interval says nothing the values do not: the
    per-seed values are shown instead ('seeds: 99.1, 96.0, 99.5')."""
    s = summarize(values)
    if s.n == 1:
        return "—"
    if within is not None and (s.low < within[0] or s.high > within[1]):
        return "seeds: " + ", ".join(f"{v:.{digits}f}" for v in values)
    return f"[{s.low:.{digits}f}, {s.high:.{digits}f}]"


def rerun_interval(values, rerun_n: int) -> tuple[float, float]:
    """The 95 % prediction interval for the mean of ``rerun_n`` new draws from the distribution ``values`` came
    from: mean ± t(n - 1) · sd · sqrt(1/n + 1/rerun_n). It is wider than the interval of the mean (which the mean of a
    rerun misses about one time in six at n = 5, because the rerun's mean has a spread of its own); (-inf, inf)
    for fewer than two values."""
    s = summarize(values)
    if s.n < 2:
        return -math.inf, math.inf
    half = t975(s.n - 1) * s.sd * math.sqrt(1 / s.n + 1 / rerun_n)
    return s.mean - half, s.mean + half


@dataclass(frozen=True)
class Comparison:
    """A claimed difference a - b > threshold (direction +1), < -threshold (direction -1) or = 0 (direction 0, an
    equality), judged over seeds by ``verdict_of``.

    ``diff`` summarizes the per-seed differences (paired) or the difference of means (unpaired, Welch interval);
    ``agree`` counts the seeds (paired) whose own difference lies on the claimed side."""

    diff: Summary
    direction: int
    agree: int
    of: int
    paired: bool

    @property
    def verdict(self) -> str:
        return verdict_of(self.diff.low, self.diff.high, self.direction)


def paired(a, b, direction: int = 1) -> Comparison:
    """Compare two runs' values seed by seed (``a[i]`` and ``b[i]`` from the same seed)."""
    if len(a) != len(b):
        raise ValueError(f"paired comparison needs as many values on each side ({len(a)} vs {len(b)})")
    d = [float(x) - float(y) for x, y in zip(a, b)]
    return Comparison(summarize(d), direction, sum(1 for v in d if v * direction > 0), len(d), True)


def verdict_code(low, high, direction: int):
    """The verdict of an interval [low, high] of a - b as a number (works on numpy arrays too): for a claimed
    direction +1 or -1, 1 reproduced, -1 contradicted, 0 not resolved; for an equality (direction 0), 0 when the
    interval holds zero (no difference resolved) and 1 when it excludes it (contradicted)."""
    import numpy as np

    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    if direction == 0:
        return ((low > 0) | (high < 0)).astype(int)
    lo, hi = np.minimum(low * direction, high * direction), np.maximum(low * direction, high * direction)
    return np.where(lo > 0, 1, np.where(hi < 0, -1, 0))


def verdict_of(low: float, high: float, direction: int) -> str:
    """The verdict ``verdict_code`` gives the interval [low, high], in words."""
    code = int(verdict_code(low, high, direction))
    if direction == 0:
        return CONTRADICTED if code else NO_DIFFERENCE
    return {1: REPRODUCED, -1: CONTRADICTED, 0: UNRESOLVED}[code]


def p_above(values, bound: float) -> float:
    """One-sided p-value that the true mean of ``values`` (per-seed numbers, at least two) exceeds ``bound``: the t
    test of H0 mean <= bound, P(T_{n-1} >= (mean - bound) / (sd / sqrt(n))). Without spread the values decide: 0
    when their mean is above the bound, else 1."""
    s = summarize(values)
    if s.n < 2:
        raise ValueError("a t test needs at least two values")
    if s.sd == 0:
        return 0.0 if s.mean > bound else 1.0
    from scipy.special import stdtr  # Student's t CDF as a ufunc: scipy.stats.t.sf's answer, without its overhead

    return float(stdtr(s.n - 1, -(s.mean - bound) / (s.sd / math.sqrt(s.n))))


def p_below(values, bound: float) -> float:
    """One-sided p-value that the true mean of ``values`` is below ``bound`` (``p_above`` of the negated values)."""
    return p_above([-float(v) for v in values], -bound)


def holm(pvalues) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given: with p sorted ascending, the i-th smallest (1-based)
    becomes max over j <= i of min(1, (m - j + 1) p_(j)). A hypothesis is rejected at level alpha exactly when its
    adjusted p-value is below alpha, which controls the chance of any false rejection in the family at alpha."""
    p = [float(v) for v in pvalues]
    m = len(p)
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(sorted(range(m), key=lambda i: p[i])):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return adjusted


def against_noise(difference: float, noise_sd: float, direction: int = 1) -> str:
    """Judge one difference of two single runs against the seed spread ``noise_sd`` (the sd of one run's value
    measured over seeds elsewhere): the difference of two independent draws has sd sqrt(2)·noise_sd, so it is
    *beyond seed noise* when it exceeds 1.96·sqrt(2)·noise_sd on the claimed side."""
    bound = Z975 * math.sqrt(2) * noise_sd
    signed = difference * direction
    if signed > bound:
        return REPRODUCED
    if signed < -bound:
        return CONTRADICTED
    return UNRESOLVED


@dataclass(frozen=True)
class Gap:
    """Our mean ACC (%) over ``n`` seeds, its SEM, and ours minus the published mean with a 95 % interval
    ``[low, high]`` (points; the point itself where ``n`` = 1)."""

    ours: float
    sem: float
    n: int
    diff: float
    low: float
    high: float


def against_published(runs: dict[int, dict], mean: float, sem: float) -> Gap | None:
    """Our runs' ACC against a published ``mean`` ± ``sem`` (%): the interval of the difference is t(n - 1) times
    both SEMs added in quadrature (theirs, over 20 seeds, is the smaller). None without runs."""
    if not runs:
        return None
    s = summarize([100 * r["metrics"]["acc"] for r in runs.values()])
    diff = s.mean - mean
    if s.n < 2:
        return Gap(s.mean, math.nan, 1, diff, diff, diff)
    our_sem = s.sd / math.sqrt(s.n)
    half = t975(s.n - 1) * math.hypot(our_sem, sem)
    return Gap(s.mean, our_sem, s.n, diff, diff - half, diff + half)
