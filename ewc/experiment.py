"""Experiments as the CLI and the book run them: one call trains (or sweeps) and writes results files.

A run writes, next to its results file ``out``: the results so far after every task (``complete: false``) and a
checkpoint ``out.ckpt.npz`` after every task and, inside a task, after an epoch once ``SNAPSHOT_EVERY_S`` have passed
since the last; rerunning the same command resumes from the last snapshot, so a kill loses at most one epoch (or
that interval, where epochs are shorter). When the run ends,
the complete results replace the partial ones and the checkpoint is deleted.

This module sets runs up; ``ewc.train.run`` is only the task loop. Here a run's starting state is chosen (fresh,
resumed from its checkpoint, or task 1 from the shared cache) and its snapshots are saved between tasks
(``run_resumable``).
"""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

from ewc import checkpoint as ckpt
from ewc import fingerprint, results
from ewc.checkpoint import checkpoint_path
from ewc.config import DEFAULTS, RunConfig, normalize_stored
from ewc.data import Mnist, data_dir, load_mnist
from ewc.train import Progress, SequentialTrainer, new_record, run

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


def task1_key(config: RunConfig) -> dict:
    """Everything that determines task 1's training and its recorded accuracy. The penalty is zero during task 1,
    so mode, lambda, gamma and Fisher settings do not enter; task 1 is the unpermuted MNIST unless ``permute_first``,
    so the permutation settings enter only then. Fields added later enter only when they differ from their defaults:
    runs that do not use them keep the keys (and the cached snapshots) they had before."""
    d = config.to_dict()
    keep = ["arch", "mlp_hidden", "epochs", "batch_size", "lr", "train_size", "test_size", "seed"]
    keep += [k for k in ("iterations", "permute_first", "image_size") if d[k] != DEFAULTS[k]]
    if config.permute_first:
        keep += ["permutation"] + (["block_size"] if config.permutation == "block" else [])
    return {"config": {k: d[k] for k in keep}, "versions": results.library_versions(), "checkpoint": ckpt.FORMAT}


def start_state(
    config: RunConfig, checkpoint: Path | None, fresh: bool, shared: Path | None
) -> tuple[SequentialTrainer, dict]:
    """The trainer and record (``ewc.train.new_record``) a run of ``config`` starts from: the ``checkpoint`` if one
    exists and not ``fresh`` (ConfigError if it is from another config), else task 1 from the ``shared`` snapshot if
    one exists, else (not ``fresh``) the part of task 1 that a run sharing it trained before it was stopped
    (``partial_task1``), else nothing trained."""
    trainer = SequentialTrainer(config)
    if checkpoint is not None and Path(checkpoint).exists() and not fresh:
        ckpt.check_resumable(checkpoint, config)
        record = ckpt.restore(checkpoint, trainer)["record"]
        record["resumed_from_task"] = record["tasks_done"]
        record["resumed_from_epoch"] = len(record["accuracy"])
        return trainer, record
    if shared is not None and shared.exists():
        record = ckpt.restore(shared, trainer)["record"]
        record["task1_reused"] = True
    elif shared is not None and partial_task1(shared).exists() and not fresh:
        record = ckpt.restore(partial_task1(shared), trainer)["record"]
        record["resumed_from_task"] = 0
        record["resumed_from_epoch"] = len(record["accuracy"])
    else:
        return trainer, new_record()
    # the snapshot's rows were as long as its own run's task count; task 1 is the only task seen so far
    record["accuracy"] = [row[:1] + [None] * (config.tasks - 1) for row in record["accuracy"]]
    return trainer, record


def partial_task1(shared: Path) -> Path:
    """Where the run training a shared task 1 keeps its snapshots between task 1's epochs, beside ``shared``: any
    run of the same task 1 goes on from there if that run is stopped."""
    return shared.with_name(shared.stem + ".partial.npz")


#: Least seconds between two snapshots inside a task: a kill loses at most one epoch or this long, whichever is more;
#: epochs of a few seconds (the quick profile's) are not each followed by a write of the whole state.
SNAPSHOT_EVERY_S = 60.0


def run_resumable(
    config: RunConfig,
    data: Mnist,
    checkpoint: Path | None = None,
    fresh: bool = False,
    task1_cache: Path | None = None,
    on_task_end=None,
    progress: Progress | None = None,
    snapshot_every_s: float = SNAPSHOT_EVERY_S,
) -> dict:
    """``ewc.train.run`` with snapshots between tasks and inside them; returns the results dict.

    Args:
        checkpoint: snapshot file written after every finished task (and its consolidation), and after an epoch when
            ``snapshot_every_s`` have passed since the last snapshot; an existing one from the same config is resumed
            (one from another config is refused with ConfigError) unless ``fresh``.
        task1_cache: directory of task-1 snapshots shared by runs whose ``task1_key`` matches (e.g. the book's
            no-penalty, EWC-all and EWC-previous experiments): task 1 is trained once and reused. The snapshot is
            taken before task 1's consolidation and without the penalty state, so runs of any mode can share it.
            While task 1 is trained its epoch snapshots go to ``partial_task1`` beside it, so whichever run of that
            task 1 starts next goes on from them.
        on_task_end: called with the results so far (``complete`` false) after each task but the last.
        progress: as for ``ewc.train.run``.
    """
    shared = Path(task1_cache) / f"task1-{ckpt.key(task1_key(config))}.npz" if task1_cache else None
    with Task1Lock(shared) as lock:
        trainer, record = start_state(config, checkpoint, fresh, shared)
        if record["tasks_done"] >= 1:
            lock.release()  # task 1 came from the checkpoint or the cache
        last_snapshot = time.monotonic()

        def trained(trainer: SequentialTrainer, record: dict) -> None:
            if record["tasks_done"] == 1 and shared is not None:
                ckpt.save(shared, trainer, {"config": task1_key(config), "record": record}, consolidation=False)
                partial_task1(shared).unlink(missing_ok=True)
                lock.release()

        def after_epoch(trainer: SequentialTrainer, record: dict) -> None:
            nonlocal last_snapshot
            if time.monotonic() - last_snapshot < snapshot_every_s:
                return
            if record["tasks_done"] == 0 and shared is not None:
                meta = {"config": task1_key(config), "record": record}
                ckpt.save(partial_task1(shared), trainer, meta, consolidation=False)
            elif checkpoint is not None:
                ckpt.save(checkpoint, trainer, {"config": config.to_dict(), "record": record})
            last_snapshot = time.monotonic()

        def after_task(trainer: SequentialTrainer, record: dict, partial: dict) -> None:
            nonlocal last_snapshot
            if checkpoint is not None:
                ckpt.save(checkpoint, trainer, {"config": config.to_dict(), "record": record})
                last_snapshot = time.monotonic()
            if on_task_end is not None and record["tasks_done"] < config.tasks:
                on_task_end(partial)

        return run(
            config,
            data,
            trainer,
            record,
            trained=trained,
            after_task=after_task,
            after_epoch=after_epoch,
            progress=progress,
        )


class Task1Lock:
    """Held by the one run that trains a shared task 1 (an exclusive ``flock`` on ``<snapshot>.lock``), from looking
    for the snapshot until it is saved: another run of the same task 1 that starts meanwhile (two Snakemake jobs of
    one seed) waits, then finds the snapshot, instead of training task 1 again. A no-op without a snapshot path;
    released at the latest when the run ends or fails."""

    def __init__(self, snapshot: Path | None):
        self.path = None if snapshot is None else Path(snapshot).with_suffix(".lock")
        self._file = None

    def __enter__(self) -> Task1Lock:
        if self.path is not None:
            import fcntl

            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "a")  # noqa: SIM115 (held until release)
            fcntl.flock(self._file, fcntl.LOCK_EX)
        return self

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing the descriptor drops the flock
            self._file = None

    def __exit__(self, *exc) -> None:
        self.release()


def run_experiment(
    config: RunConfig,
    out: str | Path,
    progress: Progress | None = None,
    reuse: bool = False,
    fresh: bool = False,
    share_task1: bool = False,
    data: Mnist | None = None,
) -> dict:
    """Train ``config`` and write its results JSON to ``out`` (directories created). Returns the results dict.

    Args:
        reuse: if ``out`` already holds complete results of exactly this config, load them instead of training
            (how CI's nbval re-executes the published chapters in seconds; ``python -m ewc book`` retrains). A file
            written before a field existed counts as having that field's default (``normalize_stored``).
        fresh: ignore (and overwrite) a checkpoint left by an interrupted run instead of resuming it.
        share_task1: take task 1 from (or put it into) the cache shared by runs that train it identically.
        data: MNIST to use (default: loaded once per process).
        progress: where the run reports its progress (``ewc.train.Progress``: a tqdm bar, the book runner's relay).

    Trains through ``run_resumable`` with the checkpoint ``out.ckpt.npz``.

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
    result = run_resumable(
        config,
        data or mnist(),
        checkpoint=checkpoint,
        fresh=fresh,
        task1_cache=task1_cache_dir() if share_task1 else None,
        on_task_end=lambda partial: results.write_json_atomic(partial, out),
        progress=progress,
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
