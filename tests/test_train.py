"""The sequential trainer and its results: forgetting, metrics by hand, determinism (the results file the ``run``
command writes: test_cli)."""

import numpy as np
import pytest

from ewc.config import make_config
from ewc.experiment import run_resumable
from ewc.results import metrics, task_matrix
from ewc.train import SequentialTrainer, make_tasks, run


def test_no_penalty_forgets_task_one(mnist):
    config = make_config(
        "smoke", mode="none", tasks=2, epochs=5, train_size=3000, test_size=1000, lr=1e-2, mlp_hidden=[64]
    )  # measured here: 0.895 -> 0.690 after task 2, task 2 at 0.888
    r = run(config, mnist)["task_matrix"]
    assert r[0][0] > 0.85  # learned
    assert r[1][1] > 0.80  # the permuted task is learned too ...
    assert r[0][0] - r[1][0] >= 0.10  # ... at the cost of task 1


@pytest.mark.parametrize("mode", ["ewc-all", "ewc-online", "l2"])
def test_steps_are_traced_once_per_batch_shape_never_per_epoch_or_task(mnist, mode):
    """The penalty state lives in variables, so consolidating a task re-traces (and re-compiles) nothing. The smoke
    profile's 1,000 images in batches of 64 make two batch shapes (64 and the last 40): two traces of the train step
    for the whole run; its 500 test images are one evaluation batch: one trace."""
    config = make_config("smoke", mode=mode, tasks=3, epochs=2)
    trainer, (tasks, _) = SequentialTrainer(config), make_tasks(config, mnist)
    rng = np.random.default_rng(0)
    for i, task in enumerate(tasks):
        for _ in range(config.epochs):
            trainer.train_epoch(task, rng)
            for seen in tasks[: i + 1]:
                trainer.accuracy(seen)
        if i < len(tasks) - 1:  # as the run does: the last task is never consolidated
            trainer.consolidate(task, i)
    assert trainer.consolidation.tasks_consolidated == 2
    assert trainer.train_step.experimental_get_tracing_count() == 2
    assert trainer.predict.experimental_get_tracing_count() == 1


def test_metrics_by_hand():
    r = [[0.9, None, None], [0.6, 0.8, None], [0.5, 0.7, 0.95]]
    m = metrics(r)
    assert m["acc"] == pytest.approx((0.5 + 0.7 + 0.95) / 3)
    assert m["bwt"] == pytest.approx(((0.5 - 0.9) + (0.7 - 0.8)) / 2)
    assert m["forgetting"] == pytest.approx([0.9 - 0.5, 0.8 - 0.7])
    assert m["just_trained"] == pytest.approx((0.9 + 0.8 + 0.95) / 3)
    accuracy = [[0.1, None], [0.9, None], [0.5, 0.2], [0.6, 0.8]]
    assert task_matrix(accuracy, epochs=2) == [[0.9, None], [0.6, 0.8]]
    assert metrics([[0.7]])["bwt"] == 0.0


def test_same_seed_is_bit_identical_and_other_seed_differs(mnist):
    config = make_config("smoke", mode="ewc-online", tasks=2, epochs=1)
    a, b = run(config, mnist), run(config, mnist)
    assert a["accuracy"] == b["accuracy"] and a["train_loss"] == b["train_loss"]
    c = run(make_config("smoke", mode="ewc-online", tasks=2, epochs=1, seed=1), mnist)
    assert c["permutations_sha256"] != a["permutations_sha256"] and c["train_loss"] != a["train_loss"]


def test_online_and_all_train_alike(mnist):
    """Same gradient, so the same training, up to float32 rounding."""
    runs = [run(make_config("smoke", mode=m, tasks=3, epochs=1), mnist) for m in ("ewc-all", "ewc-online")]
    np.testing.assert_allclose(runs[0]["metrics"]["final"], runs[1]["metrics"]["final"], atol=0.02)


@pytest.mark.slow
def test_shared_task1_is_reused_and_changes_nothing(mnist, tmp_path):
    """A run that takes task 1 from another mode's snapshot ends exactly where training it itself would."""
    config = make_config("smoke", mode="ewc-all", tasks=2, epochs=1)
    alone = run(config, mnist)
    donor = run_resumable(make_config("smoke", mode="none", tasks=2, epochs=1), mnist, task1_cache=tmp_path)
    assert not donor["task1_reused"] and len(list(tmp_path.glob("task1-*.npz"))) == 1
    shared = run_resumable(config, mnist, task1_cache=tmp_path)
    assert shared["task1_reused"] is True
    assert shared["accuracy"] == alone["accuracy"] and shared["train_loss"] == alone["train_loss"]
    other = run_resumable(make_config("smoke", mode="ewc-all", tasks=2, epochs=1, lr=2e-3), mnist, task1_cache=tmp_path)
    assert other["task1_reused"] is False  # a different learning rate trains task 1 differently: no reuse


@pytest.mark.slow
def test_shared_task1_from_a_run_with_another_task_count(mnist, tmp_path):
    """The task count does not change task 1, so a 3-task run shares a 2-task run's snapshot; its rows stay 3 long."""
    run_resumable(make_config("smoke", mode="none", tasks=2, epochs=1), mnist, task1_cache=tmp_path)
    config = make_config("smoke", mode="ewc-all", tasks=3, epochs=1)
    shared, alone = run_resumable(config, mnist, task1_cache=tmp_path), run(config, mnist)
    assert shared["task1_reused"] is True
    assert shared["accuracy"] == alone["accuracy"] and all(len(row) == 3 for row in shared["accuracy"])


def test_trained_sees_each_task_before_its_consolidation_and_after_task_after_it(mnist):
    """``trained`` sees a task finished but not consolidated (the state a shared task 1 is saved in), ``after_task``
    sees it consolidated (the state a checkpoint holds), after every task; the last task is counted as consolidated
    but computes no Fisher (it would never be used), so the penalty holds two tasks at the end, not three."""
    config = make_config("smoke", mode="ewc-all", tasks=3, epochs=1)
    calls = []

    def trained(trainer, record):
        calls.append(
            ("trained", record["tasks_done"], record["consolidated"], trainer.consolidation.tasks_consolidated)
        )

    def after_task(trainer, record, partial):
        calls.append(("after", record["tasks_done"], record["consolidated"], trainer.consolidation.tasks_consolidated))
        assert partial["complete"] is False and partial["accuracy"] == record["accuracy"]

    run(config, mnist, trained=trained, after_task=after_task)
    assert calls == [
        ("trained", 1, 0, 0),
        ("after", 1, 1, 1),
        ("trained", 2, 1, 1),
        ("after", 2, 2, 2),
        ("trained", 3, 2, 2),
        ("after", 3, 3, 2),
    ]


def test_iterations_walk_reshuffled_passes_and_split_into_rows(mnist, tmp_path):
    """25 steps on the smoke profile's 1,000 images in batches of 64 (16 steps per pass: 15 of 64, one of 40) are
    pass 0 whole, then the first 9 batches of pass 1 in its own shuffle; 2 rows end after 12 and 25 steps. The
    reference is a plain loop over batches built by hand."""
    config = make_config("smoke", mode="none", tasks=1, epochs=2, iterations=25)
    result = run_resumable(config, mnist, checkpoint=tmp_path / "c.npz")

    trainer, (tasks, _) = SequentialTrainer(config), make_tasks(config, mnist)
    task = tasks[0]
    passes = [np.random.default_rng([config.seed, 2, 0, p]).permutation(1000) for p in (0, 1)]
    batches = [order[s : s + 64] for order in passes for s in range(0, 1000, 64)][:25]
    assert [len(b) for b in batches] == [64] * 15 + [40] + [64] * 9
    rows, losses = [], []
    for segment in (batches[:12], batches[12:]):
        ce = [trainer.train_step(task.x_train[b], task.y_train[b].astype(np.int32)).numpy() for b in segment]
        losses.append(float(np.mean(ce)))
        rows.append([trainer.accuracy(task)])
    assert result["accuracy"] == rows and result["train_loss"] == losses
    assert result["task_matrix"] == [rows[-1]]
    with np.load(tmp_path / "c.npz") as npz:
        assert int(npz["optimizer_0"]) == 25  # Adam's step count: exactly the iterations asked for


def test_whole_epochs_given_as_iterations_train_identically(mnist):
    epochs = make_config("smoke", mode="ewc-online", tasks=2, epochs=2)
    steps = run(make_config("smoke", mode="ewc-online", tasks=2, epochs=2, iterations=2 * 16), mnist)
    by_epochs = run(epochs, mnist)
    assert steps["accuracy"] == by_epochs["accuracy"] and steps["train_loss"] == by_epochs["train_loss"]
    assert steps["metrics"] == by_epochs["metrics"]


def test_iterations_across_passes_trace_once_per_batch_shape(mnist):
    import itertools

    from ewc.train import minibatches

    config = make_config("smoke", mode="ewc-online", tasks=2, epochs=3, iterations=37)
    trainer, (tasks, _) = SequentialTrainer(config), make_tasks(config, mnist)
    for k, task in enumerate(tasks):
        stream = minibatches(config.train_size, config.batch_size, config.seed, k)
        for n in (12, 12, 13):  # the run's shares of 37 steps: floor(37 (e + 1) / 3) - floor(37 e / 3)
            trainer.train_batches(task, itertools.islice(stream, n))
        if k == 0:
            trainer.consolidate(task, k)
    assert int(trainer.optimizer.iterations.numpy()) == 2 * 37
    assert trainer.train_step.experimental_get_tracing_count() == 2  # batches of 64 and of 40


@pytest.mark.slow
def test_permuted_first_task_on_32_by_32_images(mnist):
    """Task 1 is zero-padded MNIST seen through its own permutation; the MLP gets 1,024 inputs; a run completes."""
    config = make_config("smoke", mode="ewc-online", gamma=0.5, tasks=2, epochs=1, image_size=32, permute_first=True)
    tasks, perms = make_tasks(config, mnist)
    padded = np.zeros((config.train_size, 32, 32), np.uint8)
    padded[:, 2:30, 2:30] = mnist.x_train[: config.train_size]
    assert perms.shape == (2, 1024) and not np.array_equal(perms[0], np.arange(1024))
    np.testing.assert_array_equal(tasks[0].x_train.reshape(-1, 1024), padded.reshape(-1, 1024)[:, perms[0]])
    result = run(config, mnist)
    assert result["parameters"] == (1024 * 64 + 64) + (64 * 64 + 64) + (64 * 10 + 10)
    assert result["task_matrix"][0][0] > 0.5  # learned from permuted, padded images


def test_a_snapshot_copies_one_variable_at_a_time_into_what_np_load_reads(tmp_path, monkeypatch):
    """checkpoint.save writes each variable before it copies the next out of TensorFlow, so a snapshot holds one
    variable's copy at a time rather than the whole state (the peak of an EWC-all run); the file is an ordinary
    ``.npz`` with every array and the metadata, and a real trainer's snapshot restores bit for bit."""
    from types import SimpleNamespace

    from ewc import checkpoint

    events = []

    class Variable:
        def __init__(self, value):
            self.value = value

        def numpy(self):
            events.append(("copy", float(self.value.flat[0])))
            return self.value

    def variables(*firsts):
        return [Variable(np.full((2, 3), v, np.float32)) for v in firsts]

    consolidation = SimpleNamespace(importance=variables(5.0), anchor=variables(6.0), tasks_consolidated=1)
    trainer = SimpleNamespace(model=SimpleNamespace(variables=variables(1.0, 2.0)), consolidation=consolidation)
    trainer.optimizer = SimpleNamespace(variables=variables(3.0))
    write_array = np.lib.format.write_array

    def recording(f, array, **kwargs):
        events.append(("write", float(array.flat[0]) if array.dtype == np.float32 else "meta"))
        return write_array(f, array, **kwargs)

    monkeypatch.setattr(np.lib.format, "write_array", recording)
    checkpoint.save(tmp_path / "s.npz", trainer, {"record": {"tasks_done": 2}})
    copies = [1.0, 2.0, 3.0, 5.0, 6.0]
    assert events == [e for v in copies for e in (("copy", v), ("write", v))] + [("write", "meta")]
    with np.load(tmp_path / "s.npz") as npz:
        assert sorted(npz.files) == ["anchor_0", "importance_0", "meta", "model_0", "model_1", "optimizer_0"]
        assert npz["anchor_0"].tolist() == [[6.0] * 3] * 2 and npz["model_1"].dtype == np.float32
    assert checkpoint.read_meta(tmp_path / "s.npz")["tasks_consolidated"] == 1
    monkeypatch.undo()

    config = make_config("smoke", mode="ewc-all", tasks=3)
    trained = SequentialTrainer(config)
    trained.consolidation.consolidate(
        [np.full(v.shape, 0.5, np.float32) for v in trained.model.trainable_variables],
        [v.numpy() for v in trained.model.trainable_variables],
    )
    for v in trained.model.variables + trained.optimizer.variables:  # a fresh trainer of the config starts elsewhere
        v.assign(v + (1 if "int" in str(v.dtype) else 0.25))
    checkpoint.save(tmp_path / "real.npz", trained, {"record": {}})
    fresh = SequentialTrainer(config)
    checkpoint.restore(tmp_path / "real.npz", fresh)
    for a, b in zip(
        trained.model.variables + trained.optimizer.variables, fresh.model.variables + fresh.optimizer.variables
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    for a, b in zip(
        trained.consolidation.importance + trained.consolidation.anchor,
        fresh.consolidation.importance + fresh.consolidation.anchor,
    ):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert fresh.consolidation.tasks_consolidated == 1
