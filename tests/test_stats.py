"""Seed statistics: the t interval against hand-computed values and its coverage, paired comparisons, one-sided
tests against tables and by simulation, and Holm's adjustment by hand."""

import math

import numpy as np
import pytest

from ewc import stats


def test_t_quantiles_match_tables_and_approach_the_normal():
    assert stats.t975(4) == pytest.approx(2.776, abs=5e-4) and stats.t975(30) == pytest.approx(2.042, abs=5e-4)
    assert stats.t975(50) == pytest.approx(2.009, abs=5e-4)  # tables: t_0.975(50) = 2.009
    assert stats.t975(1000) == pytest.approx(1.962, abs=5e-4)
    assert all(stats.t975(d) > stats.t975(d + 1) for d in range(1, 200))


def test_summary_by_hand():
    s = stats.summarize([1, 2, 3, 4, 5])
    half = 2.7764 * math.sqrt(2.5) / math.sqrt(5)  # t_0.975(4) = 2.7764
    assert (s.mean, s.n) == (3.0, 5) and s.sd == pytest.approx(math.sqrt(2.5))
    assert (s.low, s.high) == (pytest.approx(3 - half, abs=1e-4), pytest.approx(3 + half, abs=1e-4))
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
    half = 2.7764 * math.sqrt(2.5) * math.sqrt(1 / 5 + 1 / 3)  # by hand
    assert (low, high) == (pytest.approx(3 - half, abs=1e-4), pytest.approx(3 + half, abs=1e-4))
    assert stats.rerun_interval([4.0], 5) == (-math.inf, math.inf)


def test_one_sided_p_values_by_hand_and_from_a_table():
    """Values 1..5: mean 3, se sqrt(2.5/5); t = (3 - 1) / 0.7071 = 2.828 on 4 df, whose upper tail is 0.0237 (the
    t table puts 2.776 at 0.025 and 3.747 at 0.01)."""
    values = [1, 2, 3, 4, 5]
    assert stats.p_above(values, 1.0) == pytest.approx(0.0237, abs=2e-4)
    assert stats.p_below(values, 5.0) == pytest.approx(0.0237, abs=2e-4)  # the mirror image
    assert stats.p_above(values, 3.0) == pytest.approx(0.5)
    bound = 3 - stats.t975(4) * math.sqrt(2.5 / 5)  # the 95 % interval's lower end: exactly ALPHA
    assert stats.p_above(values, bound) == pytest.approx(stats.ALPHA)
    assert stats.p_above([2, 2, 2], 1.0) == 0.0 and stats.p_above([2, 2, 2], 2.0) == 1.0  # no spread: values decide
    with pytest.raises(ValueError):
        stats.p_above([1.0], 0.0)


def test_one_sided_test_rejects_a_true_null_at_its_level():
    """Normal values whose mean sits exactly on the bound are called above it ALPHA of the time."""
    rng = np.random.default_rng(1)
    calls = [stats.p_above(v, 10.0) < stats.ALPHA for v in rng.normal(10, 3, (4000, 5))]
    assert abs(np.mean(calls) - stats.ALPHA) < 0.008  # binomial sd 0.0025


def test_holm_by_hand():
    """p = (0.01, 0.04, 0.03, 0.005), m = 4: sorted 0.005, 0.01, 0.03, 0.04 scale by 4, 3, 2, 1 to 0.02, 0.03, 0.06,
    0.04, and the running maximum makes the last 0.06; returned in the order given."""
    assert stats.holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert stats.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert stats.holm([]) == [] and stats.holm([0.01]) == [0.01]


def test_an_accuracy_interval_past_100_percent_shows_the_seeds_instead():
    """Three seeds at 99.0, 96.0 and 99.6 %: mean 98.2, sd 1.93, t(2) = 4.303, so the t interval is 98.2 ± 4.79,
    [93.4, 103.0]: past 100 %, it says less than the values themselves."""
    values = [99.0, 96.0, 99.6]
    assert stats.interval(values) == "[93.4, 103.0]"
    assert stats.interval(values, within=(0, 100)) == "seeds: 99.0, 96.0, 99.6"
    assert stats.interval([80.0, 82.0, 81.0], within=(0, 100)) == "[78.5, 83.5]"
