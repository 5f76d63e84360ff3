"""Runs stopped inside a task resume after the last snapshotted epoch to exactly the uninterrupted results, a shared
task 1 stopped part-way is finished by whichever run of it comes next, and a fresh Adam per task is what it says."""

import copy
import fcntl

import numpy as np
import pytest

from ewc import experiment, train
from ewc.config import make_config
from ewc.experiment import partial_task1, run_resumable, task1_key
from ewc.train import SequentialTrainer, make_tasks, minibatches, steps_per_task


class Stop(Exception):
    """Stands for a kill: raised right after the snapshot of one epoch."""


def stop_after_row(monkeypatch, row: int) -> None:
    """Make the next ``run_resumable`` stop once ``row`` accuracy rows are recorded (after that epoch's snapshot)."""

    def stopping_run(*args, after_epoch, **kwargs):
        def after(trainer, record):
            after_epoch(trainer, record)
            if len(record["accuracy"]) == row:
                raise Stop

        return train.run(*args, after_epoch=after, **kwargs)

    monkeypatch.setattr(experiment, "run", stopping_run)


def test_a_run_stopped_inside_a_task_resumes_after_its_last_epoch(mnist, tmp_path, monkeypatch):
    config = make_config("smoke", mode="ewc-all", tasks=3, epochs=3, lam=50.0, fresh_optimizer=True)
    reference = run_resumable(config, mnist)
    path = tmp_path / "c.npz"
    stop_after_row(monkeypatch, 5)  # task 2, epoch 2 of 3
    with pytest.raises(Stop):
        run_resumable(config, mnist, checkpoint=path, snapshot_every_s=0)
    monkeypatch.undo()
    resumed = run_resumable(config, mnist, checkpoint=path)
    assert (resumed["resumed_from_task"], resumed["resumed_from_epoch"]) == (1, 5)
    assert resumed["accuracy"] == reference["accuracy"] and resumed["train_loss"] == reference["train_loss"]
    assert len(resumed["timings"]["train_s"]) == 3 and len(resumed["timings"]["fisher_s"]) == 2


def test_snapshots_inside_a_task_wait_for_their_interval(mnist, tmp_path, monkeypatch):
    """With a long interval no epoch is snapshotted inside a task: the run resumes after the last finished task."""
    config = make_config("smoke", mode="none", tasks=2, epochs=3)
    path = tmp_path / "c.npz"
    stop_after_row(monkeypatch, 5)
    with pytest.raises(Stop):
        run_resumable(config, mnist, checkpoint=path, snapshot_every_s=3600)
    monkeypatch.undo()
    resumed = run_resumable(config, mnist, checkpoint=path)
    assert (resumed["resumed_from_task"], resumed["resumed_from_epoch"]) == (1, 3)


def test_a_shared_task1_stopped_part_way_is_finished_by_the_next_run_of_it(mnist, tmp_path, monkeypatch):
    """Run A (no penalty) is stopped inside task 1; run B (EWC), which shares task 1, goes on from A's epochs, and its
    task 1 is the one an uninterrupted run trains."""
    a = make_config("smoke", mode="none", tasks=2, epochs=3)
    b = make_config("smoke", mode="ewc-all", tasks=3, epochs=3, lam=50.0)
    reference = run_resumable(b, mnist)
    stop_after_row(monkeypatch, 2)
    with pytest.raises(Stop):
        run_resumable(a, mnist, checkpoint=tmp_path / "a.npz", task1_cache=tmp_path, snapshot_every_s=0)
    monkeypatch.undo()
    shared = tmp_path / f"task1-{experiment.ckpt.key(task1_key(b))}.npz"
    assert partial_task1(shared).exists() and not shared.exists()
    assert not (tmp_path / "a.npz").exists()  # task 1's epochs went to the shared snapshot only
    resumed = run_resumable(b, mnist, checkpoint=tmp_path / "b.npz", task1_cache=tmp_path)
    assert (resumed["resumed_from_task"], resumed["resumed_from_epoch"]) == (0, 2)
    assert resumed["accuracy"] == reference["accuracy"] and resumed["train_loss"] == reference["train_loss"]
    assert shared.exists() and not partial_task1(shared).exists()


def test_fresh_optimizer_restarts_adam_at_every_task(mnist):
    """Task 2 of a fresh-Adam run is exactly task 2 trained from task 1's weights by a newly built trainer; a carried
    Adam trains task 1 identically and task 2 differently."""
    fresh = make_config("smoke", mode="none", tasks=2, epochs=2, fresh_optimizer=True)
    carried = make_config("smoke", mode="none", tasks=2, epochs=2)
    trainer = SequentialTrainer(fresh)
    result = train.run(fresh, mnist, trainer)
    assert int(trainer.optimizer.iterations.numpy()) == steps_per_task(fresh)

    tasks, _ = make_tasks(fresh, mnist)
    by_hand = SequentialTrainer(fresh)
    by_hand.train_batches(tasks[0], _steps(fresh, 0))
    state = [v.numpy() for v in by_hand.model.variables]  # weights and the dropout stream
    second = SequentialTrainer(fresh)  # a newly built Adam
    for v, value in zip(second.model.variables, state):
        v.assign(value)
    second.train_batches(tasks[1], _steps(fresh, 1))
    for ours, reference in zip(trainer.model.trainable_variables, second.model.trainable_variables):
        np.testing.assert_allclose(ours.numpy(), reference.numpy(), rtol=1e-5, atol=1e-6)

    other = train.run(carried, mnist)
    rows = fresh.epochs
    assert other["accuracy"][:rows] == result["accuracy"][:rows]
    assert other["train_loss"][rows:] != result["train_loss"][rows:]


def _steps(config, task_index):
    stream = minibatches(config.train_size, config.batch_size, config.seed, task_index)
    return (next(stream) for _ in range(steps_per_task(config)))


class FakeClock:
    """``time.perf_counter`` that advances exactly 1 s per call, so a run's task seconds are counts of its calls."""

    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_snapshot_from_before_task_seconds_were_kept_resumes_with_the_next_task_alone(mnist, monkeypatch):
    """A record saved between tasks by older code has no ``task_partial_s``: the next task's seconds then start from
    zero, exactly as in an uninterrupted run under the same clock."""
    config = make_config("smoke", mode="ewc-all", tasks=3, epochs=2, lam=50.0)
    monkeypatch.setattr(train.time, "perf_counter", FakeClock())
    whole = train.run(config, mnist)["timings"]

    saved = {}

    def stop_after_task_1(trainer, record, partial):
        saved.update(copy.deepcopy(record))
        raise Stop

    monkeypatch.setattr(train.time, "perf_counter", FakeClock())
    trainer = SequentialTrainer(config)
    with pytest.raises(Stop):
        train.run(config, mnist, trainer, after_task=stop_after_task_1)
    del saved["task_partial_s"]
    resumed = train.run(config, mnist, trainer, saved)["timings"]
    assert resumed["train_s"] == whole["train_s"] and resumed["eval_s"] == whole["eval_s"]
    assert resumed["train_s"][1:] == [2.0, 2.0]  # per epoch: one second training, one evaluating


def test_fresh_ignores_an_existing_checkpoint(mnist, tmp_path, monkeypatch):
    config = make_config("smoke", mode="none", tasks=2, epochs=2)
    reference = run_resumable(config, mnist)
    path = tmp_path / "c.npz"
    stop_after_row(monkeypatch, 3)
    with pytest.raises(Stop):
        run_resumable(config, mnist, checkpoint=path, snapshot_every_s=0)
    monkeypatch.undo()
    again = run_resumable(config, mnist, checkpoint=path, fresh=True)
    assert again["resumed_from_task"] is None and again["resumed_from_epoch"] is None
    assert again["accuracy"] == reference["accuracy"] and again["train_loss"] == reference["train_loss"]


def test_a_run_that_takes_task1_from_the_cache_frees_it_at_once(mnist, tmp_path):
    """While a run goes on from a cached task 1, another run of that task 1 need not wait for it."""
    run_resumable(make_config("smoke", mode="none", tasks=2, epochs=1), mnist, task1_cache=tmp_path)
    config = make_config("smoke", mode="ewc-all", tasks=3, epochs=1, lam=50.0)
    (lock,) = tmp_path.glob("task1-*.lock")
    free = []

    def try_the_lock(partial):
        with open(lock, "a") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                free.append(True)
            except BlockingIOError:
                free.append(False)

    result = run_resumable(config, mnist, task1_cache=tmp_path, on_task_end=try_the_lock)
    assert result["task1_reused"] and free == [True]
