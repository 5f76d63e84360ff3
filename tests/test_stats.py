"""Seed statistics: the t interval against hand-computed values and its coverage, paired and Welch comparisons."""

import math

import numpy as np
import pytest

from ewc import stats


def test_t_quantiles_match_tables_and_approach_the_normal():
    assert stats.t975(4) == 2.776 and stats.t975(30) == 2.042
    assert stats.t975(50) == pytest.approx(2.009, abs=0.002)  # tables: t_0.975(50) = 2.009
    assert stats.t975(1000) == pytest.approx(1.962, abs=0.002)
    assert all(stats.t975(d) > stats.t975(d + 1) for d in range(1, 200))


def test_summary_by_hand():
    s = stats.summarize([1, 2, 3, 4, 5])
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)
    assert (s.mean, s.n) == (3.0, 5) and s.sd == pytest.approx(math.sqrt(2.5))
    assert (s.low, s.high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    one = stats.summarize([0.7])
    assert one.low == -math.inf and one.high == math.inf  # one draw resolves nothing


def test_interval_covers_the_true_mean_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    trials = 4000
    hits = sum(stats.summarize(s).low <= 10 <= stats.summarize(s).high for s in rng.normal(10, 3, (trials, 5)))
    assert abs(hits / trials - 0.95) < 0.012  # binomial sd 0.0034


def test_paired_verdicts():
    a, b = [80, 82, 85, 79, 84], [50, 61, 47, 55, 58]
    c = stats.paired(a, b)
    assert c.verdict == stats.REPRODUCED and (c.agree, c.of) == (5, 5)
    assert c.diff.mean == pytest.approx(np.mean(np.subtract(a, b)))
    assert stats.paired(b, a).verdict == stats.CONTRADICTED
    assert stats.paired(b, a, direction=-1).verdict == stats.REPRODUCED
    noisy = stats.paired([1, -1, 2, -2, 0.5], [0, 0, 0, 0, 0])
    assert noisy.verdict == stats.UNRESOLVED and noisy.agree == 3
    with pytest.raises(ValueError):
        stats.paired([1, 2], [1])


def test_welch_by_hand():
    c = stats.unpaired([1, 2, 3], [4, 6, 8])
    # se = sqrt(1/3 + 4/3); Welch df = (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = 2.94 -> t(2) = 4.303 (conservative floor)
    half = 4.303 * math.sqrt(5 / 3)
    assert c.diff.mean == -4 and (c.diff.low, c.diff.high) == (pytest.approx(-4 - half), pytest.approx(-4 + half))
    assert c.verdict == stats.UNRESOLVED and (c.agree, c.of) == (0, 9)


def test_single_runs_against_seed_noise():
    assert stats.against_noise(10, 2) == stats.REPRODUCED  # bound 1.96 * sqrt(2) * 2 = 5.54
    assert stats.against_noise(5, 2) == stats.UNRESOLVED
    assert stats.against_noise(-6, 2) == stats.CONTRADICTED
    assert stats.against_noise(-6, 2, direction=-1) == stats.REPRODUCED


def test_rerun_interval_holds_a_reruns_mean_95_percent_of_the_time_and_the_mean_interval_less():
    """The rerun check's criterion: the mean of m new seeds lies in the prediction interval of n published seeds 95 %
    of the time, while the published interval of the mean misses it about one time in eight (n = m = 5)."""
    rng = np.random.default_rng(1)
    trials = 6000
    published, rerun = rng.normal(80, 4, (trials, 5)), rng.normal(80, 4, (trials, 5)).mean(axis=1)
    in_rerun = in_mean = 0
    for values, new in zip(published, rerun):
        low, high = stats.rerun_interval(values, 5)
        s = stats.summarize(values)
        in_rerun += low <= new <= high
        in_mean += s.low <= new <= s.high
    assert abs(in_rerun / trials - 0.95) < 0.01
    assert 0.84 < in_mean / trials < 0.91
    low, high = stats.rerun_interval([1, 2, 3, 4, 5], 3)
    half = 2.776 * math.sqrt(2.5) * math.sqrt(1 / 5 + 1 / 3)  # by hand
    assert (low, high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    assert stats.rerun_interval([4.0], 5) == (-math.inf, math.inf)


def test_rerun_keeps_verdict_matches_the_normal_limit_and_the_interval_edge():
    """With many seeds the rerun's mean is the published mean plus two independent errors of sd s/sqrt(n) (the
    unknown true mean's and the rerun's own), so P(reproduced again) = Phi((d - z s/sqrt(n)) / (s sqrt(2/n))); a
    claim whose interval just touches zero is kept about half the time; a huge effect always; the same input gives
    the same number."""
    n, s = 400, 10.0
    for d in (1.2, 1.5, 2.0):
        diff = stats.Summary(
            d, s, n, d - stats.t975(n - 1) * s / math.sqrt(n), d + stats.t975(n - 1) * s / math.sqrt(n)
        )
        closed = 0.5 * (1 + math.erf((d - stats.Z975 * s / math.sqrt(n)) / (s * math.sqrt(2 / n)) / math.sqrt(2)))
        assert stats.rerun_keeps_verdict(diff, +1) == pytest.approx(closed, abs=0.02), d
    edge = stats.t975(4) * 2.0 / math.sqrt(5)  # n = 5, sd 2: the interval's lower end sits on zero
    touching = stats.summarize([edge + 2.0 * z for z in (-1.2649, -0.6325, 0.0, 0.6325, 1.2649)])  # sd 2.0
    assert touching.low == pytest.approx(0.0, abs=1e-3)
    assert 0.35 < stats.rerun_keeps_verdict(touching, +1) < 0.65
    huge = stats.summarize([30.0, 31.0, 29.0, 30.5, 29.5])
    assert stats.rerun_keeps_verdict(huge, +1) == 1.0
    assert stats.rerun_keeps_verdict(huge, -1) == 1.0  # contradicted, and contradicted again
    assert stats.rerun_keeps_verdict(touching, +1) == stats.rerun_keeps_verdict(touching, +1)
    assert stats.rerun_keeps_verdict(stats.summarize([3.0]), +1) == 1.0


def test_rerun_keeps_verdict_of_an_equality_centred_on_zero_is_a_t_probability():
    """An equality (online EWC against the per-task sum) whose seeds average exactly zero. A rerun's mean then
    differs from zero by the true mean's uncertainty and its own error, sd sqrt(2) sigma / sqrt(n) together, and its
    interval uses its own sd, so it excludes zero when |T(n - 1)| > t975(n - 1) / sqrt(2), whatever sigma: at n = 5
    the rerun keeps "no difference" with P(|T4| < 1.963) = 0.879, less often than the 95 % a known zero would give.
    The reference integrates Student's t density with 4 degrees of freedom, (3/8)(1 + t^2/4)^(-5/2)."""
    centred = stats.summarize([-1.0, 1.0, -0.5, 0.5, 0.0])
    assert centred.mean == 0.0
    t = np.linspace(0.0, stats.t975(4) / math.sqrt(2), 200001)
    reference = 2 * np.trapezoid(0.375 * (1 + t**2 / 4) ** -2.5, t)
    assert stats.rerun_keeps_verdict(centred, 0) == pytest.approx(reference, abs=0.01)
    off = stats.summarize([2.0, 2.5, 3.0, 2.2, 2.8])  # interval excludes zero: contradicted, and again in a rerun
    assert stats.verdict_code(off.low, off.high, 0) == 1
    assert stats.rerun_keeps_verdict(off, 0) > 0.9


def test_seeds_to_resolve_gives_about_90_percent_power_by_simulation():
    """If the claim's mean difference and sd are the truth, runs of the returned number of seeds resolve it (95 %
    interval excludes zero) about 9 times in 10, and one seed fewer less often; the slow reference simulates them."""
    rng = np.random.default_rng(1)
    for mean, sd in ((1.0, 1.0), (1.2, 1.1), (3.0, 2.0)):
        n = stats.seeds_to_resolve(stats.Summary(mean, sd, 5, 0.0, 0.0))

        def power(k, mean=mean, sd=sd):
            x = rng.normal(mean, sd, size=(20000, k))
            half = stats.t975(k - 1) * x.std(axis=1, ddof=1) / math.sqrt(k)
            return np.mean(x.mean(axis=1) - half > 0)

        assert 0.87 < power(n) < 0.95, (mean, sd, n)
        assert power(n - 1) < power(n)
    # by hand, mean = sd: sqrt(12) = 3.464 < t(11) 2.201 + 1.282 = 3.483; sqrt(13) = 3.606 >= t(12) 2.179 + 1.282
    assert stats.seeds_to_resolve(stats.Summary(1.0, 1.0, 5, 0, 0)) == 13
    assert stats.seeds_to_resolve(stats.Summary(0.0, 1.0, 5, 0, 0)) is None
    # the power each of 15 claims needs for all to be kept together 9 times in 10, by the same simulation
    strict = 0.9 ** (1 / 15)
    n = stats.seeds_to_resolve(stats.Summary(1.4, 1.0, 5, 0, 0), power=strict)
    x = rng.normal(1.4, 1.0, size=(200000, n))
    resolved = x.mean(axis=1) - stats.t975(n - 1) * x.std(axis=1, ddof=1) / math.sqrt(n) > 0
    fewer = x[:, : n - 1]
    resolved_fewer = fewer.mean(axis=1) - stats.t975(n - 2) * fewer.std(axis=1, ddof=1) / math.sqrt(n - 1) > 0
    assert resolved.mean() > strict - 0.003 and resolved_fewer.mean() < resolved.mean(), (n, resolved.mean())
    # a mean a third of its sd needs hundreds: the normal limit is ((1.96 + 2.46) / 0.36)^2 = 151
    assert 150 <= stats.seeds_to_resolve(stats.Summary(0.36, 1.0, 5, 0, 0), power=strict) <= 156
    with pytest.raises(ValueError, match="power"):
        stats.seeds_to_resolve(stats.Summary(1.0, 1.0, 5, 0, 0), power=1.0)


def test_count_range_is_the_central_range_of_the_number_of_events():
    """Equal chances: the binomial's quantiles by hand; unequal: a slow simulation of the events themselves."""
    # Binomial(4, 1/2): P(<=0) = 1/16, P(<=1) = 5/16, P(<=3) = 15/16, P(<=4) = 1. Central 80 %: above 0.1, up to 0.9
    assert stats.count_range([0.5] * 4, coverage=0.8) == (1, 3)
    assert stats.count_range([0.5] * 4, coverage=0.9) == (0, 4)  # 1/16 > 0.05; 15/16 < 0.95
    assert stats.count_range([0.0, 1.0, 1.0]) == (2, 2) and stats.count_range([]) == (0, 0)
    assert stats.count_range([0.5, 0.5], coverage=0.5) == (1, 1)  # P(0) = 1/4 is not above the 1/4 tail
    chances = [0.45, 0.45, 0.36, 0.23, 0.2, 0.17, 0.16, 0.12, 0.09, 0.08, 0.03, 0.03, 0.03, 0.0, 0.0]
    low, high = stats.count_range(chances)
    counts = (np.random.default_rng(3).random((200000, len(chances))) < chances).sum(axis=1)
    assert np.mean(counts < low) <= 0.05 < np.mean(counts <= low)
    assert np.mean(counts <= high) >= 0.95 > np.mean(counts <= high - 1)
    with pytest.raises(ValueError, match="probability"):
        stats.count_range([1.2])
