"""The book's claims judged on hand-made runs: paired by seed, the right numbers, verdicts at the claimed size,
Holm's adjustment of the primary family, equivalence, and the calibration's floors."""

import dataclasses

import pytest

from ewc import claims, findings
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
    assert j.verdict == claims.HOLDS and j.floor_met
    assert claims.judge(claims.Claim("y", ("l2", claims.acc)), runs).verdict == "no runs"


def drops(values):
    """Runs without a penalty whose task 1 loses ``values`` points (one seed each) while task 2 is learned."""
    return {"none": {s: three_tasks(0.95, d / 100, 0.5) for s, d in enumerate(values)}}


EXP1 = claims.Claim("loses ≥ 20", ("none", claims.loss_after_next(1)), size=20.0)


@pytest.mark.parametrize(
    "values, verdict",
    [
        ([30, 31, 32, 33, 34], claims.HOLDS),  # the whole interval above the size
        ([11, 12, 13, 14, 15], claims.SMALLER),  # above zero, below 20: a sign without the size
        ([-2, -1, 0, 1, 2], claims.CONTRADICTED),  # below the size, and no loss shown at all
        ([5, 35, 10, 30, 20], claims.UNRESOLVED),  # the seeds straddle the size
        ([25], claims.HOLDS + claims.ONE_RUN),  # one run, judged by its value as the report judged its run
        ([5], claims.SMALLER + claims.ONE_RUN),
        ([-1], claims.CONTRADICTED + claims.ONE_RUN),
    ],
)
def test_a_finding_is_judged_at_its_size(values, verdict):
    assert claims.judge(EXP1, drops(values)).verdict == verdict


def test_a_level_has_chance_as_its_null_and_a_direction_minus_one_claim_mirrors():
    runs = {"ewc-all": {s: three_tasks(0.95, 0.02, 0.85 + 0.01 * s) for s in range(4)}}  # every task 85-88 %
    level = claims.Claim("≥ 90 %", ("ewc-all", claims.lowest_final), size=90.0, null=10.0)
    assert claims.judge(level, runs).verdict == claims.SMALLER  # above chance, below 90
    runs["ewc-previous"] = {s: three_tasks(0.95, 0.02, 0.70 + 0.01 * s) for s in range(4)}  # task 1 15 points lower
    below = claims.Claim("≥ 7 below", ("ewc-previous", claims.final(1)), ("ewc-all", claims.final(1)), -1, size=7.0)
    assert claims.judge(below, runs).verdict == claims.HOLDS
    assert claims.judge(dataclasses.replace(below, size=20.0), runs).verdict == claims.SMALLER
    with pytest.raises(ValueError, match="below its null"):
        claims.Claim("bad", ("none", claims.acc), size=5.0, null=10.0)


def test_holm_judges_the_primary_family_together():
    """Losses 1..5 against a size of 1 give p = 0.0237 alone: the claim holds. Two such primary claims adjust to
    0.047 each, and neither holds; as exploratory claims they are judged alone and both hold."""
    runs = drops([1, 2, 3, 4, 5])
    primary = dataclasses.replace(EXP1, size=1.0, primary=True)
    assert claims.judge_all([primary], runs)[0].verdict == claims.HOLDS
    pair = claims.judge_all([primary, dataclasses.replace(primary, text="again")], runs)
    assert [j.verdict for j in pair] == [claims.UNRESOLVED] * 2
    assert pair[0].adjusted[0] == pytest.approx(2 * pair[0].tests[0])
    loose = dataclasses.replace(primary, primary=False)
    assert [j.verdict for j in claims.judge_all([loose, loose], runs)] == [claims.HOLDS] * 2
    page = claims.of_experiment(
        claims.judge_all([dataclasses.replace(primary, experiment="Exp. 1"), primary], runs), "Exp. 1"
    )
    assert len(page) == 1 and page[0].verdict == claims.UNRESOLVED  # judged with its family, shown alone


def test_an_equality_is_equivalent_only_within_a_stated_margin():
    same = {
        "a": {s: three_tasks(0.9, 0.1, 0.8 + 0.002 * (-1) ** s) for s in range(6)},
        "b": {s: three_tasks(0.9, 0.1, 0.8) for s in range(6)},
    }
    eq = claims.Claim("eq", ("a", claims.acc), ("b", claims.acc), direction=0, margin=2.0)
    assert claims.judge(eq, same).verdict == claims.equivalent(2.0) == "equivalent within ±2"
    assert claims.judge(dataclasses.replace(eq, margin=None), same).verdict == claims.UNRESOLVED
    assert claims.judge(dataclasses.replace(eq, margin=0.05), same).verdict == claims.UNRESOLVED
    same["a"] = {s: three_tasks(0.9, 0.1, 0.85 + 0.001 * s) for s in range(6)}  # 5 points apart
    assert claims.judge(eq, same).verdict == claims.CONTRADICTED


def test_verdict_lines_name_the_claim_and_its_verdict_only():
    runs = {"none": {s: three_tasks(0.95, 0.3 + 0.01 * s, 0.5) for s in range(3)}}
    lines = claims.verdict_lines(claims.judge_all(findings.report_findings(3)[:1], runs))
    assert lines == [f"{findings.report_findings(3)[0].text}: {claims.HOLDS}"]


def test_the_report_values_behind_the_sizes_are_the_digitized_figures():
    from ewc import report_figures

    ends = {mode: report_figures.end_of_task_matrix(mode)[-1] for mode in findings.REPORT_ACC}
    for mode, value in findings.REPORT_ACC.items():
        assert value == pytest.approx(100 * sum(ends[mode]) / len(ends[mode]), abs=0.05), mode
    for mode, value in findings.REPORT_TASK1_FINAL.items():
        assert value == pytest.approx(100 * ends[mode][0], abs=0.05), mode
    texts = [c.text for c in findings.report_findings(5) if c.primary]
    assert [claims.size_text(c) for c in findings.report_findings(5) if c.primary] == [
        "≥ 20",
        "≥ 90",
        "≥ 15",
        "≤ −7",
        "≥ 3",
        "≥ 12",
    ], texts


def test_candidates_side_by_side_and_their_floors_summarized():
    """Each candidate's column holds its own numbers; a candidate without some runs says so; the summary counts only
    the floors that could be judged and names the ones missed."""
    none = {s: three_tasks(0.95, 0.3 + 0.01 * s, 0.5) for s in range(4)}
    good = {"none": none, "ewc-all": {s: three_tasks(0.95, 0.02, 0.9 + 0.01 * s) for s in range(4)}}
    weak = {"none": none, "ewc-all": {s: three_tasks(0.95, 0.02, 0.7 + 0.01 * s) for s in range(4)}}
    floors = findings.calibration_floors(3)
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
    assert row.split(" | ")[1].startswith(f"**{claims.HOLDS}**: +41.5 [") and row.endswith("4 seeds |")
    task3 = next(line for line in by_verdict if "task 3 ends above 80" in line).split(" | ")
    assert task3[1].startswith(f"**{claims.HOLDS}**") and task3[2].startswith("**contradicted**")  # 90-93 / 70-73 %
    assert "met" not in "".join(by_verdict[2:])
    with pytest.raises(ValueError, match="mark"):
        claims.candidates_table(judged, mark="verdicts")


def test_floors_table_counts_each_candidates_floors_and_names_what_the_chosen_one_misses():
    """The same hand-made runs as the candidates test: 'good' meets its 5 judged floors (Exp. 1, Exp. 2's ACC and
    three tasks above 80 %), 'weak' (every task ends at 70-73 %) only the first two."""
    none = {s: three_tasks(0.95, 0.3 + 0.01 * s, 0.5) for s in range(4)}
    good = {"none": none, "ewc-all": {s: three_tasks(0.95, 0.02, 0.9 + 0.01 * s) for s in range(4)}}
    weak = {"none": none, "ewc-all": {s: three_tasks(0.95, 0.02, 0.7 + 0.01 * s) for s in range(4)}}
    floors = findings.calibration_floors(3)
    judged = {"good": claims.judge_all(floors, good), "weak": claims.judge_all(floors, weak), "none yet": []}
    lines = claims.floors_table(judged, chosen="weak").data.splitlines()
    assert lines[0] == "| candidate (images × passes, λ) | seeds | floors met |"
    assert lines[2:5] == [
        "| good | 0–3 | 5 of 5 |",
        "| **weak (chosen)** | 0–3 | 2 of 5 |",
        "| none yet | — | no runs |",
    ]
    assert lines[-1].startswith("The chosen candidate misses: Exp. 2: under EWC on every task, task 1 ends above 80 %")
    assert lines[-1].count("ends above 80 %") == 3
    assert claims.floors_table(judged, chosen="good").data.endswith("The chosen candidate meets every floor.")
    assert "chosen" not in claims.floors_table(judged).data
