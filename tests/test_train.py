"""The sequential trainer and its results: end to end at smoke scale, forgetting, metrics by hand, determinism."""

import json

import numpy as np
import pytest
from helpers import run_cli

from ewc.config import make_config
from ewc.results import metrics, task_matrix
from ewc.train import SequentialTrainer, make_tasks, run


def test_smoke_run_writes_a_well_formed_results_file(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli("run", "--profile", "smoke", "--mode", "ewc-all", "--out", str(out), "--no-progress")
    assert proc.returncode == 0, proc.stderr
    result = json.loads(out.read_text())
    config = result["config"]
    assert result["complete"] is True and config["mode"] == "ewc-all" and config["profile"] == "smoke"
    tasks, epochs = config["tasks"], config["epochs"]
    acc = result["accuracy"]
    assert len(acc) == tasks * epochs and all(len(row) == tasks for row in acc)
    for e, row in enumerate(acc):
        current = e // epochs
        assert all(v is None for v in row[current + 1:])  # null before a task starts
        assert all(0.0 <= v <= 1.0 for v in row[: current + 1])
    assert result["task_matrix"] == [acc[(i + 1) * epochs - 1] for i in range(tasks)]
    assert set(result["metrics"]) >= {"acc", "bwt", "forgetting", "just_trained"}
    assert len(result["timings"]["fisher_s"]) == tasks - 1 and len(result["timings"]["train_s"]) == tasks
    assert {"tensorflow", "keras", "numpy", "python"} <= set(result["versions"])
    assert f"wrote {out}" in proc.stdout


def test_no_penalty_forgets_task_one(mnist):
    config = make_config("smoke", mode="none", tasks=2, epochs=5, train_size=3000, test_size=1000, lr=1e-2,
                         mlp_hidden=[64])  # measured here: 0.895 -> 0.690 after task 2, task 2 at 0.888
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


def test_shared_task1_is_reused_and_changes_nothing(mnist, tmp_path):
    """A run that takes task 1 from another mode's snapshot ends exactly where training it itself would."""
    config = make_config("smoke", mode="ewc-all", tasks=2, epochs=1)
    alone = run(config, mnist)
    donor = run(make_config("smoke", mode="none", tasks=2, epochs=1), mnist, task1_cache=tmp_path)
    assert not donor["task1_reused"] and len(list(tmp_path.glob("task1-*.npz"))) == 1
    shared = run(config, mnist, task1_cache=tmp_path)
    assert shared["task1_reused"] is True
    assert shared["accuracy"] == alone["accuracy"] and shared["train_loss"] == alone["train_loss"]
    other = run(make_config("smoke", mode="ewc-all", tasks=2, epochs=1, lr=2e-3), mnist, task1_cache=tmp_path)
    assert other["task1_reused"] is False  # a different learning rate trains task 1 differently: no reuse


def test_shared_task1_from_a_run_with_another_task_count(mnist, tmp_path):
    """The task count does not change task 1, so a 3-task run shares a 2-task run's snapshot; its rows stay 3 long."""
    run(make_config("smoke", mode="none", tasks=2, epochs=1), mnist, task1_cache=tmp_path)
    config = make_config("smoke", mode="ewc-all", tasks=3, epochs=1)
    shared, alone = run(config, mnist, task1_cache=tmp_path), run(config, mnist)
    assert shared["task1_reused"] is True
    assert shared["accuracy"] == alone["accuracy"] and all(len(row) == 3 for row in shared["accuracy"])
