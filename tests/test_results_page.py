"""The results pages' Readings are written from the runs beside them: every number they cite is the hand-computed
mean of made-up runs, and the finding's sentence carries its verdict and interval."""

import types

import pytest

from ewc import claims, findings
from ewc.results_page import ResultsPage, final_accuracy, learned_accuracy, report_matrix, verdict_sentence


def run(diagonal: float, task1_after_2: float, final: list[float]) -> dict:
    """A five-task run: each task learned to ``diagonal``, task 1 at ``task1_after_2`` after task 2, ``final`` at
    the end (fractions); the rows between hold the final values (they are not cited)."""
    matrix = [[None] * 5 for _ in range(5)]
    for i in range(5):
        for k in range(i + 1):
            matrix[i][k] = diagonal if k == i else final[k]
    matrix[1][0] = task1_after_2
    return {
        "task_matrix": matrix,
        "metrics": {"acc": sum(final) / 5, "final": final, "just_trained": diagonal},
    }


@pytest.fixture
def runs():
    return {
        "none": {
            0: run(0.96, 0.60, [0.20, 0.40, 0.60, 0.80, 0.96]),
            1: run(0.94, 0.58, [0.10, 0.30, 0.50, 0.70, 0.94]),
        },
        "ewc-all": {
            0: run(0.95, 0.94, [0.93, 0.92, 0.91, 0.90, 0.95]),
            1: run(0.93, 0.92, [0.91, 0.90, 0.89, 0.88, 0.93]),
        },
        "ewc-previous": {
            0: run(0.95, 0.94, [0.80, 0.85, 0.88, 0.91, 0.95]),
            1: run(0.93, 0.92, [0.78, 0.83, 0.86, 0.89, 0.93]),
        },
    }


def page(runs, mode: str) -> ResultsPage:
    judged = claims.of_experiment(
        claims.judge_all(findings.report_findings(5), runs), {"none": "Exp. 1"}.get(mode, "Exp. 2")
    )
    return ResultsPage("quick", mode, runs, judged, "seeds 0–1")


def test_the_numbers_are_means_over_seeds(runs):
    assert final_accuracy(runs["none"]) == pytest.approx([15.0, 35.0, 55.0, 75.0, 95.0])
    assert learned_accuracy(runs["none"]) == pytest.approx([95.0] * 5)


def test_no_penalty_reading_cites_its_numbers_and_the_reports(runs):
    text = page(runs, "none").reading()
    report = report_matrix("none")
    assert "Task 1 is learned to 95.0 % and falls to 59.0 % while task 2 alone is learned, 36.0 points" in text
    assert f"the report's Figure 3: {report[0][0]:.1f} → {report[1][0]:.1f} %" in text
    assert "It ends at 15.0 % after task 5" in text and "Task 4, followed by one task only, ends at 75.0 %" in text
    assert "ACC is 55.0 % (the report: 65.4 %)" in text
    # the primary finding of Exp. 1 with its verdict: losses 36 and 36 points, both above 20
    assert "“without a penalty, task 1 loses ≥ 20 points while task 2 is learned” (needs ≥ 20): **" in text
    assert "on the seeds 0–1 (+36.0 points" in text


def test_ewc_reading_compares_with_no_penalty_and_says_when_plasticity_is_lost(runs):
    text = page(runs, "ewc-all").reading()
    assert "Every task ends between 89.0 and 94.0 %" in text
    assert "ACC is 91.2 % against 55.0 % without a penalty" in text
    assert "Learning is not slowed: task 5 is learned to 94.0 %, task 1 to 94.0 %." in text
    slowed = {**runs, "ewc-all": {s: run(0.95, 0.94, [0.9] * 4 + [0.80]) for s in (0, 1)}}
    for r in slowed["ewc-all"].values():
        r["task_matrix"][4][4] = 0.80
    assert (
        "The price is plasticity: task 5 is learned to 80.0 %, task 1 to 95.0 %." in page(slowed, "ewc-all").reading()
    )


def test_a_level_claim_is_shown_in_percent_not_points(runs):
    lowest = next(j for j in claims.judge_all(findings.report_findings(5), runs) if j.claim.level)
    sentence = verdict_sentence(lowest, "seeds 0–1")
    assert "(89.0 %, 95 % interval [" in sentence and "points" not in sentence


def test_an_unresolved_finding_whose_interval_clears_the_bar_says_holm_stopped_it():
    """Losses of 30-40 points over five seeds: the unadjusted interval lies above 20, but an adjusted p of 0.04
    (as when six primary findings are judged together) leaves it unresolved, and the sentence says why."""
    import dataclasses

    exp1 = next(c for c in findings.report_findings(5) if c.experiment == "Exp. 1" and c.primary)
    losses = [0.30, 0.35, 0.40, 0.36, 0.38]
    runs = {"none": {s: run(0.96, 0.96 - loss, [0.2] * 4 + [0.96]) for s, loss in enumerate(losses)}}
    alone = claims.judge(exp1, runs)
    assert alone.verdict == claims.HOLDS and alone.comparison.diff.low > 20
    assert "Holm" not in verdict_sentence(alone, "seeds 0–4")
    together = dataclasses.replace(alone, adjusted=(0.04, 0.99, 0.001))
    assert together.verdict == claims.UNRESOLVED
    assert "Holm's adjusted p = 0.040, above 0.025" in verdict_sentence(together, "seeds 0–4")


def test_page_one_headline_answers_from_the_runs(runs, monkeypatch):
    """The answer's numbers are the three modes' mean ACC, its 'Yes' the verdict of the finding that EWC beats no
    penalty; without that verdict it does not say yes."""
    from ewc import chapter, results_page

    runs = {mode: {s: by_seed[s % 2] for s in range(6)} for mode, by_seed in runs.items()}  # same means, resolved
    judged = claims.judge_all(findings.report_findings(5), runs)
    flat = {**runs, "ewc-all": runs["none"], "ewc-previous": runs["none"]}
    monkeypatch.setattr(chapter, "modes", lambda profile, labels: flat)  # the book's own runs: not what it quotes
    monkeypatch.setattr(chapter, "judged_claims", lambda profile: (judged, []))
    monkeypatch.setattr(chapter, "verdict_runs", lambda profile: (runs, "confirmation seeds 0–5"))
    monkeypatch.setattr(chapter, "glance_summary", lambda profile: types.SimpleNamespace(data="(the counts)"))
    text = results_page.headline("quick")
    assert "ACC of 91.2 % against 55.0 % without a penalty" in text and "previous task only with 86.8 %" in text
    assert text.startswith("**Does EWC work?** Yes: on the quick profile's confirmation seeds 0–5, the runs its")
    assert "beats no penalty by ≥ 15 points holds at the report's size there." in text
    assert text.endswith("**Does this book reproduce the report?** (the counts)")
    monkeypatch.setattr(chapter, "verdict_runs", lambda profile: (flat, "seeds 0–5"))
    monkeypatch.setattr(
        chapter, "judged_claims", lambda profile: (claims.judge_all(findings.report_findings(5), flat), [])
    )
    assert results_page.headline("quick").startswith("**Does EWC work?** Not shown here")


def test_a_level_claims_interval_past_100_percent_shows_the_seeds(runs):
    """Two seeds whose lowest tasks end at 89 and 88 %: t(1) makes the interval reach past 100 %; the table shows
    the two values instead."""
    two = {"ewc-all": {0: run(0.95, 0.94, [0.95, 0.92, 0.91, 0.90, 0.95]), 1: run(0.93, 0.92, [0.80] * 5)}}
    lowest = next(j for j in claims.judge_all(findings.report_findings(5), two) if j.claim.level)
    table = claims.claims_table([lowest]).data
    assert "seeds: 90.0, 80.0" in table and "[" not in table.split("\n")[-1]


def test_the_scale_reading_cites_task_1s_loss_and_the_accs(runs):
    from ewc import scale_page

    for by_seed in runs.values():
        for r in by_seed.values():
            r["config"] = {"epochs": 5}
    judged = claims.judge_all(findings.report_findings(5), runs)
    text = scale_page.reading(runs, judged, quick_loss=36.1)
    fig3 = report_matrix("none")
    assert "but 5 of its 30 epochs per task, task 1 is learned to 95.0 % and loses 36.0 points" in text
    assert f"the report {fig3[0][0] - fig3[1][0]:.1f} over 30 epochs, the quick profile 36.1" in text
    assert "no penalty ends at an ACC of 55.0 %" in text and "EWC on every task at 91.2 %" in text
    assert "on the previous task only at 86.8 %" in text
