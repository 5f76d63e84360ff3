"""The book's claims judged on hand-made runs: paired by seed, the right numbers, verdicts and floors."""

import pytest

from ewc import claims, stats
from ewc.results import metrics


def run(r):
    return {"task_matrix": r, "metrics": metrics(r)}


def three_tasks(first, drop, last):
    """A 3-task matrix: task 1 learned to ``first``, ``drop`` points lost during task 2, ``last`` on every task."""
    return run([[first, None, None], [first - drop, 0.9, None], [last, last, last]])


def test_metrics_read_the_right_cells():
    r = run([[0.9, None, None], [0.6, 0.95, None], [0.5, 0.7, 0.8]])
    assert claims.loss_after_next(1)(r) == pytest.approx(30)
    assert claims.loss_by_end(1)(r) == pytest.approx(40)
    assert claims.first_task_fading(r) == pytest.approx(10)
    assert claims.final(2)(r) == pytest.approx(70) and claims.acc(r) == pytest.approx(200 / 3)
    assert claims.just_learned(r) == pytest.approx(100 * (0.9 + 0.95 + 0.8) / 3)


def test_paired_by_common_seeds_only():
    runs = {
        "none": {s: three_tasks(0.95, 0.3 + 0.01 * s, 0.5) for s in range(5)},
        "ewc-all": {s: three_tasks(0.95, 0.02, 0.85 + 0.01 * s) for s in (1, 2, 3, 4, 7)},
    }
    j = claims.judge(claims.Claim("x", ("ewc-all", claims.acc), ("none", claims.acc), floor=15), runs)
    assert j.seeds == (1, 2, 3, 4)
    assert j.comparison.diff.mean == pytest.approx(85 + 2.5 - 50)  # seeds 1-4: ACC 85 + s against 50
    assert j.verdict == stats.REPRODUCED and j.floor_met
    assert claims.judge(claims.Claim("y", ("l2", claims.acc)), runs).verdict == "no runs"


def test_constant_sides_floors_and_equality():
    runs = {"none": {s: three_tasks(0.95, d, 0.5) for s, d in enumerate([0.12, 0.14, 0.13, 0.15, 0.11])}}
    j = claims.judge(claims.Claim("drop", ("none", claims.loss_after_next(1)), floor=20), runs)
    assert j.verdict == stats.REPRODUCED and j.floor_met is False  # clearly above 0, but the mean is 13 < 20
    above = claims.judge(claims.Claim("t1 > 80", ("none", claims.final(1)), 80.0), runs)
    assert above.verdict == stats.CONTRADICTED  # 50 % on every seed
    same = {
        "a": {s: three_tasks(0.9, 0.1, 0.8 + 0.01 * (-1) ** s) for s in range(4)},
        "b": {s: three_tasks(0.9, 0.1, 0.8) for s in range(4)},
    }
    eq = claims.judge(claims.Claim("eq", ("a", claims.acc), ("b", claims.acc), direction=0), same)
    assert eq.verdict == claims.NO_DIFFERENCE
    same["a"] = {s: three_tasks(0.9, 0.1, 0.7 + 0.001 * s) for s in range(4)}
    assert claims.judge(eq.claim, same).verdict == stats.CONTRADICTED


def test_verdict_lines_hold_no_numbers():
    runs = {"none": {s: three_tasks(0.95, 0.3 + 0.01 * s, 0.5) for s in range(3)}}
    lines = claims.verdict_lines(claims.judge_all(claims.report_findings(3)[:1], runs))
    assert lines == ["Exp. 1: without a penalty, task 1 loses accuracy while task 2 is learned: reproduced"]


def test_candidates_side_by_side_and_their_floors_summarized():
    """Each candidate's column holds its own numbers; a candidate without some runs says so; the summary counts only
    the floors that could be judged and names the ones missed."""
    none = {s: three_tasks(0.95, 0.3 + 0.01 * s, 0.5) for s in range(4)}
    good = {"none": none, "ewc-all": {s: three_tasks(0.95, 0.02, 0.9 + 0.01 * s) for s in range(4)}}
    weak = {"none": none, "ewc-all": {s: three_tasks(0.95, 0.02, 0.7 + 0.01 * s) for s in range(4)}}
    floors = [c for c in claims.report_findings(3) if c.floor is not None]
    judged = {"good": claims.judge_all(floors, good), "weak": claims.judge_all(floors, weak)}
    table = claims.candidates_table(judged).data.splitlines()
    assert table[0] == "| claim (points) | good | weak |"
    acc_row = next(line for line in table if "higher ACC than no penalty" in line and "Exp. 2" in line)
    assert "+41.5" in acc_row.split("|")[2] and "+21.5" in acc_row.split("|")[3]  # ACC 91.5 / 71.5 against 50
    assert "no runs" in next(line for line in table if line.startswith("| Exp. 3"))
    # judged: Exp. 1, Exp. 2 ACC, tasks 1-3 above 80 (ewc-previous floors have no runs)
    assert claims.floors_summary(judged["good"]) == "5 of 5 floors met"
    weak_summary = claims.floors_summary(judged["weak"])
    assert weak_summary.startswith("2 of 5 floors met; not met: ") and weak_summary.count("ends above 80 %") == 3

    by_verdict = claims.candidates_table(judged, mark="verdict").data.splitlines()
    row = next(line for line in by_verdict if "higher ACC than no penalty" in line and "Exp. 2" in line)
    assert row.split(" | ")[1].startswith("**reproduced**: +41.5 [") and row.endswith("4 seeds |")
    task3 = next(line for line in by_verdict if "task 3 ends above 80" in line).split(" | ")
    assert task3[1].startswith("**reproduced**") and task3[2].startswith("**contradicted**")  # 90-93 / 70-73 %
    assert "met" not in "".join(by_verdict[2:])
    with pytest.raises(ValueError, match="mark"):
        claims.candidates_table(judged, mark="verdicts")


def test_rerun_expectation_sums_the_chances_and_names_what_the_last_rerun_changed():
    """A claim far from zero is kept by a rerun; one whose interval ends near zero about half the time; the text sums
    the chances of change, gives the fragile claim a seed count that resolves it, and names the claims a rerun
    check's report changed (matched by claim text, whatever chapter and cell printed them)."""
    clear = {s: three_tasks(0.95, 0.30 + 0.01 * s, 0.5) for s in range(5)}  # task 1 loses 30-34 points
    runs = {"none": clear, "ewc-all": {s: three_tasks(0.95, 0.02, 0.80 + 0.01 * s) for s in range(5)}}
    judged = claims.judge_all(claims.report_findings(3)[:5], runs)  # Exp. 1, Exp. 2 ACC, tasks 1-3 above 80 %
    by_text = {j.claim.text: j for j in judged}
    assert by_text["Exp. 1: without a penalty, task 1 loses accuracy while task 2 is learned"].rerun_keeps > 0.99
    edge = by_text["Exp. 2: under EWC on every task, task 3 ends above 80 %"]  # 80-84 %: interval starts near 80
    assert edge.comparison.diff.low < 80.5 - 80 and 0.3 < edge.rerun_keeps < 0.9
    expected = sum(1 - j.rerun_keeps for j in judged if j.comparison is not None)
    report = {
        "finished": "2026-01-01 00:00 UTC",
        "line_differences": [
            {"chapter": "a", "published": [f"cell 3: {edge.claim.text}: reproduced"], "rerun": ["..."]},
            {"chapter": "b", "published": [f"cell 9: {edge.claim.text}: reproduced", "cell 9: not a claim: x"]},
        ],
    }
    text = claims.rerun_expectation(judged, report).data
    # two sure claims and three that flip with chance 0.49 each: none to all three change (0.51^3 = 0.13 > 0.05)
    assert f"about **{expected:.1f} of these {len(judged)} verdicts**, between 0 and 3 in nine" in text
    assert f"*{edge.claim.text}* ({100 * edge.rerun_keeps:.0f} % kept; about " in text and "settle it 9 times" in text
    assert f"changed **1** of them, inside that range: *{edge.claim.text}*." in text
    sure = judged[:2]  # Exp. 1 and Exp. 2's ACC: kept by every rerun, so a check that changed one is a surprise
    surprise = {"finished": "x", "line_differences": [{"published": [f"cell 3: {sure[0].claim.text}: reproduced"]}]}
    assert "between 0 and 0 in nine" in claims.rerun_expectation(sure, surprise).data
    assert "changed **1** of them, outside that range" in claims.rerun_expectation(sure, surprise).data
    assert "changed" not in claims.rerun_expectation(judged, None).data
    strict = 0.9 ** (1 / 5)  # 97.9 %: five verdicts kept together 9 times in 10
    most = max(stats.seeds_to_resolve(j.comparison.diff, strict) for j in judged)
    assert most == stats.seeds_to_resolve(edge.comparison.diff, strict) and most > 5  # the fragile ones need most
    assert "each must be kept 97.9 % of the time" in text and f" to {most} seeds each (most: *Exp. 2: under" in text
    assert "equality" not in text
