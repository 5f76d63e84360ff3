"""The Discussion pages' Readings say what hand-made runs give: each number, ordering and verdict word below is derived
by hand from the matrices, not by the code under test."""

import re

import pytest

from ewc import block_reading, claims, findings
from ewc import discussion_readings as dr
from ewc.markdown import seeds_text
from ewc.results import metrics


def run(matrix, seed=0, lam=1000.0):
    return {"task_matrix": matrix, "metrics": metrics(matrix), "config": {"lam": lam, "seed": seed}}


def two_tasks(first, after, second, seed=0):
    """Task 1 learned to ``first`` and at ``after`` once task 2 is learned to ``second``."""
    return run([[first, None], [after, second]], seed)


def text(md) -> str:
    return md.data


def test_seeds_are_named_as_a_reader_counts_them():
    assert seeds_text([2, 0, 1, 3, 4]) == "seeds 0–4"
    assert seeds_text({0}) == "seed 0"
    assert seeds_text([5, 0, 2]) == "seeds 0, 2 and 5"


def test_modes_reading_cites_task_1_the_best_penalty_the_others_and_plasticity():
    runs = {
        # no penalty: task 1 from 96/94 % to 20/30 %; ACC (20+90)/2, (30+90)/2 = 55, 60 -> 57.5; just learned 93, 92
        "none": {0: two_tasks(0.96, 0.20, 0.90, 0), 1: two_tasks(0.94, 0.30, 0.90, 1)},
        # EWC: task 1 kept at 95 %, task 2 learned to 85 %: ACC 90; just learned 95.5/94.5 with 85 -> 90.0 mean
        "ewc-all": {0: two_tasks(0.96, 0.95, 0.85, 0), 1: two_tasks(0.94, 0.95, 0.85, 1)},
        "l2": {0: two_tasks(0.96, 0.50, 0.80, 0), 1: two_tasks(0.94, 0.60, 0.80, 1)},  # ACC 65, 70 -> 67.5
    }
    said = text(dr.modes_reading(runs))
    assert said.startswith("**Reading.** Without a penalty task 1 falls from 95.0 % to 25.0 % and ACC ends at 57.5 %.")
    assert (
        "EWC on every previous task keeps task 1 at 95.0 % and ends highest, at 90.0 %; the L2 pull at 67.5 %" in said
    )
    # just learned: none (96+90)/2, (94+90)/2 -> 92.5; EWC (96+85)/2, (94+85)/2 -> 90.0
    assert said.endswith(
        "The price is plasticity: a task just learned reaches 90.0 % under EWC on every previous task, 92.5 % "
        "without a penalty."
    )
    table = text(dr.modes_table(runs))
    assert "| No penalty | 0–1 | 57.5 ± 3.5 | 25.0 ± 7.1 | 92.5 ± 0.7 |" in table


def flat(acc, learned=None, lam=1000.0):
    """A 2-task run in which task 1 is learned to ``acc`` and kept, task 2 learned to ``learned`` (default ``acc``)."""
    return run([[acc, None], [acc, acc if learned is None else learned]], lam=lam)


def sweep(accs):
    return {lam: flat(acc, lam=lam) for lam, acc in accs.items()}


def test_lambda_reading_keeps_a_share_of_the_gain_and_judges_against_seed_noise():
    none = {0: run([[0.9, None], [0.5, 0.9]], 0), 1: run([[0.9, None], [0.5, 0.9]], 1)}  # ACC 70
    s = sweep({10: 0.86, 100: 0.89, 1000: 0.90, 10000: 0.84})
    # bound: 1.96 · √2 · 1.0 = 2.77 points; λ = 10000 is 6 points below λ = 1000, λ = 10 4 below, λ = 100 1 below
    said = text(dr.lambda_reading(s, 1000.0, acc_sd=1.0, just_learned_sd=1.0, none=none))
    assert (
        "ACC runs from 84.0 % (λ = 10,000) to 90.0 % (λ = 1,000), against 70.0 % without a penalty (seeds 0–1)" in said
    )
    assert "Even λ = 10 keeps 80 % of the gain λ = 1,000 (90.0 %) makes" in said  # (86 - 70) / (90 - 70)
    assert "beyond seed noise (±2.8 points) at λ = 10, 10,000;" in said
    # 84 % learned at λ = 10,000 against 90 at λ = 1,000: 6 points lower, beyond 2.77
    assert said.endswith(
        "the stiffest penalty costs plasticity: tasks just learned reach 84.0 % at λ = 10,000, 90.0 % at λ = 1,000."
    )
    table = text(dr.lambda_table(s, 1000.0, acc_sd=1.0))
    assert "| 10 | 86.0 | 86.0 | **−4.0** |" in table
    assert "| 100 | 89.0 | 89.0 | −1.0 |" in table
    assert "| 1,000 | 90.0 | 90.0 | — |" in table
    assert "ACC minus λ = 1,000's (points; bold: beyond ±2.8) |" in table


def test_lambda_reading_says_when_the_smallest_lambda_gives_back_no_penalty():
    none = {0: run([[0.9, None], [0.5, 0.9]], 0)}  # ACC 70
    s = {1: flat(0.71, lam=1), 1000: flat(0.90), 10000: flat(0.90, learned=0.91, lam=10000)}  # learned 90.5 %
    said = text(dr.lambda_reading(s, 1000.0, acc_sd=1.0, just_learned_sd=1.0, none=none))
    assert "At λ = 1 ACC is back within seed noise of no penalty." in said  # 71 - 70 < 2.77
    assert "beyond seed noise (±2.8 points) at λ = 1;" in said  # 90.5 at λ = 10,000 is within
    assert "the stiffest does not freeze the network: tasks just learned reach 90.5 % at λ = 10,000" in said


def judged_on(network, effects_by_label, prefix=False):
    """Judgements of two report-style claims on hand-made per-seed ACCs (a claim's ``a`` minus ``b``)."""
    cs = [
        claims.Claim("A above B", ("a", claims.acc), ("b", claims.acc), size=5.0, primary=True, label="A ≥ 5 above B"),
        claims.Claim("C above B", ("c", claims.acc), ("b", claims.acc), label="C above B"),
    ]
    if prefix:
        cs = findings.on_network(cs, network)
    runs = {
        label: {s: run([[v / 100, None], [v / 100, v / 100]], s) for s, v in enumerate(values)}
        for label, values in effects_by_label.items()
    }
    return claims.judge_all(cs, runs)


def test_one_claims_table_puts_each_networks_verdict_on_the_claims_row():
    cnn = judged_on("CNN", {"a": [90, 91, 92], "b": [60, 61, 62], "c": [70, 71, 72]})
    mlp = judged_on("MLP", {"a": [80, 90, 70], "b": [79, 78, 80]}, prefix=True)  # c not run on the MLP
    table = text(dr.claims_by_network({"CNN": cnn, "MLP": mlp}))
    rows = {line.split(" | ")[0].lstrip("| "): line for line in table.splitlines()[2:]}
    assert list(rows) == ["A ≥ 5 above B", "C above B"]  # the MLP's prefixed rows join the CNN's
    assert rows["A ≥ 5 above B"].startswith("| A ≥ 5 above B | primary | **holds at the report's size**: +30.0 ")
    assert "| **not resolved**: +1.0" in rows["A ≥ 5 above B"]  # MLP: differences 1, 12, -10 -> mean 1
    assert rows["C above B"].endswith("| no runs |")
    assert "CNN, seeds 0–2" in table.splitlines()[0]


def test_networks_reading_counts_the_findings_whose_verdicts_agree():
    cnn = judged_on("CNN", {"a": [90, 91, 92], "b": [60, 61, 62], "c": [70, 71, 72]})
    mlp = judged_on("MLP", {"a": [90, 91, 92], "b": [60, 61, 62], "c": [59, 61, 63]}, prefix=True)
    runs = {
        "CNN": {"none": {0: two_tasks(0.9, 0.3, 0.9)}, "ewc-all": {0: two_tasks(0.9, 0.85, 0.85)}},
        "MLP": {"none": {0: two_tasks(0.94, 0.5, 0.92)}, "ewc-all": {0: two_tasks(0.94, 0.9, 0.9)}},
    }
    said = text(dr.networks_reading(runs, {"CNN": cnn, "MLP": mlp}))
    # MLP just learned (94 + 92) / 2 = 93.0, CNN 90.0; task 1 kept at 50 against 30; ACC 71 against 60
    assert "the MLP learns a task to 93.0 % (CNN: 90.0 %) and keeps task 1 at 50.0 % (CNN: 30.0 %)" in said
    assert "so it ends higher: ACC 71.0 % against 60.0 %; with EWC on every task, 90.0 % against 85.0 %." in said
    assert said.endswith(
        "Of the report's 2 findings, 1 gets the same verdict on both and 1 differs (the claims table below)."
    )


@pytest.mark.parametrize(
    "a, b, noise", [([90, 91, 93], [88, 88, 92], 1.0), ([90, 91], [85, 86], 3.0), ([90], [85], 1.0), ([90], [89], 1.0)]
)
def test_group_verdict_is_compare_groups_verdict(a, b, noise):
    ra = {s: run([[v / 100, None], [v / 100, v / 100]], s) for s, v in enumerate(a)}
    rb = {s: run([[v / 100, None], [v / 100, v / 100]], s) for s, v in enumerate(b)}
    v = block_reading.group_verdict(ra, rb, claims.acc, noise)
    line = claims.compare_groups("x", ra, rb, claims.acc, noise)
    assert line.startswith(f"x: {v.verdict} (")
    assert v.mean_a == pytest.approx(sum(a) / len(a)) and v.paired == (len(a) >= 3)


def cell(acc_end, learned, seeds=(0,)):
    """Runs over ``seeds`` of a 2-task cell: task 1 learned to 95 % and ending at ``acc_end`` (mean forgetting
    95 - ``acc_end``), task 2 learned to ``learned`` (ACC the mean of the two); seed s adds s points to both."""
    return {s: run([[0.95, None], [acc_end + s / 100, learned + s / 100]], s) for s in seeds}


def test_block_reading_answers_its_three_questions_from_the_grid():
    three = (0, 1, 2)
    grid = {
        ("CNN", "pixel", "none"): cell(0.50, 0.88, three),
        ("CNN", "pixel", "ewc-all"): cell(0.80, 0.86, three),
        ("CNN", "block", "none"): cell(0.70, 0.95),
        ("CNN", "block", "ewc-all"): cell(0.90, 0.94),
        ("MLP", "pixel", "none"): cell(0.70, 0.93, three),
        ("MLP", "pixel", "ewc-all"): cell(0.90, 0.92, three),
        ("MLP", "block", "none"): cell(0.55, 0.935),
        ("MLP", "block", "ewc-all"): cell(0.85, 0.93),
    }
    said = text(block_reading.block_reading(grid, {"CNN": 1.0, "MLP": 1.0}, "7×7 blocks"))
    answers = re.findall(r"^\d\. (.*)$", said, re.M)
    assert len(answers) == 3
    # 1: the CNN's block ACC (70 + 95) / 2 = 82.5 -> (90 + 94) / 2 = 92.0: +9.5 points, beyond 2.77 -> holds
    assert answers[0].startswith("*Does EWC still help when tasks share local structure?* Yes: on 7×7 blocks")
    assert "the CNN's ACC from 82.5 to 92.0 % (+9.5 points: holds)" in answers[0]
    assert "seed 0, judged against the seed spread of the pixel runs" in answers[0]
    # pixel ACC over seeds 0-2: CNN (50 + 88) / 2 + 1 = 70 -> (80 + 86) / 2 + 1 = 84; MLP 82.5 -> 92
    assert "On pixel tasks it adds +14.0 points (CNN) and +9.5 points (MLP)" in answers[0]
    # 2: tasks 2..T learned: CNN 89 % on pixels (88, 89, 90) against 95 on blocks; pixel sd 1 -> beyond noise;
    # the MLP 94 against 93.5: within; on pixels the MLP's ACC is 12.5 points above the CNN's on every seed
    assert answers[1].startswith("*Is the CNN handicapped by pixel permutations?* Yes: ")
    assert (
        "the CNN learns tasks 2 onwards to 89.0 % on pixel permutations and 95.0 % on 7×7 blocks (beyond" in answers[1]
    )
    assert "the MLP to 94.0 % on pixel permutations and 93.5 % on 7×7 blocks (within seed noise)" in answers[1]
    assert (
        "the MLP beats the CNN without a penalty (ACC 82.5 against 70.0 %, paired over seeds 0–2) and with EWC"
        in answers[1]
    )
    # 3: mean forgetting without a penalty: pixel CNN 95 - 51 = 44, MLP 95 - 71 = 24; block CNN 25, MLP 40
    assert answers[2].startswith("*Which network forgets less?* It depends on the task family. Without a penalty, ")
    assert "on pixel tasks the MLP forgets less (24.0 against 44.0 points" in answers[2]
    assert "on 7×7 blocks the CNN forgets less (25.0 against 40.0 points" in answers[2]
    assert answers[2].endswith("With EWC on every task both forget 4.0 to 14.0 points.")  # MLP pixel, CNN pixel


def test_rerun_summary_on_clear_effects_changes_nothing():
    judged = judged_on("CNN", {"a": [90, 91, 92, 93], "b": [60, 61, 62, 63], "c": [70, 71, 72, 73]})
    said = text(dr.rerun_summary(judged))
    assert said.startswith(
        "A rerun should change about 0.0 of the 1 exploratory verdicts (0 to 0 in nine reruns of ten"
    )
    assert "keep every primary verdict in 100 % of reruns." in said
    few = judged_on("CNN", {"a": [90, 91], "b": [60, 61]})
    assert text(dr.rerun_summary(few)).startswith("Too few seeds")


def test_progress_is_counted_in_tasks_and_says_what_a_point_is():
    from ewc import plots

    assert plots.progress_label({"iterations": 250, "epochs": 4}) == (
        "tasks trained (a point every quarter of a task's 250 steps)"
    )
    assert plots.progress_label({"iterations": 250, "epochs": 1}) == (
        "tasks trained (a point at the end of each task's 250 steps)"
    )
    assert plots.progress_label({"iterations": 0, "epochs": 30, "train_size": 60000}) == (
        "tasks trained (a point per epoch: a pass over a task's 60,000 images)"
    )
    assert list(plots.progress_x(8, 4)) == [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0]  # task 2 ends on 2


def test_task_panels_put_two_per_row_and_draw_the_mean_over_seeds():
    from ewc import plots

    def curve_run(a, b):  # 2 tasks, 2 points each: task 2 from the third point
        config = {"epochs": 2, "iterations": 10, "mode": "none"}
        return {"config": config, "accuracy": [[a, None], [a, None], [a - 0.2, b], [a - 0.4, b]]}

    runs = [curve_run(0.9, 0.8), curve_run(0.7, 0.6)]
    fig = plots.plot_task_panels({"one": runs, "two": runs, "three": runs})
    axes = fig.get_axes()
    assert len(axes) == 4 and not axes[3].axison  # a 2 × 2 grid, the spare slot holding the legend
    task1 = axes[0].get_lines()[0]
    assert list(task1.get_xdata()) == [0.5, 1.0, 1.5, 2.0]
    assert list(task1.get_ydata()) == pytest.approx([80, 80, 60, 40])  # mean of 90 and 70, then 20 and 40 lower
    assert list(axes[0].get_xticks()) == [0, 1, 2]
    assert fig._supxlabel.get_text() == "tasks trained (a point every half of a task's 10 steps)"
