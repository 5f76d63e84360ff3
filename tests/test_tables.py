"""The comparison with the report reads the right cells of hand-made end-of-task matrices."""

import pytest

from ewc import cost_tables, published_tables, stats, tables


def run(matrix):
    config = {"epochs": 4, "train_size": 4000, "lr": 0.0035, "lam": 1000.0, "profile": "quick", "tasks": 3}
    return {"task_matrix": matrix, "config": config}


def test_report_comparison_reads_each_cell_from_the_matrices_over_seeds():
    none = [[0.95, None, None], [0.61, 0.87, None], [0.40, 0.55, 0.91]]
    every = [[0.95, None, None], [0.93, 0.85, None], [0.92, 0.84, 0.83]]
    previous = [[0.95, None, None], [0.93, 0.86, None], [0.88, 0.85, 0.82]]
    shifted = [[None if v is None else v - 0.02 for v in row] for row in none]  # a second seed, 2 points lower
    runs = {"none": {0: run(none), 1: run(shifted)}, "ewc-all": {0: run(every)}, "ewc-previous": {0: run(previous)}}
    text = published_tables.report_comparison(runs).data
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()}
    assert rows["no penalty: task 1 right after learning it"].endswith("| 94.0 ± 1.4 % |")  # sd of 95, 93
    assert rows["no penalty: task 1 after task 2"].endswith("| 60.0 ± 1.4 % |")
    assert rows["no penalty: tasks 2 to 3 right after learning each"].endswith("| 88.0 ± 1.4 % |")
    assert rows["EWC on every task: lowest task at the end"].endswith("| 83.0 % |")
    assert rows["EWC on the previous task: task 1 at the end"].endswith("| 88.0 % (EWC on every task: 92.0 %) |")
    assert "4 epoch(s) × 4,000 images, Adam 0.0035, λ = 1000 (`quick`)" in rows["training per task"]


def test_seed_accuracy_band_is_the_mean_and_sample_sd():
    import numpy as np

    from ewc import plots

    def run(a, b):
        return {
            "config": {"epochs": 1, "mode": "none", "profile": "smoke", "arch": "mlp", "lam": 0},
            "accuracy": [[a, None], [a - 0.1, b]],
        }

    runs = [run(0.9, 0.8), run(0.7, 0.6), run(0.8, 0.7)]
    ax = plots.plot_seed_accuracy(runs)
    task1 = [line for line in ax.lines if line.get_label() == "task 1"][0]
    assert np.allclose(task1.get_ydata(), [80, 70])
    band = ax.collections[0].get_paths()[0].vertices[:, 1]
    assert np.isclose(band.max(), 80 + 10) and np.isclose(band.min(), 70 - 10)  # sd of 90, 70, 80 (n - 1) = 10


def test_accuracy_figures_count_training_in_tasks_and_say_what_a_point_is():
    """At the quick profile a task's 250 steps give 4 accuracy rows: the points sit at quarters of a task, the task
    boundaries at whole numbers, and the axis says so (not "epoch")."""
    import numpy as np

    from ewc import plots

    config = {"epochs": 4, "iterations": 250, "mode": "none", "profile": "quick", "arch": "cnn", "lam": 0}
    rows = [[0.9] + [None] * 4] * 4 + [[0.8, 0.9] + [None] * 3] * 4
    ax = plots.plot_seed_accuracy([{"config": config, "accuracy": rows}] * 2)
    task1 = [line for line in ax.lines if line.get_label() == "task 1"][0]
    assert np.allclose(task1.get_xdata(), [0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0])
    assert ax.get_xlabel() == "tasks trained (a point every quarter of a task's 250 steps)"
    vertical = [line.get_xdata() for line in ax.lines if len(set(line.get_xdata())) == 1]
    assert [x[0] for x in vertical] == [1]  # the boundary between the two tasks
    paper = {"epochs": 30, "iterations": 0, "train_size": 60000}
    assert plots.progress_label(paper) == "tasks trained (a point per epoch: a pass over a task's 60,000 images)"


def test_a_rerun_check_of_earlier_profile_values_is_said_to_be_stale(tmp_path, monkeypatch):
    """A report that checked other values of the profile (or, written before reports recorded them, none) is not the
    present runs' check: ``current_only`` drops it."""
    import json

    from ewc import chapter
    from ewc.config import make_config

    monkeypatch.setenv("EWC_RESULTS_DIR", str(tmp_path))
    (tmp_path / "quick").mkdir()
    path = tmp_path / "quick" / "rerun-check.json"
    report = {"finished": "x", "wall_s": 60.0, "checked_lines_identical": True, "means": []}
    assert chapter.rerun_check("quick") is None
    for stored, current in (
        (None, False),
        (make_config("quick", train_size=make_config("quick").train_size + 1).to_dict(), False),
        (make_config("quick").to_dict(), True),
    ):
        path.write_text(json.dumps({**report, **({"profile_config": stored} if stored else {})}))
        assert chapter.rerun_check("quick")["current"] is current
        assert (chapter.rerun_check("quick", current_only=True) is None) is not current


def acc_run(acc):
    return {"metrics": {"acc": acc}}


def test_benchmark_table_puts_ours_beside_theirs_with_an_interval_of_the_difference():
    """Two seeds at 80 % and 82 %: mean 81, SEM 1; against 78.51 ± 0.24 the difference is +2.49 with half-width
    t(1) sqrt(1 + 0.24^2) = 12.706 * 1.02840 = 13.07; one seed gives no interval; no seed says so."""
    published = {"none": (78.51, 0.24), "ewc-all": (94.31, 0.11), "ewc-online": (94.42, 0.13)}
    ours = {"none": {0: acc_run(0.80), 1: acc_run(0.82)}, "ewc-all": {2: acc_run(0.95)}}
    lines = published_tables.benchmark_table(published, ours, "them").data.splitlines()
    assert "them, ACC % (mean ± SEM)" in lines[0]
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in lines[2:]}
    assert rows["No penalty"][2] == "81.00 ± 1.00 (2 seeds)"
    assert rows["No penalty"][3].rstrip(" |") == "+2.49 [−10.58, +15.56]"
    assert (
        rows["EWC on every previous task"][2] == "95.00 (1 seed)"
        and rows["EWC on every previous task"][3].rstrip(" |") == "+0.69"
    )
    assert rows["Online EWC (running sum)"][2] == "not run yet"


def test_benchmark_verdicts_judge_the_whole_interval_against_the_tolerance():
    """By hand, t(2) = 4.303: three seeds 94.0/94.2/94.4 (SEM 0.1155) against 94.31 ± 0.11 give −0.11 ± 0.69, inside
    ±3; 85.0/85.2/85.4 against 94.42 ± 0.13 give −9.22 ± 0.75, outside; two seeds 80/82 against 78.51 ± 0.24 give
    +2.49 ± 13.07 (t(1) = 12.706), crossing +3; one seed has no interval; 93.0/93.2/93.4 against 94.42 ± 0.13 give
    −1.22 ± 0.75, inside ±3 and wholly below 0."""
    published = {"a": (94.31, 0.11), "b": (94.42, 0.13), "c": (78.51, 0.24), "d": (94.31, 0.11), "e": (1.0, 0.1)}
    published["f"] = (94.42, 0.13)  # 93.0/93.2/93.4: −1.22 ± 0.75, inside ±3 and below theirs
    ours = {
        "a": {0: acc_run(0.940), 1: acc_run(0.942), 2: acc_run(0.944)},
        "b": {0: acc_run(0.850), 1: acc_run(0.852), 2: acc_run(0.854)},
        "f": {0: acc_run(0.930), 1: acc_run(0.932), 2: acc_run(0.934)},
        "c": {0: acc_run(0.80), 1: acc_run(0.82)},
        "d": {0: acc_run(0.95)},
    }
    gap = stats.against_published(ours["a"], 94.31, 0.11)
    assert gap.n == 3 and gap.diff == pytest.approx(-0.11) and gap.sem == pytest.approx(0.2 / 3**0.5)
    assert gap.high - gap.diff == pytest.approx(4.303 * (0.2**2 / 3 + 0.11**2) ** 0.5, rel=1e-4)
    assert published_tables.benchmark_verdicts(published, ours) == [
        "a: ours − theirs −0.1 points, 95 % interval inside ±3: within 3 points",
        "b: ours − theirs −9.2 points, 95 % interval outside ±3: off by more than 3 points",
        "c: ours − theirs +2.5 points, 95 % interval crosses ±3: undecided (2 seeds)",
        "d: ours − theirs +0.7 points (1 seed, no interval): undecided, the point is inside ±3",
        "e: not run yet",
        "f: ours − theirs −1.2 points, 95 % interval inside ±3: within 3 points and below theirs (the interval "
        "excludes 0)",
    ]
    assert published_tables.benchmark_verdicts({"c": (78.51, 0.24)}, ours, tolerance=20)[0].endswith("within 20 points")


def test_lambda_grid_table_marks_their_choice_and_our_best():
    grid = {"ewc-all": {1.0: acc_run(0.80), 100.0: acc_run(0.93), 1e4: acc_run(0.90)}, "ewc-online": {1.0: None}}
    lines = published_tables.lambda_grid_table(grid, {"ewc-all": 500.0, "ewc-online": 100.0}).data.splitlines()
    assert lines[0] == "| λ | EWC on every previous task, ACC % | Online EWC (running sum), ACC % |"
    cells = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in lines[2:]}
    assert list(cells) == ["1", "100", "500", "10000"]
    assert cells["100"][0] == "**93.00**" and cells["1"][0] == "80.00"
    assert cells["500"][0] == "— (their choice)" and cells["100"][1].rstrip(" |") == "— (their choice)"
    report = published_tables.lambda_grid_table({"ewc-all": {200.0: acc_run(0.9)}}, {"ewc-all": 200.0}, "the report's")
    assert report.data.splitlines()[2] == "| 200 | **90.00** (the report's) |"


def test_training_length_and_description_count_steps_when_the_profile_does():
    """By epochs: '4 epoch(s) × 4,000 images' and the chapters' old line; by steps: 250 steps of 64 images over 16,000
    images is one pass (a sixteenth of the steps would be 1/16), and the description says how often accuracy is
    measured, and which tasks are permuted and padded."""
    from ewc.config import make_config

    by_epochs = make_config("quick", train_size=4000, epochs=4, iterations=0)
    assert tables.training_length(by_epochs) == "4 epoch(s) × 4,000 images"
    assert "training: 4 epoch(s) per task, batch 64, Adam lr 0.0035" in tables.describe(by_epochs)
    by_steps = make_config("quick", train_size=16000, epochs=4, iterations=250)
    assert tables.training_length(by_steps.to_dict()) == "250 steps of 64 over 16,000 images (1 pass)"
    assert tables.passes_per_task({**by_steps.to_dict(), "iterations": 125}) == 0.5
    assert "training: 250 steps per task (1 pass(es)), accuracy measured 4 times, batch 64" in tables.describe(by_steps)
    padded = make_config("paper", arch="mlp", mlp_hidden=(1000, 1000), tasks=10, image_size=32, permute_first=True)
    lines = tables.describe(padded).splitlines()
    assert lines[1] == "network: MLP 1024-1000-1000-10"
    assert lines[2].startswith("tasks: 10 (10 pixel permutations of MNIST, zero-padded to 32×32)")


def test_run_minutes_sums_each_runs_recorded_task_times_not_its_last_process_wall_time():
    def run(train, fisher, evaluate):
        return {"timings": {"train_s": train, "eval_s": evaluate, "fisher_s": fisher, "total_s": 60.0}}  # resumed

    none = {0: run([600, 600], [], [30, 30])}  # 21 min
    ewc = {0: run([600, 600], [120], [30, 30]), 1: run([600, 630], [120], [30, 30])}  # 23 and 23.5 min
    both = cost_tables.run_minutes({"none": none, "ewc-all": ewc})
    assert both == "each took 21–24 min of training, Fisher and evaluation"
    assert cost_tables.run_minutes({"none": none}) == "each took 21 min of training, Fisher and evaluation"
    assert cost_tables.run_minutes({}) == ""


def test_power_of_ten_writes_rates_as_a_reader_does():
    assert tables.power_of_ten(1e-4) == "10⁻⁴"
    assert tables.power_of_ten(0.0035) == "3.5·10⁻³"
    assert tables.power_of_ten(2.5e-5) == "2.5·10⁻⁵"
    assert tables.power_of_ten(0.5) == "0.5" and tables.power_of_ten(1000.0) == "1000"


def test_settings_table_puts_the_profile_beside_the_report_in_words():
    """The quick profile against the paper profile (the report's Appendix A), read row by row: what the profile keeps
    says "same", what it changes shows its value, and every report value says where the report states it."""
    from ewc.config import make_config

    text = tables.settings_table(make_config("quick"), make_config("paper")).data
    rows = {line.split(" | ")[0].lstrip("| "): line.strip("| ").split(" | ")[1:] for line in text.splitlines()[2:]}
    assert text.splitlines()[0] == "| setting | the report (where it says so) | this book (`quick`) |"
    assert rows["network"] == ["the CNN (Appendix A)", "same"]
    assert rows["tasks"] == ["MNIST, then 4 pixel permutations (Fig. 2)", "same"]
    # 250 steps x 64 images = 16,000 images: each seen once
    assert rows["training per task"] == ["30 epochs (Appendix A)", "250 steps (each image seen once)"]
    assert rows["training images per task"] == ["60,000 (not stated: all assumed)", "16,000"]
    assert rows["accuracy measured"] == ["after every epoch (Figs 3–5)", "4 times per task"]
    assert rows["Adam's state between tasks"] == ["reset (its code)", "kept"]
    assert rows["learning rate"] == ["10⁻⁴ (Appendix A)", "3.5·10⁻³"]
    assert rows["λ"] == ["200 (Appendix A)", "1,000"]
    assert rows["Fisher"] == ["empirical, 60,000 images (its code)", "empirical, 500 images"]
    assert "{" not in text and "`lam`" not in text  # no dict repr, no field names
    # half the steps over the same images: half a pass; an MLP on permuted, padded tasks
    other = make_config("quick", iterations=125, arch="mlp", permute_first=True, image_size=32)
    rows = tables.settings_table(other, make_config("paper")).data
    assert "| 125 steps (0.5 passes) |" in rows and "| MLP 1024-400-400-10 |" in rows
    assert "5 pixel permutations of MNIST, padded to 32×32" in rows
