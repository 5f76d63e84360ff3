"""Experiments as the book runs them: one call trains (or sweeps) and writes results files under ``results/``."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ewc import results
from ewc.config import RunConfig
from ewc.data import Mnist, load_mnist
from ewc.train import run

_mnist: Mnist | None = None


def mnist() -> Mnist:
    """MNIST loaded once per process (every experiment in a notebook shares it)."""
    global _mnist
    if _mnist is None:
        _mnist = load_mnist()
    return _mnist


def run_experiment(config: RunConfig, out: str | Path, progress: bool = False, reuse: bool = False) -> dict:
    """Train ``config`` and write its results JSON to ``out`` (directories created). Returns the results dict.

    With ``reuse``, a complete results file already at ``out`` made from exactly this config is loaded instead of
    training again (how CI's nbval re-executes the published chapters in seconds; ``python -m ewc book`` retrains).
    """
    out = Path(out)
    if reuse and out.is_file():
        previous = results.load_results(out, require_complete=False)
        if previous.get("complete") and previous.get("config") == config.to_dict():
            return previous
    out.parent.mkdir(parents=True, exist_ok=True)
    results.check_writable(out)
    result = run(config, mnist(), progress=progress)
    results.write_json_atomic(result, out)
    return result


def sweep(config: RunConfig, field: str, values, out_dir: str | Path, progress: bool = False,
          reuse: bool = False) -> list[dict]:
    """Run ``config`` once per value of one field (e.g. ``lam`` or ``seed``), writing
    ``out_dir/<field>-<value>.json`` for each. Returns the results in the order of ``values``."""
    return [run_experiment(dataclasses.replace(config, **{field: v}), Path(out_dir) / f"{field}-{v:g}.json",
                           progress, reuse) for v in values]
