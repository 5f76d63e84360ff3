"""How long a suite's runs take on this machine, before any is trained: ``python -m ewc suite NAME --dry-run``.

Each network a suite uses (``step_key``: architecture, widths, batch, image side, penalty slots) is built once and its
compiled train step and prediction timed for about a second each (``measure``); a run's time is then its count of
training, Fisher and test images at those rates, plus the start-up (``estimate_seconds``). A run that has a
checkpoint of its own config is costed from the task it resumes at. It is an estimate from a few timed steps, not a
measurement of the runs.
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from ewc.errors import ConfigError


def dry_run(s, root: Path, states: dict[str, str]) -> int:
    """Print each run, what it needs (done / train / resume / retrain) and its estimated time on this machine."""
    t0 = time.perf_counter()
    import tensorflow  # noqa: F401  (each job imports it afresh: part of its start-up)

    from ewc.checkpoint import read_meta
    from ewc.experiment import checkpoint_path

    imports = time.perf_counter() - t0
    print(f"suite {s.name}: {s.description}; {len(s.runs)} runs into {root / s.name}", flush=True)
    rates = {}
    for config in s.runs.values():
        key = step_key(config)
        if key not in rates:
            rates[key] = measure(config)
            rates[key].startup_s += imports
            print(
                f"  measured on this machine ({_machine()}): {_describe(key)}: {rates[key].train:.0f} images/s "
                f"training, {rates[key].evaluate:.0f} images/s evaluating, {rates[key].startup_s:.0f} s to start "
                "(imports, compilation)",
                flush=True,
            )
    width = max(map(len, s.runs))
    total, todo = 0.0, 0
    for run, config in s.runs.items():
        state, done_tasks = states[run], 0
        checkpoint = checkpoint_path(s.path(run, root))
        if state != "done" and checkpoint.is_file():
            try:
                meta = read_meta(checkpoint)
                if meta["config"] == config.to_dict():
                    done_tasks = meta["record"]["tasks_done"]
            except (ConfigError, KeyError):
                pass
        if state == "done":
            what, estimate = "done", "-"
        else:
            seconds = estimate_seconds(config, rates[step_key(config)], tasks_done=done_tasks)
            total, todo = total + seconds, todo + 1
            what = {"missing": "train", "partial": "train", "other": "retrain (file holds another config's results)"}[
                state
            ]
            if done_tasks:
                what = f"resume after task {done_tasks}/{config.tasks}"
            estimate = f"~{duration(seconds)}"
        print(f"  {run:{width}s}  {estimate:>9s}  {what}")
    print(
        f"{todo} of {len(s.runs)} runs to train, ~{duration(total)} one after another on this machine: an "
        "estimate from a few timed steps, not a measurement of the runs"
    )
    return 0


def step_key(config) -> tuple:
    """What a step's cost depends on: (arch, hidden widths or None, batch size, image side, penalty slots).

    The penalty's slots (0 without one, T-1 for ewc-all, 1 otherwise; see ``ewc.penalty``) are computed at every step
    from task 1 on, filled or not, so a step costs the same in every task of a run.
    """
    from ewc.penalty import Consolidation

    hidden = tuple(config.mlp_hidden) if config.arch == "mlp" else None
    slots = Consolidation.slots_for(config.mode, config.tasks - 1)
    return config.arch, hidden, config.batch_size, getattr(config, "image_size", 28), slots


@dataclasses.dataclass
class Rates:
    """A network's measured speed on this machine."""

    train: float  # training images per second (the compiled train step with the run's penalty)
    evaluate: float  # test images per second (the compiled prediction, batches of EVAL_BATCH)
    startup_s: float  # seconds before the first step: building the trainer and compiling its two functions


def measure(config) -> Rates:
    """Time ``config``'s compiled train step (its penalty included) and prediction on random images, each for about a
    second after one warm-up call (which compiles)."""
    import numpy as np

    from ewc.train import EVAL_BATCH, SequentialTrainer

    t0 = time.perf_counter()
    trainer = SequentialTrainer(config)
    side = step_key(config)[3]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (config.batch_size, side, side), dtype=np.uint8)
    y = rng.integers(0, 10, config.batch_size).astype(np.int32)
    x_eval = rng.integers(0, 256, (EVAL_BATCH, side, side), dtype=np.uint8)
    trainer.train_step(x, y).numpy()
    trainer.predict(x_eval).numpy()
    startup = time.perf_counter() - t0
    train = _per_second(lambda: trainer.train_step(x, y).numpy(), config.batch_size)
    evaluate = _per_second(lambda: trainer.predict(x_eval).numpy(), EVAL_BATCH)
    return Rates(train, evaluate, startup)


def _per_second(step, images: int, seconds: float = 1.0, at_least: int = 3) -> float:
    calls, t0 = 0, time.perf_counter()
    while calls < at_least or time.perf_counter() - t0 < seconds:
        step()
        calls += 1
    return calls * images / (time.perf_counter() - t0)


def estimate_seconds(config, rates: Rates, tasks_done: int = 0) -> float:
    """Seconds to train tasks ``tasks_done + 1 .. tasks`` of ``config`` in a fresh process at ``rates``.

    Training images: ``epochs x train_size`` per task, or ``iterations x batch_size`` where ``iterations`` > 0;
    each consolidation's Fisher is costed as ``fisher_samples`` training images. Evaluation: after each epoch (once
    per task with ``iterations``), ``test_size`` images of every task seen so far. Plus the start-up once.
    """
    per_task = config.train_images_per_task
    evaluations = 1 if config.iterations else config.epochs
    remaining = range(tasks_done, config.tasks)
    fisher = (
        config.fisher_samples * sum(k < config.tasks - 1 for k in remaining) if config.mode.startswith("ewc") else 0
    )
    evaluated = sum(evaluations * (k + 1) * config.test_size for k in remaining)
    return rates.startup_s + (per_task * len(remaining) + fisher) / rates.train + evaluated / rates.evaluate


def _describe(key: tuple) -> str:
    arch, hidden, batch, side, slots = key
    net = "Appendix A CNN" if arch == "cnn" else f"MLP {'-'.join(map(str, hidden))}"
    penalty = f"{slots} penalty slot{'' if slots == 1 else 's'}"
    return f"{net}, batch {batch}, {side}x{side} images, {penalty}"


def _machine() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    load = os.getloadavg()[0]  # above the CPU count, other processes share them and the rates are lower
    return f"{os.cpu_count()} CPUs, load {load:.1f}" + (f", {len(gpus)} GPU(s)" if gpus else ", no GPU")


def duration(seconds: float) -> str:
    """Seconds as a person reads them: '45 s', '12 min', '3.5 h'."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
