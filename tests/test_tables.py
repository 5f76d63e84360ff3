"""The comparison with the report reads the right cells of hand-made end-of-task matrices."""

from ewc import tables


def run(matrix):
    config = {"epochs": 4, "train_size": 4000, "lr": 0.0035, "lam": 1000.0, "profile": "quick"}
    return {"task_matrix": matrix, "config": config}


def test_report_comparison_reads_each_cell_from_the_matrices():
    none = [[0.95, None, None], [0.61, 0.87, None], [0.40, 0.55, 0.91]]
    every = [[0.95, None, None], [0.93, 0.85, None], [0.92, 0.84, 0.83]]
    previous = [[0.95, None, None], [0.93, 0.86, None], [0.88, 0.85, 0.82]]
    text = tables.report_comparison({"none": run(none), "ewc-all": run(every), "ewc-previous": run(previous)}).data
    rows = {line.split(" | ")[0].lstrip("| "): line for line in text.splitlines()}
    assert rows["no penalty: task 1 right after learning it"].endswith("| 95.0 % |")
    assert rows["no penalty: task 1 after task 2"].endswith("| 61.0 % |")
    assert rows["no penalty: tasks 2 to 3 right after learning each"].endswith("| 87.0–91.0 % |")
    assert rows["EWC on every task: lowest task at the end"].endswith("| 83.0 % |")
    assert rows["EWC on the previous task: task 1 at the end"].endswith("| 88.0 % (EWC on every task: 92.0 %) |")
    assert "4 epochs × 4,000 images, Adam 0.0035, λ = 1000 (`quick`)" in rows["training per task"]
