"""The report's cost claims judged on hand-made rounds and runs: the ratio test against hand-derived values and SciPy's
Welch test, and each verdict of the book's scale reached by inputs built to reach it."""

import math

import numpy as np
import pytest
from scipy import stats as scipy_stats

from ewc import cost_claims
from ewc.claims import CONTRADICTED, HOLDS, SMALLER, UNRESOLVED

BASE = [1.00, 1.02, 0.98, 1.01, 0.99, 1.00, 1.00]  # seconds per round: a quiet machine


def test_ratio_against_hand_derived_welch():
    """log a = (1, 3), log b = (0, 2): d = 1, se = sqrt(2/2 + 2/2) = sqrt 2, df = 2. With 2 df Student's CDF is
    1/2 + t / (2 sqrt(2 + t^2)), so at t = 1/sqrt 2 the chance of a larger t is 1/2 - 1/(2 sqrt 5)."""
    e = cost_claims.ratio([math.e, math.e**3], [1.0, math.e**2], bound=1.0)
    assert e.value == pytest.approx(math.e)
    assert e.p_above == pytest.approx(0.5 - 1 / (2 * math.sqrt(5)))
    assert e.p_below == pytest.approx(0.5 + 1 / (2 * math.sqrt(5)))
    half = scipy_stats.t.ppf(0.975, 2) * math.sqrt(2)
    assert (e.low, e.high) == pytest.approx((math.exp(1 - half), math.exp(1 + half)))


def test_ratio_matches_scipys_welch_test_on_log_seconds():
    rng = np.random.default_rng(3)
    a, b = rng.lognormal(0.2, 0.1, 7), rng.lognormal(0.0, 0.2, 21)
    e = cost_claims.ratio(a, b, bound=1.1, scale=0.5)
    shifted = np.log(b) + math.log(1.1 / 0.5)
    for p, side in ((e.p_below, "less"), (e.p_above, "greater")):
        assert p == pytest.approx(scipy_stats.ttest_ind(np.log(a), shifted, equal_var=False, alternative=side).pvalue)
    assert e.value == pytest.approx(0.5 * np.exp(np.log(a).mean() - np.log(b).mean()))


def penalty(**variants):
    rounds = {"none": BASE, **variants}
    return {"round_seconds": rounds, "rounds": 7, "ks": [1, 5, 20]}


def test_not_slower_reaches_each_of_its_verdicts():
    noisy = [0.8, 1.4, 1.0, 1.3, 0.85, 1.2, 1.1]
    same = cost_claims.not_slower(penalty(all_k1=[1.01 * s for s in BASE]), "all", 1)
    slow = cost_claims.not_slower(penalty(all_k1=[1.5 * s for s in BASE]), "all", 1)
    unclear = cost_claims.not_slower(penalty(all_k1=noisy), "all", 1)
    assert same.verdict == HOLDS and same.measured().startswith("1.01×")
    assert slow.verdict == CONTRADICTED  # "at most": nothing weaker to fall back to
    assert unclear.verdict == UNRESOLVED
    assert cost_claims.not_slower(penalty(), "all", 5).verdict == UNRESOLVED  # not timed
    assert cost_claims.not_slower(penalty(), "all", 5).measured() == "—"


def test_growth_of_the_per_task_sum_can_be_smaller_than_claimed():
    """1.05×: shown above no growth (1.0) but below the claimed 1.10: same direction, smaller."""
    grows = penalty(all_k1=BASE, all_k5=[1.3 * s for s in BASE])
    a_little = penalty(all_k1=BASE, all_k5=[1.05 * s for s in BASE[::-1]])
    shrinks = penalty(all_k1=BASE, all_k5=[0.9 * s for s in BASE])
    assert cost_claims.growth(grows, "all", 1, 5).verdict == HOLDS
    assert cost_claims.growth(a_little, "all", 1, 5).verdict == SMALLER
    assert cost_claims.growth(shrinks, "all", 1, 5).verdict == CONTRADICTED
    flat = penalty(online_k1=BASE, online_k20=BASE[::-1])
    assert cost_claims.growth(flat, "online", 1, 20).verdict == HOLDS


def run(train_s, fisher_s):
    return {"timings": {"train_s": train_s, "fisher_s": fisher_s}}


def test_fisher_share_per_seed_and_its_verdicts():
    """Shares by hand: seed 0 (1 + 1) / (20 + 20) = 5 %, the last task (no Fisher after it) left out."""
    runs = {0: run([20, 20, 99], [1, 1]), 1: run([10, 10, 99], [0.6, 0.6]), 2: run([25, 25, 99], [1, 1.5])}
    assert cost_claims.fisher_shares(runs) == pytest.approx([0.05, 0.06, 0.05])
    assert cost_claims.fisher_in_runs(runs).verdict == HOLDS
    costly = {s: run([10, 10], [f, f]) for s, f in enumerate((3.0, 3.2, 2.9))}  # about 30 %: below 1, above 0.10
    assert cost_claims.fisher_in_runs(costly).verdict == SMALLER
    as_long = {s: run([10, 10], [f, f]) for s, f in enumerate((10.0, 10.5, 9.8))}
    assert cost_claims.fisher_in_runs(as_long).verdict == CONTRADICTED
    assert cost_claims.fisher_in_runs({0: run([10], [1])}).verdict == UNRESOLVED


def test_fisher_at_a_protocol_scales_per_image_costs():
    """512 Fisher images take 0.25 s and 1024 training images 1 s: per image the Fisher costs half a step; a
    protocol of 100 Fisher images after 2 epochs of 1,000 images gives 0.5 x 100 / 2000 = 2.5 %."""

    class Protocol:
        iterations, batch_size, epochs, train_size, fisher_samples = 0, 64, 2, 1000, 100

    bench = {"round_seconds": {"fast": [0.25] * 3, "train": [1.0] * 3}, "fisher_samples": 512, "train_samples": 1024}
    bench["rounds"] = 3
    v = cost_claims.fisher_at_protocol(bench, Protocol)
    assert v.estimate.value == pytest.approx(0.025) and v.verdict == HOLDS
    assert v.measured() == "2.5 % (2.5–2.5)"


def test_reading_cites_every_verdict():
    pen = penalty(all_k1=BASE, all_k5=[1.3 * s for s in BASE], online_k1=BASE, online_k5=BASE, online_k20=BASE[::-1])
    pen |= {"arch": "cnn", "batch_size": 64, "cpu_count": 2, "machine": {"cpu_model": "Test CPU"}}

    class Paper:
        iterations, batch_size, epochs, train_size, fisher_samples = 0, 64, 30, 60000, 60000

    fisher = {"round_seconds": {"fast": BASE, "train": BASE}, "fisher_samples": 1, "train_samples": 1, "rounds": 7}
    runs = {0: run([20, 20], [1, 1]), 1: run([10, 10], [0.6, 0.6])}
    verdicts = cost_claims.judge(pen, fisher, runs, Paper)
    text = cost_claims.reading(verdicts, held=20).data
    assert (
        text.count("(*") == 7
        and "1.30× while it holds five (*contradicted*)" in text
        and "holding 20 instead of one" in text
    )
    assert "Test CPU, 2 cores" in cost_claims.verdict_table(verdicts, pen).data


def test_engineering_numbers_bound_the_trainers_lead_by_hand():
    """fit with XLA at 640 images/s and batch 64 takes 100 ms a step; with forward and backward at 80 ms, no loop
    around the same passes can be more than 100 / 80 = 1.25x as fast."""
    from ewc import cost_tables

    machine = {"machine": {"cpu_model": "Test CPU"}, "cpu_count": 2}
    train = {"batch_size": 64, "fit_xla_samples_per_s": 640.0, "trainer_samples_per_s": 700.0}
    train |= {"fit_samples_per_s": 500.0, "speedup_vs_fit_xla": 700 / 640, **machine}
    text = cost_tables.engineering_numbers(
        train, {"ms_gradient": 80.0, "ms_step": 95.0}, {"speedup_vs_loop": 27.6}
    ).data
    assert "(100 ms per step) by more than 1.25×" in text and "1.09× the latter" in text
    assert "Test CPU (2 cores" in text and "28× the per-example loop" in text
