"""The rerun forecast: a joint bootstrap over seeds keeps clear verdicts, flips edge ones about half the time, redraws
claims that share runs together, and judges a rerun check by the primary verdicts and the exploratory count."""

import dataclasses

import pytest
from test_claims import three_tasks

from ewc import claims, discussion_readings, forecast


def drop_claim(text: str, size: float, primary: bool = False) -> claims.Claim:
    return claims.Claim(text, ("none", claims.loss_after_next(1)), size=size, primary=primary)


def none_runs(values):
    return {"none": {s: three_tasks(0.95, d / 100, 0.5) for s, d in enumerate(values)}}


RUNS = none_runs([30, 34, 31, 36, 29, 33, 24, 32])  # task 1 loses 24-36 points; mean 31.1


def test_a_clear_verdict_is_kept_and_one_at_its_edge_flips_often():
    clear = drop_claim("clear", 10.0)
    edge = drop_claim("edge", 27.0)  # the interval's lower end sits near 27
    judged = claims.judge_all([clear, edge], RUNS)
    assert judged[1].comparison.diff.low == pytest.approx(27.0, abs=1.5)
    f = forecast.forecast(judged)
    assert f.keeps[0] == 1.0 and 0.2 < f.keeps[1] < 0.8
    assert f.primary_kept is None and f.exploratory[0] == 0 and f.exploratory[1] == 1


def test_claims_that_share_runs_are_redrawn_together():
    """Two claims on the same numbers change together in every draw, so one change never happens alone: the count is
    0 or 2, which a forecast treating them as independent would not give."""
    edge = drop_claim("edge", 27.0)
    judged = claims.judge_all([edge, dataclasses.replace(edge, text="twin")], RUNS)
    f = forecast.forecast(judged)
    assert f.keeps[0] == f.keeps[1] and f.exploratory == (0, 2)
    assert f.expected == pytest.approx(2 * (1 - f.keeps[0]))


def test_a_rerun_passes_with_its_primary_verdicts_and_an_exploratory_count_in_range():
    primary = drop_claim("primary", 10.0, primary=True)
    edge = drop_claim("edge", 27.0)
    judged = claims.judge_all([primary, edge], RUNS)

    def report(*texts):
        return {
            "finished": "x",
            "line_differences": [{"published": [f"cell 1: {t}: {claims.UNRESOLVED}" for t in texts]}],
        }

    def passes(r):
        return forecast.judge_rerun(judged, r["line_differences"])["verdicts_pass"]

    assert passes(report()) and passes(report("edge"))
    assert not passes(report("primary"))  # a primary verdict changed
    text = discussion_readings.rerun_summary(judged, report("edge")).data  # the forecast as the book words it
    assert "The last rerun check changed 1 exploratory and 0 primary verdicts: it passes." in text
    text = discussion_readings.rerun_summary(judged, report("primary")).data
    assert "changed 0 exploratory and 1 primary verdict (*primary*): it fails." in text
    assert "group means" not in text  # a report without means says nothing of them
    means = [{"inside": True}, {"inside": False}, {"inside": True}]
    text = discussion_readings.rerun_summary(judged, report("edge") | {"means": means}).data
    assert text.endswith("2 of its 3 group means lay inside their rerun intervals.")
    assert "keep every primary verdict in 100 % of reruns" in text


def test_too_few_seeds_make_no_forecast():
    judged = claims.judge_all([drop_claim("two seeds", 10.0)], none_runs([30, 31]))
    f = forecast.forecast(judged)
    assert f.draws == 0 and f.keeps == (None,)
    assert "Too few seeds" in discussion_readings.rerun_summary(judged).data


def test_a_rerun_check_is_judged_against_the_published_forecast(recorded_fingerprint):
    """On the published quick runs: a changed primary verdict or settings line fails the check; exploratory changes
    pass up to the forecast's range, counted once per claim whichever chapters print it."""
    from ewc import chapter
    from ewc.rerun import judge_verdict_changes

    main, repeated = chapter.judged_claims("quick")
    primary = next(j for j in main if j.claim.primary)
    exploratory = [j for j in main + repeated if not j.claim.primary and j.comparison is not None]

    def diff(*lines):
        return [{"chapter": "c", "published": [f"cell 1: {line}" for line in lines], "rerun": []}]

    low, high = judge_verdict_changes("quick", [])["forecast_range"]
    assert 0 <= low <= high <= len(exploratory)
    assert judge_verdict_changes("quick", []) == {
        "primary_changed": [],
        "exploratory_changed": [],
        "forecast_range": [low, high],
        "other_lines_changed": [],
        "verdicts_pass": low == 0,
    }
    failed = judge_verdict_changes("quick", diff(f"{primary.claim.text}: {primary.verdict}"))
    assert failed["primary_changed"] == [primary.claim.text] and not failed["verdicts_pass"]
    lines = [f"{j.claim.text}: {j.verdict}" for j in exploratory[: high + 1]]
    inside = judge_verdict_changes("quick", diff(*lines[:high], *lines[:high]))  # each printed twice, counted once
    assert len(inside["exploratory_changed"]) == high and inside["verdicts_pass"] == (high >= low)
    assert not judge_verdict_changes("quick", diff(*lines))["verdicts_pass"]  # one more than the range allows
    settings = judge_verdict_changes("quick", diff("seeds: 0, 1, 2"))
    assert settings["other_lines_changed"] == ["seeds: 0, 1, 2"] and not settings["verdicts_pass"]


def test_the_confirmation_seeds_end_where_the_stopping_rule_stopped(recorded_fingerprint):
    """The rule replayed on the committed confirmation runs: each block before the last the suite declares kept every
    primary verdict in fewer than ``keep`` of the bootstrap's draws (so the rule asked for another), and once all are
    trained the last kept them in at least ``keep`` unless it is the last allowed; the verdicts the book prints come
    from every whole block trained."""
    from ewc import chapter, confirmation
    from ewc.suites import CONFIRMATION_RULE as rule

    trace = confirmation.confirmation_trace("quick")
    assert 1 <= len(trace) <= rule.blocks <= rule.max_blocks
    assert [seeds for seeds, _ in trace] == [rule.seeds(k) for k in range(1, len(trace) + 1)]
    assert all(kept < rule.keep for _, kept in trace[: rule.blocks - 1])
    if len(trace) == rule.blocks:
        assert trace[-1][1] >= rule.keep or rule.blocks == rule.max_blocks
    runs, what = chapter.verdict_runs("quick")
    assert all(sorted(runs[m]) == list(rule.seeds(len(trace))) for m in chapter.THREE)
    assert what.startswith("confirmation")
