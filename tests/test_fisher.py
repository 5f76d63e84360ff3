"""The fast Fisher diagonal against an obvious per-example reference loop (and against the classic bug); its compiled
function is traced once per network structure and keeps no model alive."""

import gc
import logging
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf

from ewc import fisher
from ewc.fisher import fisher_diagonal, sample_labels, supports_fast_path
from ewc.model import build_model
from ewc.train import as_model_input


def reference_fisher(model, x, y, kind, training=False):
    """One backward pass per example (and per class for 'expected'): the textbook definition, slowly."""
    variables = model.trainable_variables
    total = [np.zeros(v.shape, np.float64) for v in variables]
    for j in range(len(x)):
        classes = range(10) if kind == "expected" else [int(y[j])]
        for c in classes:
            with tf.GradientTape() as tape:
                p = model(x[j : j + 1], training=training)[0]
                loss = -tf.math.log(p[c])
            weight = float(p[c]) if kind == "expected" else 1.0
            for t, g in zip(total, tape.gradient(loss, variables)):
                t += weight * np.square(g.numpy().astype(np.float64))
    return [t / len(x) for t in total]


def assert_fisher_close(fast, ref, rtol=1e-4):
    for f, r in zip(fast, ref, strict=True):
        assert f.shape == r.shape
        np.testing.assert_allclose(f, r, rtol=rtol, atol=1e-6 * float(np.max(r)) + 1e-30)


@pytest.fixture(scope="module")
def examples(mnist):
    x = as_model_input(mnist.x_train[:24])
    return x, mnist.y_train[:24].astype(np.int32)


def trained_a_little(arch, x, y):
    keras.utils.set_random_seed(1)
    model = build_model(arch, (32, 16))
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)  # non-trivial predictions, so classes differ
    return model


def layer_norm_net():
    """A network with a layer the fast path has no rule for (LayerNormalization): the per-example fallback."""
    return keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(16),
            keras.layers.LayerNormalization(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )


@pytest.fixture(scope="module")
def cnn(examples):
    return trained_a_little("cnn", *examples)


@pytest.fixture(scope="module")
def mlp(examples):
    return trained_a_little("mlp", *examples)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["cnn", "mlp"])
@pytest.mark.parametrize("kind", ["empirical", "expected", "sampled"])
def test_fast_fisher_equals_per_example_loop(arch, kind, examples, cnn, mlp):
    model = {"cnn": cnn, "mlp": mlp}[arch]
    x, y = examples
    batch = 10  # 10 divides neither 24 nor 12: a partial batch
    if arch == "cnn":  # the reference's per-example backward passes through the convolution are slow
        x, y = x[:12], y[:12]
    if kind == "expected" and arch == "cnn":
        x, y, batch = x[:6], y[:6], 4  # ten backward passes per example in the reference; 4 + a partial 2
    assert supports_fast_path(model)
    fast = fisher_diagonal(model, x, y, kind=kind, batch_size=batch, seed=3)
    labels = sample_labels(model, x, seed=3) if kind == "sampled" else y
    assert_fisher_close(fast, reference_fisher(model, x, labels, kind))


def test_two_convolutions_and_valid_padding_match_the_per_example_loop(examples):
    """The fast path on a network the book never builds but ``supports_fast_path`` accepts: two stacked Conv2D (the
    second with 'valid' padding, so a convolution's gradient also comes after another's) before the dense layers,
    untrained and small enough for the reference loop in the fast tier."""
    keras.utils.set_random_seed(2)
    model = keras.Sequential(
        [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(2, (3, 3), padding="same", activation="relu"),
            keras.layers.Conv2D(3, (3, 3), padding="valid", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    x, y = examples[0][:6], examples[1][:6]
    assert supports_fast_path(model)
    assert_fisher_close(fisher_diagonal(model, x, y, batch_size=4), reference_fisher(model, x, y, "empirical"))


def test_dropout_is_off(examples, cnn):
    """With dropout on the reference differs; the Fisher matches the dropout-off reference and is deterministic."""
    x, y = examples[0][:8], examples[1][:8]
    fast = fisher_diagonal(cnn, x, y)
    assert_fisher_close(fast, reference_fisher(cnn, x, y, "empirical", training=False))
    with_dropout = reference_fisher(cnn, x, y, "empirical", training=True)
    assert not np.allclose(fast[0], with_dropout[0], rtol=1e-2)
    for a, b in zip(fast, fisher_diagonal(cnn, x, y)):
        np.testing.assert_array_equal(a, b)


def test_not_the_square_of_the_batch_mean_gradient(examples, mlp):
    x, y = examples
    fast = fisher_diagonal(mlp, x, y)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, mlp(x, training=False)))
    squared_mean = [np.square(g.numpy()) for g in tape.gradient(loss, mlp.trainable_variables)]
    for f, s in zip(fast, squared_mean):
        assert np.all(f >= s * (1 - 1e-4) - 1e-12)  # Jensen: mean of squares >= square of mean
    total_f, total_s = sum(float(f.sum()) for f in fast), sum(float(s.sum()) for s in squared_mean)
    assert total_f > 3 * total_s


def test_fallback_path_for_other_layers_is_exact(examples):
    x, y = examples[0][:10], examples[1][:10]
    keras.utils.set_random_seed(2)
    model = layer_norm_net()
    assert not supports_fast_path(model)
    for kind in ("empirical", "expected"):
        assert_fisher_close(fisher_diagonal(model, x, y, kind=kind), reference_fisher(model, x, y, kind))


def test_sampled_labels_follow_the_model(examples, mlp):
    x = tf.repeat(examples[0][:1], 4000, axis=0)
    p = mlp(x[:1], training=False).numpy()[0]
    counts = np.bincount(sample_labels(mlp, x, seed=0), minlength=10) / 4000
    np.testing.assert_allclose(counts, p, atol=0.03)


class Captured(logging.Handler):
    def __init__(self):
        super().__init__()
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())


def test_fishers_of_several_models_and_ragged_batches_trace_once(examples, monkeypatch):
    """Three models of one structure in a row, each on example counts that leave a partial batch or are smaller than
    the batch: the fast path's function is traced once (a Python-side count of its forward passes while tracing),
    TensorFlow logs no 'triggered tf.function retracing' warning, and each model still gets its own Fisher. The
    fallback is traced once per model."""
    x, y = examples
    monkeypatch.setattr(fisher, "_shared", {})  # a fresh cache: structures other tests compiled do not count
    # TensorFlow's retracing warning counts the calls of every closure with this code since the process started (its
    # detector is keyed by the code): a fresh detector, so that earlier tests' models (e.g. the reference trainer's,
    # when it runs first) do not count either
    from tensorflow.python.eager.polymorphic_function import polymorphic_function

    monkeypatch.setattr(
        polymorphic_function,
        "_frequent_tracing_detector_manager",
        polymorphic_function._FrequentTracingDetectorManager(),
    )
    traces = []
    forward = fisher._forward
    monkeypatch.setattr(fisher, "_forward", lambda *args: traces.append(1) or forward(*args))
    captured, models = Captured(), []
    tf.get_logger().addHandler(captured)
    try:
        for seed in range(3):
            keras.utils.set_random_seed(seed)
            models.append(build_model("mlp", (12,)))
            for n, batch_size in ((24, 10), (7, 10), (24, 5), (24, 24)):
                fisher_diagonal(models[-1], x[:n], y[:n], batch_size=batch_size)
        for _ in range(3):
            model = layer_norm_net()
            fisher_diagonal(model, x[:3], y[:3], batch_size=2)
            fisher_diagonal(model, x[:5], y[:5], batch_size=5)
    finally:
        tf.get_logger().removeHandler(captured)
    assert len(traces) == 1
    assert [m for m in captured.messages if "retracing" in m] == []
    for model in models:  # one shared trace, yet each model's Fisher is computed from its own weights
        assert_fisher_close(fisher_diagonal(model, x[:7], y[:7]), reference_fisher(model, x[:7], y[:7], "empirical"))


@pytest.mark.parametrize("net", ["mlp", "cnn", "fallback"])
def test_the_fisher_keeps_no_model_alive(net, examples):
    """The compiled functions are cached, but a model whose Fisher was computed is freed once the caller drops it."""
    x, y = examples[0][:6], examples[1][:6]
    model = layer_norm_net() if net == "fallback" else build_model(net, (8,))
    assert supports_fast_path(model) == (net != "fallback")
    fisher_diagonal(model, x, y, batch_size=4)
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None
