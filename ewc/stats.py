"""Statistics over seeds: means, standard deviations, 95 % intervals, paired differences and verdicts.

A run of this project is one draw from a wide distribution (the training is chaotic: the rounding differences between
two machines' XLA code already move accuracies by points), so every claim the book makes is a statement about the
seed distribution: the mean, its 95 % Student-t interval, and how many seeds agree. A claim is *reproduced* only when
the interval excludes zero in the claimed direction, *contradicted* when it excludes zero in the other direction, and
otherwise *not resolved at this scale*. Such a verdict is itself a draw: ``rerun_keeps_verdict`` estimates how often a
rerun with new seeds (or another machine's rounding) would give the same one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

#: Two-sided 95 % quantiles of Student's t, t_{0.975}(df), for df = 1..30 (standard tables); beyond 30 the quantile
#: is interpolated linearly in 1/df between the tabulated 30, 40, 60, 120 and infinity.
T975 = {
    1: 12.706,
    2: 4.303,
    3: 3.182,
    4: 2.776,
    5: 2.571,
    6: 2.447,
    7: 2.365,
    8: 2.306,
    9: 2.262,
    10: 2.228,
    11: 2.201,
    12: 2.179,
    13: 2.160,
    14: 2.145,
    15: 2.131,
    16: 2.120,
    17: 2.110,
    18: 2.101,
    19: 2.093,
    20: 2.086,
    21: 2.080,
    22: 2.074,
    23: 2.069,
    24: 2.064,
    25: 2.060,
    26: 2.056,
    27: 2.052,
    28: 2.048,
    29: 2.045,
    30: 2.042,
    40: 2.021,
    60: 2.000,
    120: 1.980,
}
Z975 = 1.960

REPRODUCED, CONTRADICTED, UNRESOLVED = "reproduced", "contradicted", "not resolved at this scale"
NO_DIFFERENCE = "no difference resolved at this scale"  # an equality whose interval holds zero


def t975(df: int) -> float:
    """The 0.975 quantile of Student's t with ``df`` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError("a t interval needs at least two values")
    if df in T975:
        return T975[df]
    points = sorted((1 / d, q) for d, q in T975.items() if d >= 30) + [(0.0, Z975)]
    points.sort()
    x = 1 / df
    for (x0, q0), (x1, q1) in zip(points, points[1:]):
        if x0 <= x <= x1:
            return q0 + (q1 - q0) * (x - x0) / (x1 - x0)
    raise AssertionError("unreachable")


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


def summarize(values) -> Summary:
    """``Summary`` of a sequence of numbers (at least one)."""
    values = [float(v) for v in values]
    n = len(values)
    if n == 0:
        raise ValueError("no values to summarize")
    mean = math.fsum(values) / n
    if n == 1:
        return Summary(mean, 0.0, 1, -math.inf, math.inf)
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))
    half = t975(n - 1) * sd / math.sqrt(n)
    return Summary(mean, sd, n, mean - half, mean + half)


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


def unpaired(a, b, direction: int = 1) -> Comparison:
    """Compare two independent sets of runs: difference of means with Welch's interval (Welch-Satterthwaite df)."""
    sa, sb = summarize(a), summarize(b)
    mean = sa.mean - sb.mean
    if sa.n < 2 or sb.n < 2:
        diff = Summary(mean, 0.0, min(sa.n, sb.n), -math.inf, math.inf)
    else:
        va, vb = sa.sd**2 / sa.n, sb.sd**2 / sb.n
        se = math.sqrt(va + vb)
        if se == 0:
            diff = Summary(mean, 0.0, min(sa.n, sb.n), mean, mean)
        else:
            df = (va + vb) ** 2 / (va**2 / (sa.n - 1) + vb**2 / (sb.n - 1))
            half = t975(max(1, math.floor(df))) * se
            diff = Summary(mean, se, min(sa.n, sb.n), mean - half, mean + half)
    agree = sum(1 for x in a for y in b if (x - y) * direction > 0)
    return Comparison(diff, direction, agree, len(a) * len(b), False)


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


def rerun_keeps_verdict(diff: Summary, direction: int, rerun_n: int | None = None, draws: int = 20000) -> float:
    """The probability that a rerun of ``rerun_n`` new seeds (default: as many as ``diff`` has) gives the verdict
    that ``diff`` (per-seed differences a - b: mean, sd, n) gives, with the same rule (``verdict_code``).

    The per-seed differences are taken as normal with unknown mean and sd, and both are drawn from their posterior
    given ``diff`` (flat prior on the mean and on log sd): sd^2 = (n - 1) s^2 / chi^2(n - 1), mean ~ N(d, sd^2 / n).
    Each draw then makes a rerun's mean and sd as a rerun of ``rerun_n`` seeds would, and its t interval. A verdict
    whose interval ends near zero is kept about half the time, whatever the sample size; a large effect nearly
    always. With one value (no interval) or no spread, a rerun gives the same verdict: 1.0. Monte Carlo with
    ``draws`` draws from a fixed generator, so the same ``diff`` always gives the same number (its own error about
    0.4 points at the default)."""
    import numpy as np

    n, m = diff.n, rerun_n or diff.n
    if n < 2 or diff.sd == 0 or m < 2:
        return 1.0
    rng = np.random.default_rng(0)
    sigma = diff.sd * np.sqrt((n - 1) / rng.chisquare(n - 1, draws))
    mu = rng.normal(diff.mean, sigma / np.sqrt(n))
    rerun_mean = rng.normal(mu, sigma / np.sqrt(m))
    rerun_sd = sigma * np.sqrt(rng.chisquare(m - 1, draws) / (m - 1))
    half = t975(m - 1) * rerun_sd / np.sqrt(m)
    published = verdict_code(diff.low, diff.high, direction)
    return float(np.mean(verdict_code(rerun_mean - half, rerun_mean + half, direction) == published))


def count_range(probabilities, coverage: float = 0.9) -> tuple[int, int]:
    """The central ``coverage`` range (low, high) of the number of events among independent events of the given
    probabilities (the Poisson-binomial distribution, by exact convolution): e.g. how many verdicts a rerun changes,
    given each one's chance of changing. ``low`` is the smallest count with P(count <= low) > (1 - coverage) / 2 and
    ``high`` the smallest with P(count <= high) >= (1 + coverage) / 2."""
    pmf = [1.0]
    for p in probabilities:
        if not 0 <= p <= 1:
            raise ValueError(f"a probability must be in [0, 1], got {p}")
        pmf = [a * (1 - p) + b * p for a, b in zip(pmf + [0.0], [0.0] + pmf)]
    tail = (1 - coverage) / 2
    cdf, low, high = 0.0, None, None
    for k, mass in enumerate(pmf):
        cdf += mass
        if low is None and cdf > tail:
            low = k
        if high is None and cdf >= 1 - tail - 1e-12:
            high = k
    return low, high


def seeds_to_resolve(diff: Summary, power: float = 0.9) -> int | None:
    """How many seeds a run of the claim needs for its 95 % interval to exclude zero ``power`` of the time, if the
    mean difference and sd of ``diff`` are the true ones: the smallest n >= 2 with
    sqrt(n) |mean| / sd >= t975(n - 1) + z(power), the usual normal approximation of the t test's power (it errs by a
    seed or so at small n). None when the mean is zero or there is no sd to judge by."""
    if not 0.5 <= power < 1:
        raise ValueError(f"power must be in [0.5, 1), got {power}")
    if diff.n < 2 or diff.sd == 0 or diff.mean == 0:
        return None
    z = NormalDist().inv_cdf(power)
    ratio = abs(diff.mean) / diff.sd
    n = max(2, math.floor(((Z975 + z) / ratio) ** 2))  # the normal limit: t975 > 1.96 only adds seeds
    while math.sqrt(n) * ratio < t975(n - 1) + z:
        n += 1
    return n


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
