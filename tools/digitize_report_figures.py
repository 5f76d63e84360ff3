"""Digitize the report's Figures 3-5 (accuracy of each task after each epoch) into results/report-figures/figures.json.

The student report (github.com/svantesorberg/ewc-project) shows its results only as three PNGs drawn by
``code/demo_cnn.py``: ``plt.plot(range(30*i + 1, 151), accuracy)`` for task i = 0..4 (matplotlib's default colour
cycle), ``plt.ylim(0, 1)``, and a dotted grey ``axvline`` at every task boundary (epochs 30, 60, 90, 120). This script
reads the curves back from the pixels:

1. Axis calibration comes from the image itself. The tick marks are found as short dark runs just outside the axes
   frame: below the bottom spine for x (labelled 0, 20, ..., 140), left of the left spine for y (labelled 0.0, 0.2,
   ..., 1.0, bottom to top). The tick labels were read by eye; the script checks that it finds exactly 8 x ticks and 6
   y ticks and fits a straight line pixel <-> value through each set (least squares). Two independent checks: the
   dotted grey task-boundary lines must sit at the fitted columns of x = 30, 60, 90, 120 and the frame's top/bottom
   spines at the rows of y = 1 and y = 0 (``ylim(0, 1)``), each within 1.5 pixels, or the script stops.
2. For each task's colour and each integer epoch where that task is plotted, the column nearest the epoch's fitted x is
   scanned for pixels within ``TOLERANCE`` (Euclidean RGB distance) of the pure line colour, inside the axes frame and
   outside the legend box. The accuracy is the fitted y of the median matching row. If that column has no match (a
   dotted boundary line covers it, say), the matches of the two adjacent columns (0.11 epoch either side) are pooled.
   No match there either (the line is hidden under a later-drawn line, or missing) gives null, and is counted.
"""

from __future__ import annotations

import argparse
import io
import json
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = "https://github.com/svantesorberg/ewc-project"
FIGURES = {  # report figure number -> (training mode, file in the report's repository)
    "3": ("none", "report/figures/exp0_results.png"),
    "4": ("ewc-all", "report/figures/exp1_results.png"),
    "5": ("ewc-previous", "report/figures/exp2_results.png"),
}
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd"]  # tasks 1..5: matplotlib's default cycle
EPOCHS, TASKS = 30, 5
TOLERANCE = 60.0  # RGB distance; the closest pair of line colours (red/orange) is ~100 apart, grey/purple ~69
X_TICKS = np.arange(0, 141, 20, dtype=float)
Y_TICKS = np.arange(0, 1.01, 0.2)
DARK = 300  # R+G+B below this: black spines and ticks (anti-aliased tick edges are ~720)


def rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i : i + 2], 16) for i in (1, 3, 5)], dtype=float)


def frame(img: np.ndarray) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) pixel indices of the axes spines: the only long straight dark runs."""
    dark = img.sum(-1) < DARK
    cols = np.nonzero(dark.sum(0) > 0.3 * img.shape[0])[0]
    rows = np.nonzero(dark.sum(1) > 0.3 * img.shape[1])[0]
    if len(cols) != 2 or len(rows) != 2:
        raise SystemExit(f"expected 2 spine columns and 2 spine rows, found {cols} and {rows}")
    return int(cols[0]), int(cols[1]), int(rows[0]), int(rows[1])


def calibrate(img: np.ndarray) -> dict:
    """Linear pixel <-> data maps fitted through the tick marks, checked against the boundary lines and the frame."""
    left, right, top, bottom = frame(img)
    dark = img.sum(-1) < DARK
    x_ticks = np.nonzero(dark[bottom + 1 : bottom + 5, left + 1 : right].all(0))[0] + left + 1
    y_ticks = np.nonzero(dark[top - 1 : bottom + 2, left - 4 : left].all(1))[0] + top - 1
    if len(x_ticks) != len(X_TICKS) or len(y_ticks) != len(Y_TICKS):
        raise SystemExit(f"expected 8 x ticks and 6 y ticks, found columns {x_ticks} and rows {y_ticks}")
    x_slope, x_icpt = np.polyfit(X_TICKS, x_ticks, 1)  # column = x_icpt + x_slope * epoch
    y_slope, y_icpt = np.polyfit(Y_TICKS, y_ticks[::-1], 1)  # row = y_icpt + y_slope * accuracy (slope < 0)
    grey = (np.abs(img - 128).max(-1) < 40)[top + 5 : bottom - 5].sum(0) > 0.25 * (bottom - top)
    grey_cols = np.nonzero(grey)[0]
    boundaries = [float(grey_cols[np.abs(grey_cols - (x_icpt + x_slope * e)) < 5].mean()) for e in (30, 60, 90, 120)]
    for e, col in zip((30, 60, 90, 120), boundaries, strict=True):
        if abs(col - (x_icpt + x_slope * e)) > 1.5:
            raise SystemExit(f"boundary line at column {col} but x={e} fits column {x_icpt + x_slope * e:.1f}")
    if abs(y_icpt - bottom) > 1.5 or abs(y_icpt + y_slope - top) > 1.5:
        raise SystemExit(f"y=0/y=1 fit rows {y_icpt:.1f}/{y_icpt + y_slope:.1f}, spines at {bottom}/{top}")
    return {
        "frame": {"left_col": left, "right_col": right, "top_row": top, "bottom_row": bottom},
        "x_tick_cols": x_ticks.tolist(),
        "y_tick_rows": y_ticks.tolist(),
        "boundary_cols": boundaries,
        "col_of_epoch": [round(x_icpt, 3), round(x_slope, 4)],
        "row_of_accuracy": [round(y_icpt, 3), round(y_slope, 3)],
        "x1_col": round(x_icpt + x_slope, 2),
        "x150_col": round(x_icpt + 150 * x_slope, 2),
        "y0_row": round(y_icpt, 2),
        "y1_row": round(y_icpt + y_slope, 2),
    }


def legend_box(img: np.ndarray, cal: dict) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) of the legend frame: light grey (0.8 at alpha 0.8 -> 214) runs inside the axes."""
    f = cal["frame"]
    light = (np.abs(img - img[..., :1]).max(-1) < 3) & (img[..., 0] > 190) & (img[..., 0] < 235)
    inner = light[f["top_row"] + 1 : f["bottom_row"], f["left_col"] + 1 : f["right_col"]]
    rows = np.nonzero(inner.sum(1) > 50)[0] + f["top_row"] + 1
    cols = np.nonzero(inner.sum(0) > 50)[0] + f["left_col"] + 1
    if len(rows) < 2 or len(cols) < 2:
        raise SystemExit("legend frame not found")
    return int(cols.min()), int(cols.max()), int(rows.min()), int(rows.max())


def read_curves(img: np.ndarray, cal: dict) -> tuple[list[list[float | None]], list[int], list[int], list[int]]:
    """Accuracy of each task at epochs 1..150 (None before it starts or where its colour is absent).

    Also returns per task the number of unreadable epochs, the number read from the neighbouring columns, and the
    legend box (left, right, top, bottom) that was masked."""
    f = cal["frame"]
    x_icpt, x_slope = cal["col_of_epoch"]
    y_icpt, y_slope = cal["row_of_accuracy"]
    box = legend_box(img, cal)
    usable = np.zeros(img.shape[:2], dtype=bool)
    usable[f["top_row"] + 1 : f["bottom_row"], f["left_col"] + 1 : f["right_col"]] = True
    usable[box[2] : box[3] + 1, box[0] : box[1] + 1] = False
    tasks, missing, neighbours = [], [], [0] * len(COLOURS)
    for t, colour in enumerate(COLOURS):
        match = (np.linalg.norm(img - rgb(colour), axis=-1) <= TOLERANCE) & usable
        values: list[float | None] = [None] * (EPOCHS * TASKS)
        for epoch in range(EPOCHS * t + 1, EPOCHS * TASKS + 1):
            col = int(round(x_icpt + x_slope * epoch))
            rows = np.nonzero(match[:, col])[0]
            if not len(rows):  # e.g. under a dotted boundary line: the two next columns, 0.11 epoch either side
                rows = np.nonzero(match[:, [col - 1, col + 1]])[0]
                neighbours[t] += bool(len(rows))
            if len(rows):
                values[epoch - 1] = round(float((np.median(rows) - y_icpt) / y_slope), 3)
        tasks.append(values)
        missing.append(sum(v is None for v in values[EPOCHS * t :]))
    return tasks, missing, neighbours, list(box)


def load_png(args: argparse.Namespace, path: str) -> np.ndarray:
    if args.image_dir:
        data = (Path(args.image_dir) / Path(path).name).read_bytes()
    else:
        data = subprocess.run(["git", "-C", str(args.mirror), "show", f"HEAD:{path}"], capture_output=True, check=True)
        data = data.stdout
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"), dtype=float)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mirror", type=Path, required=True, help=f"a clone of the report's repository ({REPOSITORY}); git reads HEAD"
    )
    parser.add_argument("--image-dir", help="read <dir>/exp*_results.png instead of the mirror's HEAD")
    parser.add_argument("--out", type=Path, default=ROOT / "results" / "report-figures" / "figures.json")
    args = parser.parse_args()
    commit = subprocess.run(["git", "-C", str(args.mirror), "rev-parse", "HEAD"], capture_output=True, text=True)
    figures, calibrations, resolution = {}, {}, None
    for number, (mode, path) in FIGURES.items():
        img = load_png(args, path)
        cal = calibrate(img)
        tasks, missing, neighbours, box = read_curves(img, cal)
        figures[number] = {
            "mode": mode,
            "file": path,
            "tasks": tasks,
            "unreadable": missing,
            "read_from_neighbour_columns": neighbours,
        }
        calibrations[number] = {**cal, "legend_box_cols_rows": box, "size": [img.shape[1], img.shape[0]]}
        resolution = round(-1 / cal["row_of_accuracy"][1], 5)
        print(
            f"Figure {number} ({path}): x=1 at col {cal['x1_col']}, x=150 at col {cal['x150_col']}, "
            f"y=0 at row {cal['y0_row']}, y=1 at row {cal['y1_row']}; frame {cal['frame']}; "
            f"boundary cols {cal['boundary_cols']}; unreadable per task {missing}, "
            f"read from neighbour columns {neighbours}"
        )
    method = (
        "Pixels read from the PNGs (1920x1102, matplotlib 3.2.2, dpi 100) by tools/digitize_report_figures.py. "
        "Axis calibration from the image: tick marks found as dark runs outside the axes frame, labelled by eye "
        "(x: 0, 20, ..., 140; y: 0.0, 0.2, ..., 1.0) and fitted linearly, pixel = intercept + slope * value "
        "(calibration.col_of_epoch, calibration.row_of_accuracy; rows count down from the image top). Checked: "
        "the dotted grey boundary lines sit at the fitted columns of epochs 30/60/90/120 and the frame's top and "
        "bottom spines at the rows of accuracy 1 and 0, within 1.5 px. For task k (matplotlib default colours "
        f"{', '.join(COLOURS)}) and each integer epoch from 30*(k-1)+1 to 150, the pixel column nearest the "
        f"epoch is scanned for pixels within RGB distance {TOLERANCE:g} of the pure line colour (anti-aliased "
        "edges and crossings further off are ignored), inside the frame and outside the legend box; the accuracy "
        "is the calibrated y of the median matching row. Where that column has no matching pixel (e.g. under a "
        "dotted boundary line) the rows matching in the two adjacent columns (+-0.11 epoch) are pooled instead, "
        "counted in 'read_from_neighbour_columns'. No matching pixel there either (line hidden under a later-drawn "
        "line, or missing) gives null, counted per task in 'unreadable'. Values rounded to 3 decimals; one pixel "
        "row is 'resolution' accuracy, and the line is ~2 px wide, so expect about +-0.003 where the line is "
        "clear, more where it is steep or partly covered."
    )
    out = {
        "source": {
            "repository": REPOSITORY,
            "commit": commit.stdout.strip() or None,
            "paths": {number: path for number, (_, path) in FIGURES.items()},
            "plotting_code": "code/demo_cnn.py",
        },
        "method": method,
        "calibration": calibrations,
        "figures": figures,
        "resolution": resolution,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(out, indent=1)
    args.out.write_text(text + "\n")
    print(f"wrote {args.out} ({len(text)} characters); resolution {resolution} accuracy per pixel row")


if __name__ == "__main__":
    main()
