"""Whole sequential runs of the trainer against a deliberately plain reference (``reference_trainer``): after every
task of a 4-task run the weights and the accuracy rows agree, in every mode, so the sequence itself (train, consolidate,
train under the penalty, ...) is checked, not only its parts."""

import hashlib

import keras
import numpy as np
import pytest
from reference_trainer import ReferenceRun, permutations

import ewc.train
from ewc.config import make_config
from ewc.train import SequentialTrainer, run

# A tiny run (12,730 weights, 16 steps per task) that takes about a second each way. lam = 1000 (ewc) and 1 (l2) are
# large enough that the penalty moves the final weights by 3e-2 to 4e-2 against mode none, 300 tolerances.
BASE = dict(tasks=4, epochs=2, mlp_hidden=[16], train_size=512, test_size=200, batch_size=64, fisher_samples=64)

# Weights agree to 3e-7..1e-6 (float32 rounding: XLA's fused, reordered sums against eager Keras, float32 Adam against
# the reference's float64), and to 1.7e-5 at most where Adam restarts (fresh_optimizer: with v = 0 its first step is
# ~ lr g / (|g| + 3 epsilon), steep in a small g), measured over two seeds. 1e-4 leaves room for other CPUs and stays
# 300 times below what the penalty changes.
ATOL = 1e-4
# Accuracy: one test image in 200 may flip on a near-tie between two classes (none did in the measured runs).
ACC_TOL = 1.0 / BASE["test_size"] + 1e-12

CASES = {  # id -> (overrides, the case whose final weights it must differ from: the penalty visibly does something)
    "none": (dict(mode="none"), None),
    "l2": (dict(mode="l2", lam=1.0), "none"),
    "ewc-all": (dict(mode="ewc-all"), "none"),
    "ewc-previous": (dict(mode="ewc-previous"), "ewc-all"),  # keeping only the newest task differs from keeping all
    "ewc-online-gamma1": (dict(mode="ewc-online", gamma=1.0), "none"),
    "ewc-online-gamma0.5": (dict(mode="ewc-online", gamma=0.5), "ewc-online-gamma1"),  # the decay matters
    "ewc-all-fresh-adam": (dict(mode="ewc-all", fresh_optimizer=True), "ewc-all"),  # the restart matters
}


def tiny_mlp(arch, hidden, image_size, dropout=0.0):
    """The smoke MLP with tanh in place of ReLU (and optionally a Dropout after its hidden layer), put in place of
    ``ewc.train.build_model``. Why not ReLU: a pre-activation within rounding of its kink is on in one run and off in
    the other, and Adam makes that a full step (measured: 2.3e-3 apart at the end of one of eight ReLU runs), so two
    correct runs would not agree to any useful tolerance. tanh is smooth: differences stay at rounding level."""
    layers = [keras.Input((image_size, image_size, 1)), keras.layers.Flatten()]
    layers += [keras.layers.Dense(hidden[0], activation="tanh")]
    layers += [keras.layers.Dropout(dropout)] if dropout else []
    return keras.Sequential([*layers, keras.layers.Dense(10, activation="softmax")])


def trainer_for(config, dropout=0.0):
    """``SequentialTrainer(config)`` on ``tiny_mlp`` (the trainer builds its model in its constructor)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ewc.train, "build_model", lambda *args: tiny_mlp(*args, dropout=dropout))
        return SequentialTrainer(config)


def weights(model):
    return [v.numpy() for v in model.trainable_variables]


def copy_of(model):
    """The same structure with the same weights (and dropout seed state): the reference's own, eagerly run model."""
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    return clone


def max_abs_diff(a, b):
    return max(float(np.max(np.abs(x - y))) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def runs(mnist):
    """case id -> (the trainer's weights after every task, its results, the finished ReferenceRun); each case runs
    once per module, so the sensitivity checks reuse the runs they compare against."""
    done = {}

    def get(case):
        if case not in done:
            config = make_config("smoke", **BASE, **CASES[case][0])
            trainer = trainer_for(config)
            reference = ReferenceRun(config, mnist, copy_of(trainer.model))
            after = []
            results = run(config, mnist, trainer, after_task=lambda t, record, partial: after.append(weights(t.model)))
            done[case] = after, results, reference.run()
        return done[case]

    return get


@pytest.mark.parametrize("case", list(CASES))
def test_every_task_ends_where_the_plain_reference_does(case, runs):
    after, results, reference = runs(case)
    config = reference.config
    assert len(after) == len(reference.weights_after_task) == config.tasks
    for k, (ours, theirs) in enumerate(zip(after, reference.weights_after_task)):
        for i, (a, b) in enumerate(zip(ours, theirs, strict=True)):
            np.testing.assert_allclose(a, b, rtol=0, atol=ATOL, err_msg=f"{case}: task {k + 1}, variable {i}")
    assert len(results["accuracy"]) == len(reference.accuracy) == config.tasks * config.epochs
    for row, (ours, theirs) in enumerate(zip(results["accuracy"], reference.accuracy)):
        assert [a is None for a in ours] == [b is None for b in theirs]
        np.testing.assert_allclose(
            [a for a in ours if a is not None], [b for b in theirs if b is not None], atol=ACC_TOL, err_msg=f"row {row}"
        )
    perms = np.stack(permutations(config)).astype(np.int64)
    assert results["permutations_sha256"] == hashlib.sha256(perms.tobytes()).hexdigest()
    assert len({p.tobytes() for p in perms}) == config.tasks  # the reference's tasks are all different


@pytest.mark.parametrize("case", [c for c, (_, other) in CASES.items() if other is not None])
def test_the_compared_runs_are_far_apart_where_the_penalty_acts(case, runs):
    """A penalty that does nothing (or a decay or task choice that changes nothing) would pass the comparison only if
    the reference itself barely differed from the run without it: it differs by 50 tolerances at least."""
    other = CASES[case][1]
    assert max_abs_diff(runs(case)[2].weights_after_task[-1], runs(other)[2].weights_after_task[-1]) > 50 * ATOL


def test_each_tasks_fisher_in_a_run_with_dropout_is_taken_with_dropout_off(mnist):
    """With dropout the reference cannot follow the training itself (XLA draws other dropout masks than eager
    TensorFlow from the same seed, and the reference runs eagerly), so it follows the trainer's weights instead: after
    each task the penalty's gradient at a probe point matches the reference's sum over its stored (F, anchor) pairs,
    each F computed one example at a time with dropout off at the trainer's weights at that task's end."""
    config = make_config("smoke", **BASE, mode="ewc-all")
    trainer = trainer_for(config, dropout=0.5)
    reference = ReferenceRun(config, mnist, copy_of(trainer.model))
    probe_rng = np.random.default_rng(0)
    checked = []

    def after_task(t, record, partial):
        k = record["tasks_done"] - 1
        if k == config.tasks - 1:
            return  # the last task is never consolidated
        reference.model.set_weights(t.model.get_weights())
        reference.consolidate(k)
        probe = [w + probe_rng.normal(0, 0.01, w.shape).astype(np.float32) for w in weights(t.model)]
        ours = [g.numpy() for g in t.consolidation.gradient(probe)]
        theirs = reference.penalty_gradient(probe)
        scale = max(float(np.max(np.abs(g))) for g in theirs)
        for a, b in zip(ours, theirs, strict=True):  # measured: 1.6e-7 of the largest component, float32 rounding
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-5 * scale, err_msg=f"after task {k + 1}")
        checked.append(k)

    run(config, mnist, trainer, after_task=after_task)
    assert checked == [0, 1, 2]
    # The check bites: this network's Fisher with dropout on is far from the one with dropout off.
    on = reference.fisher(config.tasks - 2, training=True)
    off = reference.stored[-1][0]
    assert max_abs_diff(on, off) > 0.1 * max(float(np.max(f)) for f in off)
