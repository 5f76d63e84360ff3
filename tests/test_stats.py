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
