"""Consolidation penalties against hand-written sums, including the corrected running-sum (online) form."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from ewc.fisher import fisher_diagonal
from ewc.penalty import Consolidation, expanded_penalty, running_sums

SHAPES = [(7, 3), (3,)]
LAM = 3.5


def random_tasks(k, seed=0, offset=0.0):
    rng = np.random.default_rng(seed)
    fishers = [[rng.gamma(0.5, 1.0, s) * (rng.random(s) > 0.2) for s in SHAPES] for _ in range(k)]  # some exact zeros
    anchors = [[offset + rng.normal(size=s) for s in SHAPES] for _ in range(k)]
    return fishers, anchors


def per_task_sum(theta, fishers, anchors):
    """The definition: (lam/2) sum_K sum_i F_K,i (theta_i - theta_K,i)^2, written out plainly."""
    return 0.5 * LAM * sum(np.sum(f * (t - a) ** 2) for fk, ak in zip(fishers, anchors)
                           for f, a, t in zip(fk, ak, theta))


def value_and_grad(consolidation, theta):
    params = [tf.Variable(t) for t in theta]
    with tf.GradientTape() as tape:
        value = consolidation(params)
    grads = tape.gradient(value, params)
    return float(value), [np.zeros_like(t) if g is None else g.numpy() for g, t in zip(grads, theta)]


def consolidated(mode, fishers, anchors, dtype=tf.float64):
    c = Consolidation(mode, SHAPES, LAM, capacity=max(len(fishers), 1), dtype=dtype)
    for f, a in zip(fishers, anchors):
        c.consolidate(f, a)
    return c


def numeric_grad(f, theta, eps=1e-6):
    grads = []
    for i, t in enumerate(theta):
        g = np.zeros_like(t)
        for idx in np.ndindex(t.shape):
            up = [x.copy() for x in theta]
            down = [x.copy() for x in theta]
            up[i][idx] += eps
            down[i][idx] -= eps
            g[idx] = (f(up) - f(down)) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("mode", ["l2", "ewc-previous", "ewc-all", "ewc-online"])
def test_closed_form_gradient_is_the_derivative_of_the_penalty(mode):
    """``gradient`` (what the trainer adds to the cross-entropy gradient) against autodiff of the penalty value and
    against central differences of the plain per-task sum."""
    fishers, anchors = random_tasks(3, seed=4, offset=0.3)
    c = consolidated(mode, fishers, anchors)
    theta = [np.random.default_rng(5).normal(size=s) for s in SHAPES]
    closed = [g.numpy() for g in c.gradient([tf.constant(t) for t in theta])]
    _, autodiff = value_and_grad(c, theta)
    for a, b in zip(closed, autodiff):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    if mode == "ewc-all":
        numeric = numeric_grad(lambda t: per_task_sum(t, fishers, anchors), theta)
        for a, b in zip(closed, numeric):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert Consolidation("none", SHAPES, LAM).gradient(theta) is None


@pytest.mark.parametrize("k", [1, 2, 3, 4, 5])
def test_online_equals_all_up_to_a_constant_with_equal_gradients(k):
    fishers, anchors = random_tasks(k, seed=k)
    online, every = consolidated("ewc-online", fishers, anchors), consolidated("ewc-all", fishers, anchors)
    rng = np.random.default_rng(100 + k)
    offsets = []
    for _ in range(4):
        theta = [rng.normal(size=s) * 2 for s in SHAPES]
        v_all, g_all = value_and_grad(every, theta)
        v_online, g_online = value_and_grad(online, theta)
        np.testing.assert_allclose(v_all, per_task_sum(theta, fishers, anchors), rtol=1e-12)
        for a, b, n in zip(g_all, g_online, numeric_grad(lambda t: per_task_sum(t, fishers, anchors), theta)):
            np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-12)
            np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-8)
        offsets.append(v_all - v_online)
    np.testing.assert_allclose(offsets, offsets[0], rtol=1e-9, atol=1e-9)  # theta-independent constant
    if k > 1:
        assert offsets[0] > 0  # a real constant: the completed square drops it


def test_corrected_expansion_matches_and_the_reports_does_not():
    fishers, anchors = random_tasks(3, seed=7)
    sums = [running_sums([f[i] for f in fishers], [a[i] for a in anchors]) for i in range(len(SHAPES))]
    rng = np.random.default_rng(8)
    for _ in range(3):
        theta = [rng.normal(size=s) for s in SHAPES]
        truth = per_task_sum(theta, fishers, anchors)
        corrected = sum(expanded_penalty(t, *s, LAM) for t, s in zip(theta, sums))
        report = sum(expanded_penalty(t, *s, LAM, report_form=True) for t, s in zip(theta, sums))
        assert corrected == pytest.approx(truth, rel=1e-10)
        assert abs(report - truth) > 1e-3 * abs(truth)  # the dropped factor 2 changes the value ...
    # ... and the gradient: the report's form pulls theta towards sum F theta_K / (2 sum F), not theta_bar
    f, a = np.array([1.0]), np.array([2.0])
    s1, s2, s3 = running_sums([f], [a])
    grad_report = LAM * (a * s1 - 0.5 * s2)  # d/dtheta of (lam/2)(theta^2 s1 - theta s2) at theta = anchor
    assert grad_report[0] != 0  # the anchor itself is not a minimum under the report's form


def test_float32_completed_square_avoids_the_expanded_forms_cancellation():
    """Weights near 50 with small moves: theta^2 S1 - 2 theta S2 + S3 cancels catastrophically in float32."""
    fishers, anchors = random_tasks(5, seed=3, offset=50.0)
    rng = np.random.default_rng(4)
    theta_a = [a + 1e-2 * rng.normal(size=a.shape) for a in anchors[-1]]
    theta_b = [a + 1e-2 * rng.normal(size=a.shape) for a in anchors[-1]]
    truth = per_task_sum(theta_a, fishers, anchors) - per_task_sum(theta_b, fishers, anchors)  # float64

    def expanded32(theta):
        sums = [running_sums([f[i].astype(np.float32) for f in fishers], [a[i].astype(np.float32) for a in anchors])
                for i in range(len(SHAPES))]
        return sum(np.float32(expanded_penalty(t.astype(np.float32), *s, LAM)) for t, s in zip(theta, sums))

    online32 = consolidated("ewc-online", fishers, anchors, dtype=tf.float32)
    err_expanded = abs((expanded32(theta_a) - expanded32(theta_b)) - truth)
    err_online = abs((value_and_grad(online32, theta_a)[0] - value_and_grad(online32, theta_b)[0]) - truth)
    assert err_online < 1e-3 * abs(truth) + 1e-6
    assert err_expanded > 20 * err_online


def test_previous_keeps_exactly_one_term_and_l2_is_distance_to_last_anchor():
    fishers, anchors = random_tasks(3, seed=11)
    theta = [np.random.default_rng(12).normal(size=s) for s in SHAPES]
    previous = consolidated("ewc-previous", fishers, anchors)
    assert value_and_grad(previous, theta)[0] == pytest.approx(per_task_sum(theta, fishers[-1:], anchors[-1:]))
    l2 = consolidated("l2", [None] * 3, anchors)
    expected = 0.5 * LAM * sum(np.sum((t - a) ** 2) for t, a in zip(theta, anchors[-1]))
    assert value_and_grad(l2, theta)[0] == pytest.approx(expected)


def test_none_adds_exactly_zero():
    fishers, anchors = random_tasks(2)
    value, grads = value_and_grad(consolidated("none", [], []), [a + 1 for a in anchors[0]])
    assert value == 0.0
    assert all(np.all(g == 0) for g in grads)


def test_nothing_consolidated_yet_means_no_penalty():
    theta = [np.ones(s) for s in SHAPES]
    for mode in ("l2", "ewc-all", "ewc-previous", "ewc-online"):
        assert value_and_grad(Consolidation(mode, SHAPES, LAM, capacity=4, dtype=tf.float64), theta)[0] == 0.0


def test_trained_model_penalty_is_zero_at_anchor_positive_away_and_anchor_does_not_drift(mnist):
    keras.utils.set_random_seed(0)
    from ewc.model import build_model
    from ewc.train import as_model_input

    model = build_model("mlp", (16,))
    x, y = as_model_input(mnist.x_train[:256]), mnist.y_train[:256].astype(np.int32)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=1, verbose=0)
    for mode in ("ewc-all", "ewc-previous", "ewc-online", "l2"):
        c = Consolidation(mode, [v.shape for v in model.trainable_variables], lam=100.0, capacity=2)
        params = [v.numpy() for v in model.trainable_variables]
        c.consolidate(None if mode == "l2" else fisher_diagonal(model, x, y), params)
        assert float(c(model.trainable_variables)) == 0.0
        moved = [v + 0.05 for v in params]
        assert float(c(moved)) > 0.0
        model.trainable_variables[0].assign(params[0] + 1.0)  # training on: the stored anchor must not follow
        assert float(c(model.trainable_variables)) > 0.0
        model.trainable_variables[0].assign(params[0])
