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
