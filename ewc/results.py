"""Results files and the continual-learning metrics computed from them.

A results file is one JSON object. ``accuracy[e][k]`` is the test accuracy (fraction in [0, 1]) on task k after
global epoch e, ``null`` before task k is first trained. Every task has ``config.epochs`` rows: one per epoch, or,
when ``config.iterations`` > 0, one after each of ``epochs`` near-equal shares of the task's steps (``ewc.train``).
``task_matrix[i][k]`` is the accuracy on task k at the end of task i (the usual R matrix of Lopez-Paz & Ranzato
2017), ``null`` for k > i.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

import numpy as np

from ewc.errors import ConfigError
from ewc.files import atomic_write

FORMAT = "ewc-results/1"


def task_matrix(accuracy: list[list[float | None]], epochs: int) -> list[list[float | None]]:
    """R from the per-epoch accuracy matrix: the row at the last epoch of each finished task (T x T when done)."""
    return [list(accuracy[(i + 1) * epochs - 1]) for i in range(len(accuracy) // epochs)]


def metrics(r: list[list[float | None]]) -> dict:
    """ACC, BWT and forgetting from the end-of-task matrix R (T x T).

    * ``acc`` = mean_k R[T-1][k]: mean final accuracy over all tasks.
    * ``bwt`` = mean_{k<T-1} (R[T-1][k] - R[k][k]): backward transfer (negative = forgetting); 0 for one task.
    * ``forgetting[k]`` = max_{i<T-1} R[i][k] - R[T-1][k] for k < T-1 (Chaudhry et al. 2018).
    * ``just_trained`` = mean_k R[k][k]: plasticity, the accuracy on each task right after learning it.
    """
    r = np.array([[np.nan if v is None else v for v in row] for row in r], dtype=float)
    t = len(r)
    final = r[-1]
    forgetting = [float(np.nanmax(r[k : t - 1, k]) - final[k]) for k in range(t - 1)]
    return {
        "acc": float(final.mean()),
        "bwt": float(np.mean([final[k] - r[k, k] for k in range(t - 1)])) if t > 1 else 0.0,
        "forgetting": forgetting,
        "mean_forgetting": float(np.mean(forgetting)) if forgetting else 0.0,
        "just_trained": float(np.mean(np.diag(r))),
        "final": [float(v) for v in final],
    }


def library_versions() -> dict[str, str]:
    import keras
    import tensorflow as tf

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "platform": platform.platform(),
    }


def check_writable(path: str | os.PathLike) -> Path:
    """Fail early, before hours of training, if ``path``'s directory is missing or not writable."""
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ConfigError(f"output directory does not exist: {parent}")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"output directory is not writable: {parent}")
    if path.is_dir():
        raise ConfigError(f"output path is a directory: {path}")
    return path


def write_json_atomic(obj, path: str | os.PathLike) -> None:
    """Write JSON through a temporary file in the same directory and a rename: readers never see half a file."""
    with atomic_write(path, "w") as f:
        json.dump(obj, f, indent=1, allow_nan=False)
        f.write("\n")


def load_results(path: str | os.PathLike, require_complete: bool = True) -> dict:
    """Read a results file; ConfigError if it is missing, not ours, or (by default) from an unfinished run."""
    path = Path(path)
    try:
        result = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read results {path}: {exc}") from None
    if result.get("format") != FORMAT:
        raise ConfigError(f"{path} is not an ewc results file")
    if require_complete and not result.get("complete"):
        raise ConfigError(f"{path} is from an unfinished run")
    return result
