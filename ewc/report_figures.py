"""The report's Figures 3-5 read back from its PNGs: test accuracy of each task after each epoch (no TensorFlow).

The student report publishes its results only as plots. ``tools/digitize_report_figures.py`` digitized them into
``results/report-figures/figures.json`` (axis calibration, colours and tolerance are in its ``method`` and
``calibration`` fields). Figures: 3 = no penalty (``"none"``), 4 = EWC on every previous task (``"ewc-all"``),
5 = EWC on the previous task only (``"ewc-previous"``). Five tasks of 30 epochs each, 150 global epochs.

Accuracies are fractions in [0, 1], read to about one pixel row (``load()["resolution"]``, ~0.0012) plus the line's
width: expect about +-0.003 where a line is clear. ``None`` marks an epoch before the task is learned, or a point
hidden under another task's line.
"""

from __future__ import annotations

import json
from functools import cache

from ewc.paths import REPORT_FIGURES

EPOCHS_PER_TASK = 30
TASKS = 5
FIGURE_OF_MODE = {"none": "3", "ewc-all": "4", "ewc-previous": "5"}


@cache
def _load() -> dict:
    return json.loads(REPORT_FIGURES.read_text())


def load() -> dict:
    """The whole digitization: ``source``, ``method``, ``calibration``, ``resolution`` and ``figures``.

    ``figures[n]`` (n = "3", "4", "5") has ``mode``, ``file``, ``tasks`` (5 lists of 150 accuracies or None, task 1
    first, epoch 1 first) and ``unreadable`` (per task, the number of epochs after its start that could not be read).
    Returns a fresh copy, so callers may modify it.
    """
    return json.loads(json.dumps(_load()))


def _figure(figure: int | str) -> dict:
    key = FIGURE_OF_MODE.get(str(figure), str(figure))
    figures = _load()["figures"]
    if key not in figures:
        raise KeyError(f"no figure {figure!r}: expected one of {sorted(figures)} or {sorted(FIGURE_OF_MODE)}")
    return figures[key]


def curve(figure: int | str, task: int) -> list[float | None]:
    """Accuracy (fraction) of ``task`` (1-based, 1..5) after each global epoch 1..150 in ``figure``.

    ``figure`` is the report's figure number (3, 4, 5) or its mode name. Returns 150 values; index e - 1 is epoch e.
    Values before the task starts (epochs 1..30 * (task - 1)) and unreadable points are None.
    """
    if not 1 <= task <= TASKS:
        raise ValueError(f"task must be 1..{TASKS}, got {task}")
    return list(_figure(figure)["tasks"][task - 1])


def end_of_task_matrix(figure: int | str) -> list[list[float | None]]:
    """Accuracy (fraction) of every task at the end of each task's training: a 5 x 5 list of lists.

    Row i (0-based) is global epoch 30 * (i + 1), the last epoch of task i + 1; column j is task j + 1. Entries for
    tasks not yet started (j > i) are None, as are unreadable points.
    """
    tasks = _figure(figure)["tasks"]
    return [[tasks[j][EPOCHS_PER_TASK * (i + 1) - 1] if j <= i else None for j in range(TASKS)] for i in range(TASKS)]
