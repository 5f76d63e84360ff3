"""Runs stopped inside a task resume after the last snapshotted epoch to exactly the uninterrupted results, a shared
task 1 stopped part-way is finished by whichever run of it comes next, and a fresh Adam per task is what it says."""

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
