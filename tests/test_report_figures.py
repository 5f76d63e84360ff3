"""The digitized report Figures 3-5 (results/report-figures/figures.json) agree with the figures read by eye.

The points below were read by eye from the report's PNGs (report/figures/exp{0,1,2}_results.png of
github.com/svantesorberg/ewc-project), zoomed 2x with a light grid drawn every 0.05 accuracy (subdividing the 0.2
tick marks) and every 10 epochs (subdividing the 20-epoch ticks). Reading a line between grid lines 0.05 apart is good
to about +-0.01, the line is ~2 px (0.0025) wide, and on a steep segment half an epoch of misplacement moves the
value by up to ~0.01 more: EYE_TOLERANCE = 0.02 covers those together. A digitizer off by a pixel-row convention or
a sign (y flipped: 0.98 would read 0.02) or by one epoch on a steep segment (~0.03 per epoch in Figure 3) fails.
"""

import pytest

from ewc import report_figures

EYE_TOLERANCE = 0.02

# (figure, task, epoch, accuracy read by eye)
EYEBALLED = [
    (3, 1, 1, 0.96),  # task 1 starts just above 0.95
    (3, 1, 30, 0.99),  # end of task 1: just under the 1.0 frame
    (3, 1, 35, 0.955),  # halfway between 0.95 and 0.96 grid, falling
    (3, 1, 50, 0.78),
    (3, 1, 60, 0.67),  # end of task 2: a third of the way from 0.65 to 0.70
    (3, 1, 90, 0.45),
    (3, 1, 150, 0.24),
    (3, 2, 31, 0.93),
    (3, 2, 90, 0.88),
    (3, 2, 143, 0.435),  # task 2's lowest point
    (3, 2, 150, 0.44),
    (3, 3, 150, 0.69),
    (3, 4, 91, 0.93),
    (3, 4, 150, 0.92),
    (3, 5, 150, 0.98),
    (4, 1, 1, 0.96),
    (4, 2, 31, 0.93),
    (4, 4, 91, 0.93),
    (4, 5, 121, 0.93),
    (4, 1, 120, 0.94),
    (4, 1, 150, 0.95),
    (4, 2, 150, 0.975),
    (4, 4, 150, 0.96),
    (4, 5, 150, 0.98),
    (5, 1, 1, 0.95),
    (5, 1, 120, 0.875),
    (5, 1, 150, 0.79),
    (5, 2, 149, 0.77),  # task 2's dip just before the end
    (5, 2, 150, 0.81),
    (5, 3, 150, 0.92),
    (5, 4, 150, 0.975),
    (5, 5, 150, 0.98),
]
MAX_UNREADABLE = 0.12  # Figure 4's tasks 1-3 and Figure 5's tasks 1/2 overlap: at most 9/90 (10%) are hidden


@pytest.mark.parametrize("figure,task,epoch,expected", EYEBALLED)
def test_digitized_matches_eye(figure, task, epoch, expected):
    value = report_figures.curve(figure, task)[epoch - 1]
    assert value is not None, f"Figure {figure} task {task} epoch {epoch} unreadable"
    assert value == pytest.approx(expected, abs=EYE_TOLERANCE)


@pytest.mark.parametrize("figure", [3, 4, 5])
def test_structure(figure):
    data = report_figures.load()["figures"][str(figure)]
    assert data["mode"] == {3: "none", 4: "ewc-all", 5: "ewc-previous"}[figure]
    assert len(data["tasks"]) == 5
    for task in range(1, 6):
        values = report_figures.curve(figure, task)
        start = 30 * (task - 1)
        assert len(values) == 150
        assert all(v is None for v in values[:start]), "values before the task is learned"
        readable = [v for v in values[start:] if v is not None]
        assert all(0 <= v <= 1 for v in readable)
        assert 1 - len(readable) / (150 - start) <= MAX_UNREADABLE
        assert data["unreadable"][task - 1] == 150 - start - len(readable)
        assert values[start] is not None and values[149] is not None, "first and last point are clear in all figures"


@pytest.mark.parametrize("figure", [3, 4, 5, "none", "ewc-all", "ewc-previous"])
def test_end_of_task_matrix(figure):
    matrix = report_figures.end_of_task_matrix(figure)
    assert len(matrix) == 5 and all(len(row) == 5 for row in matrix)
    for i, row in enumerate(matrix):
        assert all(v is None for v in row[i + 1 :])
        assert row[i] is not None and row[i] > 0.97, "each task is learned to ~98% by the end of its training"
        assert row[: i + 1] == [report_figures.curve(figure, j + 1)[30 * (i + 1) - 1] for j in range(i + 1)]


def test_captions():
    """Claims of the report's captions hold in the digitized curves."""
    # Figure 3: task 1 goes from almost 100% to about 60% (0.67 at epoch 60, ~0.60 three epochs later) during task 2,
    # falling steadily over those 30 epochs rather than at once: no single-epoch drop above 0.05.
    t1 = report_figures.curve(3, 1)
    assert t1[29] > 0.98 and 0.59 < min(t1[59:63]) < 0.68
    assert max(t1[e] - t1[e + 1] for e in range(29, 59)) < 0.05
    # Figure 4: at the end task 2 (orange) beats task 4 (red), though task 4 was trained more recently.
    assert report_figures.curve(4, 2)[149] > report_figures.curve(4, 4)[149]
    # Figure 5: old tasks degrade after two or three more tasks.
    assert report_figures.curve(5, 1)[149] < 0.85 and report_figures.curve(5, 2)[149] < 0.85


def test_metadata():
    data = report_figures.load()
    assert data["source"]["repository"].endswith("svantesorberg/ewc-project")
    assert len(data["source"]["commit"]) == 40
    assert 0.001 < data["resolution"] < 0.0013  # 849 pixel rows from accuracy 0 to 1
    with pytest.raises(ValueError):
        report_figures.curve(3, 6)
    with pytest.raises(KeyError):
        report_figures.curve(6, 1)
