"""The diagonal Fisher information of a trained network, per example and with dropout off.

For task K with n examples (book, Background, eq. Fisher):

    F_K,i = (1/n) sum_j (d l(x_j, theta) / d theta_i)^2

computed from **per-example** gradients (never the square of a batch-mean gradient), in one of three variants
(named as in GMvandeVen/continual-learning):

* ``empirical`` -- l = -log p(y_j | x_j) with the true label y_j (the report's choice);
* ``expected``  -- the exact Fisher: sum_c p(c | x_j) (d log p(c | x_j) / d theta_i)^2;
* ``sampled``   -- l = -log p(c_j | x_j) with c_j drawn from p(. | x_j) (``sample_labels``), then as ``empirical``.

Fast path: one forward and one backward pass per batch (``expected``: one backward per class). For a Dense layer
z = a W + b, the per-example kernel gradient is the outer product a_j delta_j^T, so the batch sum of its squares is
(A o A)^T (Delta o Delta); the bias gives sum_j delta_j^2. For a stride-1 Conv2D the per-example kernel gradient is
P_j^T Delta_j, with P_j the image's 3x3 patches (positions x k*k*c_in) and Delta_j (positions x c_out): one batched
matmul, then squares. Networks with other trainable layers fall back to an exact per-example loop.
"""

from __future__ import annotations

import weakref

import keras
import numpy as np
import tensorflow as tf

from ewc.config import FISHER_KINDS as KINDS
from ewc.errors import ConfigError

_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> {kind: batch function}


def fisher_diagonal(
    model: keras.Model, x, y, kind: str = "empirical", batch_size: int = 256, seed: int = 0
) -> list[np.ndarray]:
    """Diagonal Fisher of ``model`` on examples ``x`` (N, ...) with integer labels ``y`` (N,), dropout off.

    Returns:
        One float32 array per ``model.trainable_variables``, same shapes: the mean over the N examples of the
        squared per-example gradient of the loss of ``kind`` (see the module docstring).
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown fisher kind {kind!r}; choose from {', '.join(KINDS)}")
    x = tf.convert_to_tensor(x, tf.float32)
    y = tf.convert_to_tensor(np.asarray(y), tf.int32)
    n = int(x.shape[0])
    if n == 0:
        raise ConfigError("the Fisher needs at least one example")
    if kind == "sampled":
        y, kind = tf.constant(sample_labels(model, x, seed, batch_size), tf.int32), "empirical"
    per_model = _compiled.setdefault(model, {})
    if kind not in per_model:  # build once per model and kind, so repeated calls reuse the traced graph
        per_model[kind] = _fast_batch_fn(model, kind) if supports_fast_path(model) else _loop_batch_fn(model, kind)
    batch_sums = per_model[kind]
    totals = [np.zeros(v.shape, np.float64) for v in model.trainable_variables]
    for start in range(0, n, batch_size):
        sums = batch_sums(x[start : start + batch_size], y[start : start + batch_size])
        for t, s in zip(totals, sums):
            t += s.numpy()
    return [(t / n).astype(np.float32) for t in totals]


def sample_labels(model: keras.Model, x, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """One label per example drawn from the model's p(. | x) (dropout off) with ``numpy.random.default_rng(seed)``.

    Returns int32 (N,). Inverse-CDF sampling: label = first c with cumsum(p)_c > u, u ~ U[0, 1).
    """
    probs = np.concatenate([model(x[i:i + batch_size], training=False).numpy() for i in range(0, len(x), batch_size)])
    cdf = np.cumsum(probs.astype(np.float64), axis=1)
    u = np.random.default_rng(seed).random((len(x), 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=1), probs.shape[1] - 1).astype(np.int32)


def supports_fast_path(model: keras.Model) -> bool:
    """True when every layer with weights is a Dense or a stride-1, undilated Conv2D (both with bias) and the last
    layer is a softmax Dense: the layers whose per-example squared gradients have a closed form here."""
    layers = getattr(model, "layers", [])
    if not layers or not _is_dense(layers[-1]) or layers[-1].activation is not keras.activations.softmax:
        return False
    for layer in layers:
        if layer.weights and not (_is_dense(layer) or _is_plain_conv(layer)):
            return False
    return True


def _is_dense(layer) -> bool:
    return type(layer) is keras.layers.Dense and layer.use_bias and layer.kernel.shape[0] is not None


def _is_plain_conv(layer) -> bool:
    return (
        type(layer) is keras.layers.Conv2D
        and layer.use_bias
        and layer.data_format == "channels_last"
        and tuple(layer.strides) == (1, 1)
        and tuple(layer.dilation_rate) == (1, 1)
        and layer.groups == 1
    )


def _forward(model: keras.Model, x):
    """Run ``model`` with dropout off, recording for each Dense/Conv2D its input ``a`` and pre-activation ``z``.

    Returns (records, logits): records is a list of (layer, a, z); logits (B, 10) are the last layer's ``z``.
    """
    records, h = [], x
    for layer in model.layers:
        if _is_dense(layer):
            z = tf.matmul(h, layer.kernel) + layer.bias
        elif _is_plain_conv(layer):
            z = tf.nn.conv2d(h, layer.kernel, strides=1, padding=layer.padding.upper()) + layer.bias
        else:
            h = layer(h, training=False)
            continue
        records.append((layer, h, z))
        h = layer.activation(z)
    return records, records[-1][2]


def _conv_per_example_grads(layer, a, delta):
    """Per-example Conv2D kernel gradients (B, k*k*c_in, c_out) from inputs a (B, H, W, c_in) and
    pre-activation gradients delta (B, H', W', c_out)."""
    kh, kw = layer.kernel_size
    patches = tf.image.extract_patches(
        a, sizes=[1, kh, kw, 1], strides=[1, 1, 1, 1], rates=[1, 1, 1, 1], padding=layer.padding.upper()
    )  # (B, H', W', kh*kw*c_in)
    return tf.einsum("bhwk,bhwc->bkc", patches, delta)


def _squared_grad_sums(records, deltas, weights=None):
    """Batch sums of squared per-example gradients for each record's (kernel, bias).

    ``weights`` (B,), optional, multiply each example's squared gradient (the class probability for ``expected``).
    """
    out = {}
    for (layer, a, _), d in zip(records, deltas):
        w = 1.0 if weights is None else weights[:, None]
        if _is_dense(layer):  # (A o A)^T (w Delta o Delta): (in, out); bias sum_j w delta_j^2
            d2 = w * tf.square(d)
            out[id(layer.kernel)] = tf.matmul(tf.square(a), d2, transpose_a=True)
            out[id(layer.bias)] = tf.reduce_sum(d2, axis=0)
        else:
            g = _conv_per_example_grads(layer, a, d)  # (B, k*k*c_in, c_out)
            wg = 1.0 if weights is None else weights[:, None, None]
            out[id(layer.kernel)] = tf.reshape(tf.reduce_sum(wg * tf.square(g), axis=0), layer.kernel.shape)
            out[id(layer.bias)] = tf.reduce_sum(w * tf.square(tf.reduce_sum(d, axis=[1, 2])), axis=0)
    return out


def _fast_batch_fn(model: keras.Model, kind: str):
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def batch_sums(x, y):
        with tf.GradientTape(persistent=kind == "expected") as tape:
            records, logits = _forward(model, x)
            logp = tf.nn.log_softmax(logits)
            if kind == "expected":
                per_class = [tf.reduce_sum(logp[:, c]) for c in range(logp.shape[-1])]
            else:  # empirical (sampled labels were drawn already)
                loss = -tf.reduce_sum(tf.gather(logp, y, batch_dims=1))
        zs = [z for _, _, z in records]
        if kind != "expected":
            sums = _squared_grad_sums(records, tape.gradient(loss, zs))
        else:
            p = tf.stop_gradient(tf.exp(logp))
            sums = None
            for c, total in enumerate(per_class):
                class_sums = _squared_grad_sums(records, tape.gradient(total, zs), weights=p[:, c])
                sums = class_sums if sums is None else {k: sums[k] + v for k, v in class_sums.items()}
            del tape
        return [sums[id(v)] for v in variables]

    return batch_sums


def _loop_batch_fn(model: keras.Model, kind: str):
    """Exact per-example fallback for networks without a fast rule: one backward pass per example (and class)."""
    variables = model.trainable_variables

    @tf.function(reduce_retracing=True)
    def one_example(x1, y1):
        with tf.GradientTape(persistent=kind == "expected") as tape:
            probs = model(x1[None], training=False)
            logp = tf.math.log(tf.clip_by_value(probs[0], 1e-30, 1.0))
            per_class = tf.unstack(logp)  # sliced inside the tape so each slice is differentiable
        if kind == "expected":
            p = tf.stop_gradient(tf.exp(logp))
            total = [tf.zeros_like(v) for v in variables]
            for c, logp_c in enumerate(per_class):
                grads = tape.gradient(logp_c, variables)
                total = [t + p[c] * tf.square(g) for t, g in zip(total, grads)]
            del tape
            return total
        with tape:
            loss = -tf.gather(logp, y1)
        return [tf.square(g) for g in tape.gradient(loss, variables)]

    def batch_sums(x, y):
        totals = [tf.zeros_like(v) for v in variables]
        for j in range(int(x.shape[0])):
            sq = one_example(x[j], y[j])
            totals = [t + s for t, s in zip(totals, sq)]
        return totals

    return batch_sums
