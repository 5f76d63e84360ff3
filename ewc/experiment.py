"""Experiments as the CLI and the book run them: one call trains (or sweeps) and writes results files.

A run writes, next to its results file ``out``: the results so far after every task (``complete: false``) and a
checkpoint ``out.ckpt.npz``; rerunning the same command resumes from the last finished task. When the run ends,
the complete results replace the partial ones and the checkpoint is deleted.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from ewc import fingerprint, results
from ewc.checkpoint import checkpoint_path
from ewc.config import RunConfig, normalize_stored
from ewc.data import Mnist, data_dir, load_mnist
from ewc.train import run

_mnist: Mnist | None = None


def mnist() -> Mnist:
    """MNIST loaded once per process (every experiment in a notebook shares it)."""
    global _mnist
    if _mnist is None:
        _mnist = load_mnist()
    return _mnist


def task1_cache_dir() -> Path:
    """Where shared task-1 snapshots live: ``$EWC_TASK1_CACHE``, else ``<data dir>/task1`` (the rerun check points
    it at a scratch directory so that nothing trained before is reused)."""
    return Path(os.environ.get("EWC_TASK1_CACHE") or data_dir() / "task1")


def run_experiment(
    config: RunConfig,
    out: str | Path,
    progress: bool = False,
    reuse: bool = False,
    fresh: bool = False,
    share_task1: bool = False,
    data: Mnist | None = None,
    bar=None,
) -> dict:
    """Train ``config`` and write its results JSON to ``out`` (directories created). Returns the results dict.

    Args:
        reuse: if ``out`` already holds complete results of exactly this config, load them instead of training
            (how CI's nbval re-executes the published chapters in seconds; ``python -m ewc book`` retrains). A file
            written before a field existed counts as having that field's default (``normalize_stored``).
        fresh: ignore (and overwrite) a checkpoint left by an interrupted run instead of resuming it.
        share_task1: take task 1 from (or put it into) the cache shared by runs that train it identically.
        data: MNIST to use (default: loaded once per process).
        bar: a progress bar shared with other runs (see ``ewc.train.run``).

    The results carry the science fingerprint of the code that made them (``ewc.fingerprint``), which the book's
    chapters check when they reload them.
    """
    out = Path(out)
    if reuse and out.is_file():
        previous = results.load_results(out, require_complete=False)
        if previous.get("complete") and normalize_stored(previous.get("config")) == config.to_dict():
            return previous
    out.parent.mkdir(parents=True, exist_ok=True)
    results.check_writable(out)
    checkpoint = checkpoint_path(out)
    result = run(
        config,
        data or mnist(),
        progress=progress,
        checkpoint=checkpoint,
        fresh=fresh,
        task1_cache=task1_cache_dir() if share_task1 else None,
        on_task_end=lambda partial: results.write_json_atomic(partial, out),
        bar=bar,
    )
    result["fingerprint"] = fingerprint.cached_fingerprint()
    results.write_json_atomic(result, out)
    checkpoint.unlink(missing_ok=True)
    return result


def sweep(config: RunConfig, field: str, values, out_dir: str | Path, **kwargs) -> list[dict]:
    """Run ``config`` once per value of one field (e.g. ``lam`` or ``seed``), writing
    ``out_dir/<field>-<value>.json`` for each; ``kwargs`` as for ``run_experiment``. Results in order of ``values``."""
    return [
        run_experiment(dataclasses.replace(config, **{field: v}), Path(out_dir) / f"{field}-{v:g}.json", **kwargs)
        for v in values
    ]
