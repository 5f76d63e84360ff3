"""The dose-response of forgetting read from runs: task 1's curve through task 2, the paper suite's seed 0 counted
once its second task is done, the summary's losses by hand, and a reading whose numbers come from the curves."""

import json

import pytest

from ewc import forgetting, suites


def fake_result(config, task1_curve, complete=True, tasks_done=None):
    """A results dict of ``config`` whose task 1 accuracy (fractions) follows ``task1_curve`` from the end of task 1
    (epochs + 1 values, then flat)."""
    epochs, tasks = config.epochs, config.tasks
    rows = [[0.5] + [None] * (tasks - 1) for _ in range(epochs - 1)]
    rows += [[v] + [0.9] * (tasks - 1) for v in task1_curve]
    done = tasks_done if tasks_done is not None else tasks
    rows += [[task1_curve[-1]] + [0.9] * (tasks - 1)] * (done * epochs - len(rows))
    return {
        "format": "ewc-results/1",
        "complete": complete,
        "config": config.to_dict(),
        "accuracy": rows[: done * epochs],
    }


def write(root, suite_name, run, result):
    path = suites.suite(suite_name).path(run, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))


@pytest.fixture
def root(tmp_path, monkeypatch):
    from ewc import results

    monkeypatch.setattr(results, "FORMAT", "ewc-results/1")
    monkeypatch.setattr(
        suites, "status", lambda config, path, current_fingerprint=None: "done" if path.is_file() else "missing"
    )
    return tmp_path


def test_curves_come_from_the_suite_and_the_paper_run_once_two_tasks_are_done(root):
    paper = suites.suite("paper").runs["none/seed-0"]
    dose = suites.suite("forgetting").runs
    drop = [0.99 - 0.01 * e for e in range(31)]  # loses 1 point per epoch of task 2
    write(root, "paper", "none/seed-0", fake_result(paper, drop, complete=False, tasks_done=1))
    assert forgetting.curves(root)["none_fresh-adam"] == {}  # task 2 not done yet
    write(root, "paper", "none/seed-0", fake_result(paper, drop, complete=False, tasks_done=2))
    write(root, "forgetting", "none_carried-adam/seed-1", fake_result(dose["none_carried-adam/seed-1"], [0.98] * 31))
    found = forgetting.curves(root)
    assert found["none_fresh-adam"][0] == pytest.approx([99 - e for e in range(31)])
    assert list(found["none_carried-adam"]) == [1] and found["none_carried-adam"][1] == pytest.approx([98.0] * 31)
    assert forgetting.losses(found["none_fresh-adam"], 30) == pytest.approx([30.0])
    rows = forgetting.summary_rows(found)
    assert rows[0] == ["a fresh Adam for task 2", "1.0 (1 seed)", "5.0 (1 seed)", "10.0 (1 seed)", "30.0 (1 seed)"]
    assert rows[1][1:] == ["0.0 (1 seed)"] * 4 and rows[2][0] == "the report (Fig. 3)"


def test_the_reading_cites_its_numbers_and_pairs_seeds():
    report = forgetting.report_curve()
    found = {
        "none_fresh-adam": {s: [99.0 - (1 + s / 30) * e for e in range(31)] for s in range(3)},  # loses 30, 31, 32
        "none_carried-adam": {s: [99.0 - 0.1 * e for e in range(31)] for s in range(3)},  # loses 3
    }
    text = forgetting.reading(found)
    assert f"and {report[0] - report[30]:.1f} by its 30th" in text
    assert "(3 seeds) task 1 loses 5.2 points after 5 epochs and 31.0 (seeds 30.0 to 32.0) after 30" in text
    assert "a fresh Adam loses +28.0 points more after 30 epochs [+25.5, +30.5]" in text and "state matters" in text
    inside = "the report's 32.1 outside that range"  # 32.1 > 32.0
    assert inside in text
    assert "No run" in forgetting.reading({"none_fresh-adam": {}, "none_carried-adam": {}})


def test_one_seed_is_set_beside_the_report_without_a_range():
    report = forgetting.report_curve()
    r30 = round(report[0] - report[30], 1)
    one = {"none_fresh-adam": {0: [99.0 - e for e in range(31)]}, "none_carried-adam": {}}  # loses 30.0
    text = forgetting.reading(one)
    assert (
        f"(1 seed) task 1 loses 5.0 points after 5 epochs and 30.0 after 30 (less than the report's {r30:.1f}; " in text
    )
    assert "range" not in text.replace("one run has no range", "")
    assert "seed trained both ways" not in text


def test_one_seed_trained_both_ways_is_one_pair_without_an_interval():
    found = {
        "none_fresh-adam": {0: [99.0 - e for e in range(31)], 1: [98.0 - 0.8 * e for e in range(31)]},  # 1 loses 24
        "none_carried-adam": {1: [98.5 - 0.3 * e for e in range(31)]},  # loses 9
    }
    text = forgetting.reading(found)
    assert (
        "At seed 1, the one seed trained both ways from the same task 1, a fresh Adam loses +15.0 points more after "
        "30 epochs (24.0 against 9.0): one pair, judged as one run, with no interval." in text
    )
    assert "Paired by seed" not in text


def test_a_missing_run_is_named_in_the_readers_words():
    """Never the run's file name: its mode, the settings in which its suite's runs differ, its seed."""
    from ewc import chapter

    assert chapter.run_label("forgetting", "none_carried-adam/seed-0") == (
        "No penalty, one Adam carried across tasks, seed 0"
    )
    assert chapter.run_label("paper", "ewc-previous/seed-0") == "EWC on the previous task only, seed 0"
    assert chapter.run_label("report-scale", "none/seed-1") == "No penalty, seed 1"  # λ means nothing without a penalty


def test_the_figures_legend_names_each_settings_seeds():
    from ewc import plots

    curve = [99.0 - e for e in range(31)]
    ax = plots.plot_forgetting({"fresh": {0: curve, 2: curve}, "carried": {1: curve}, "none yet": {}}, curve)
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["fresh (seeds 0 and 2)", "carried (seed 1)", "the report (Fig. 3)"]
