"""ewc.optimizer.Adam against Keras' own Adam (the reference it re-implements) and a hand-computed first step."""

import keras
import numpy as np
import tensorflow as tf

from ewc.optimizer import Adam

SHAPES = [(5, 3), (3,), (2, 2, 1, 4)]


def test_matches_keras_adam_over_many_steps():
    rng = np.random.default_rng(0)
    start = [rng.normal(size=s).astype(np.float32) for s in SHAPES]
    grads = [
        [rng.normal(scale=10.0 ** rng.integers(-4, 2), size=s).astype(np.float32) for s in SHAPES] for _ in range(30)
    ]
    ours = [tf.Variable(s) for s in start]
    theirs = [tf.Variable(s) for s in start]
    adam, reference = Adam(3e-3, ours), keras.optimizers.Adam(3e-3)

    @tf.function(jit_compile=True)
    def step(g):
        adam.apply(g, ours)

    for g in grads:
        step([tf.constant(x) for x in g])
        reference.apply_gradients(zip([tf.constant(x) for x in g], theirs))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-7)
    assert int(adam.iterations.numpy()) == 30
    moved = max(float(np.max(np.abs(a.numpy() - s))) for a, s in zip(ours, start))
    assert moved > 1e-2  # 30 steps of lr 3e-3: the comparison is not between two unmoved copies


def test_first_step_by_hand():
    """At t = 1: m = 0.1 g, v = 0.001 g^2, alpha = lr sqrt(0.001) / 0.1, so the step is lr g / (|g| + eps/sqrt(0.001))
    -- about lr sign(g) for |g| >> epsilon."""
    g = np.array([2.0, -0.5, 1e-9], np.float32)
    var = tf.Variable(np.zeros(3, np.float32))
    Adam(0.01, [var]).apply([tf.constant(g)], [var])
    m, v = 0.1 * g, 0.001 * g.astype(np.float64) ** 2
    expected = -(0.01 * np.sqrt(0.001) / 0.1) * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(var.numpy(), expected, rtol=1e-5)
    np.testing.assert_allclose(var.numpy()[:2], [-0.01, 0.01], rtol=1e-4)


def test_state_is_an_int64_step_count_and_untrainable_moments_shaped_like_the_variables():
    """What a snapshot stores (ewc.checkpoint writes ``variables`` in order): the step count as int64, then one
    complex64 m + i v per variable; none of it trainable, so no gradient tape ever watches Adam's own state."""
    adam = Adam(0.01, [tf.Variable(np.zeros(s, np.float32)) for s in SHAPES])
    assert adam.variables[0] is adam.iterations and adam.iterations.dtype == tf.int64
    assert [tuple(m.shape) for m in adam.moments] == SHAPES and {m.dtype for m in adam.moments} == {tf.complex64}
    assert not any(v.trainable for v in adam.variables)


def test_reset_makes_the_next_step_a_new_adams_first():
    """After three steps and a reset, a step from the same point moves the variables exactly as a newly built Adam's
    first step does (bias correction at t = 1, zero moments)."""
    rng = np.random.default_rng(1)
    grads = [[tf.constant(rng.normal(size=s).astype(np.float32)) for s in SHAPES] for _ in range(4)]
    used = [tf.Variable(np.zeros(s, np.float32)) for s in SHAPES]
    adam = Adam(0.01, used)
    for g in grads[:3]:
        adam.apply(g, used)
    adam.reset()
    assert int(adam.iterations.numpy()) == 0
    for v in used:
        v.assign(tf.zeros_like(v))
    adam.apply(grads[3], used)
    new = [tf.Variable(np.zeros(s, np.float32)) for s in SHAPES]
    Adam(0.01, new).apply(grads[3], new)
    for a, b in zip(used, new):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
        assert np.all(a.numpy() != 0)
