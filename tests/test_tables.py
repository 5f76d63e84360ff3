"""The comparison with the report reads the right cells of hand-made end-of-task matrices."""

from ewc import tables


def run(matrix):
    config = {"epochs": 4, "train_size": 4000, "lr": 0.0035, "lam": 1000.0, "profile": "quick", "tasks": 3}
    return {"task_matrix": matrix, "config": config}


def test_report_comparison_reads_each_cell_from_the_matrices_over_seeds():
    none = [[0.95, None, None], [0.61, 0.87, None], [0.40, 0.55, 0.91]]
    every = [[0.95, None, None], [0.93, 0.85, None], [0.92, 0.84, 0.83]]
    previous = [[0.95, None, None], [0.93, 0.86, None], [0.88, 0.85, 0.82]]
    shifted = [[None if v is None else v - 0.02 for v in row] for row in none]  # a second seed, 2 points lower
    runs = {"none": {0: run(none), 1: run(shifted)}, "ewc-all": {0: run(every)}, "ewc-previous": {0: run(previous)}}
    text = tables.report_comparison(runs).data
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()}
    assert rows["no penalty: task 1 right after learning it"].endswith("| 94.0 ± 1.4 % |")  # sd of 95, 93
    assert rows["no penalty: task 1 after task 2"].endswith("| 60.0 ± 1.4 % |")
    assert rows["no penalty: tasks 2 to 3 right after learning each"].endswith("| 88.0 ± 1.4 % |")
    assert rows["EWC on every task: lowest task at the end"].endswith("| 83.0 % |")
    assert rows["EWC on the previous task: task 1 at the end"].endswith("| 88.0 % (EWC on every task: 92.0 %) |")
    assert "4 epochs × 4,000 images, Adam 0.0035, λ = 1000 (`quick`)" in rows["training per task"]


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
