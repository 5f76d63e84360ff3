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

The fast path is one XLA-compiled function per network structure and kind that takes the weights as arguments: the
models of one structure (every trainer of a run, every run of a chapter) share one trace, and batches of any size
share one compiled shape (the last batch is padded with examples that count zero).
"""

from __future__ import annotations

import json
import weakref

import keras
import numpy as np
import tensorflow as tf

from ewc.config import FISHER_KINDS as KINDS
from ewc.errors import ConfigError

# The fast path's compiled batch functions take the weights as arguments, so every model of one structure shares one
# trace (and one XLA compilation per batch size): (structure, kind) -> function. The fallback closes over its model
# (through a weak reference, so the cache does not keep the model alive): model -> {kind: function}.
_shared: dict[tuple, tf.types.experimental.GenericFunction] = {}
_per_model: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def fisher_diagonal(
    model: keras.Model, x, y, kind: str = "empirical", batch_size: int = 256, seed: int = 0
) -> list[np.ndarray]:
    """Diagonal Fisher of ``model`` on examples ``x`` (N, ...) with integer labels ``y`` (N,), dropout off.

    Returns:
        One float32 array per ``model.trainable_variables``, same shapes: the mean over the N examples of the
        squared per-example gradient of the loss of ``kind`` (see the module docstring), summed over batches in
        float64.
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
    if supports_fast_path(model):
        return _fast_fisher(model, x, y, kind, min(batch_size, n))
    per_model = _per_model.setdefault(model, {})
    if kind not in per_model:  # built once per model and kind, so repeated calls reuse the traced graph
        per_model[kind] = _loop_batch_fn(model, kind, x.shape[1:])
    totals = [np.zeros(v.shape, np.float64) for v in model.trainable_variables]
    for start in range(0, n, batch_size):
        for t, s in zip(totals, per_model[kind](x[start : start + batch_size], y[start : start + batch_size])):
            t += s.numpy()
    return [(t / n).astype(np.float32) for t in totals]


def sample_labels(model: keras.Model, x, seed: int = 0, batch_size: int = 256) -> np.ndarray:
    """One label per example drawn from the model's p(. | x) (dropout off) with ``numpy.random.default_rng(seed)``.

    Returns int32 (N,). Inverse-CDF sampling: label = first c with cumsum(p)_c > u, u ~ U[0, 1).
    """
    probs = np.concatenate([model(x[i : i + batch_size], training=False).numpy() for i in range(0, len(x), batch_size)])
    cdf = np.cumsum(probs.astype(np.float64), axis=1)
    u = np.random.default_rng(seed).random((len(x), 1)) * cdf[:, -1:]
    return np.minimum((cdf <= u).sum(axis=1), probs.shape[1] - 1).astype(np.int32)


def supports_fast_path(model: keras.Model) -> bool:
    """True when every layer with weights is a Dense or a stride-1, undilated Conv2D (both with bias), the last layer
    is a softmax Dense, and every other layer can be rebuilt from its config (the compiled function shared by all
    models of one structure calls such copies): the networks whose per-example squared gradients have a closed form
    here."""
    layers = getattr(model, "layers", [])
    if not layers or not _is_dense(layers[-1]) or layers[-1].activation is not keras.activations.softmax:
        return False
    for layer in layers:
        if layer.weights and not (_is_dense(layer) or _is_plain_conv(layer)):
            return False
        if _config_key(layer) is None:
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


def _config_key(layer) -> str | None:
    """The layer's config without its name, as sorted JSON (None if it has no config): equal keys, same function."""
    try:
        config = {k: v for k, v in layer.get_config().items() if k != "name"}
    except NotImplementedError:
        return None
    return json.dumps(config, sort_keys=True, default=repr)


def _fast_fisher(model: keras.Model, x: tf.Tensor, y: tf.Tensor, kind: str, batch: int) -> list[np.ndarray]:
    """The fast path over batches of ``batch`` examples. The last batch is padded to ``batch`` with examples that
    count zero, so that one compiled shape serves every batch; per-weight sums accumulate in float64."""
    params = [w for layer in model.layers if layer.weights for w in (layer.kernel, layer.bias)]  # plan order
    batch_sums = _shared_batch_fn(model, kind, tuple(x.shape[1:]), [tuple(v.shape) for v in params])
    weights = [tf.convert_to_tensor(v) for v in params]
    totals = [tf.zeros(v.shape, tf.float64) for v in params]
    n = int(x.shape[0])
    for start in range(0, n, batch):
        xb, yb = x[start : start + batch], y[start : start + batch]
        count = int(xb.shape[0])
        if count < batch:
            xb = tf.pad(xb, [[0, batch - count]] + [[0, 0]] * (len(xb.shape) - 1))
            yb = tf.pad(yb, [[0, batch - count]])
        totals = batch_sums(xb, yb, tf.constant(count), weights, totals)
    fisher = {id(v): (t.numpy() / n).astype(np.float32) for v, t in zip(params, totals)}
    return [fisher[id(v)] for v in model.trainable_variables]


def _shared_batch_fn(model: keras.Model, kind: str, example_shape: tuple, param_shapes: list[tuple]):
    """The compiled batch function for ``model``'s structure (layer types and configs, example shape) and ``kind``,
    built on first use: traced once, whichever model of that structure calls it and whatever the batch size."""
    key = (kind, example_shape, tuple((type(layer), _config_key(layer)) for layer in model.layers))
    if key not in _shared:
        _shared[key] = _fast_batch_fn(_plan(model), kind, example_shape, param_shapes)
    return _shared[key]


def _plan(model: keras.Model) -> list[tuple]:
    """The model's layers as steps that hold no weights: ``("dense", activation)``, ``("conv", (kh, kw), padding,
    activation)``, or ``("layer", copy)`` with a fresh copy of a weightless layer built from its config (the model's
    own layer would keep the model's graph, and with it the model, alive)."""
    plan = []
    for layer in model.layers:
        if _is_dense(layer):
            plan.append(("dense", layer.activation))
        elif _is_plain_conv(layer):
            plan.append(("conv", tuple(layer.kernel_size), layer.padding.upper(), layer.activation))
        else:
            plan.append(("layer", type(layer).from_config(layer.get_config())))
    return plan


def _forward(plan: list[tuple], weights: list[tf.Tensor], x):
    """Run ``plan`` with dropout off on ``weights`` (kernel, bias of each Dense/Conv2D, in layer order), recording
    for each Dense/Conv2D its step, input ``a`` and pre-activation ``z``.

    Returns (records, logits): records is a list of (step, a, z); logits (B, 10) are the last layer's ``z``.
    """
    records, h, params = [], x, iter(weights)
    for step in plan:
        if step[0] == "layer":
            h = step[1](h, training=False)
            continue
        kernel, bias = next(params), next(params)
        if step[0] == "dense":
            z = tf.matmul(h, kernel) + bias
        else:
            z = tf.nn.conv2d(h, kernel, strides=1, padding=step[2]) + bias
        records.append((step, h, z))
        h = step[-1](z)
    return records, records[-1][2]


def _conv_per_example_grads(step: tuple, a, delta):
    """Per-example Conv2D kernel gradients (B, k*k*c_in, c_out) from inputs a (B, H, W, c_in) and
    pre-activation gradients delta (B, H', W', c_out)."""
    (kh, kw), padding = step[1], step[2]
    patches = tf.image.extract_patches(
        a, sizes=[1, kh, kw, 1], strides=[1, 1, 1, 1], rates=[1, 1, 1, 1], padding=padding
    )  # (B, H', W', kh*kw*c_in)
    return tf.einsum("bhwk,bhwc->bkc", patches, delta)


def _squared_grad_sums(records, deltas, weights=None) -> list:
    """Batch sums of squared per-example gradients: (kernel, bias) of each record, flattened in record order.

    ``weights`` (B,), optional, multiply each example's squared gradient (the class probability for ``expected``).
    """
    out = []
    for (step, a, _), d in zip(records, deltas):
        w = 1.0 if weights is None else weights[:, None]
        if step[0] == "dense":  # (A o A)^T (w Delta o Delta): (in, out); bias sum_j w delta_j^2
            d2 = w * tf.square(d)
            out += [tf.matmul(tf.square(a), d2, transpose_a=True), tf.reduce_sum(d2, axis=0)]
        else:
            g = _conv_per_example_grads(step, a, d)  # (B, k*k*c_in, c_out)
            wg = 1.0 if weights is None else weights[:, None, None]
            kh, kw = step[1]
            kernel = tf.reshape(tf.reduce_sum(wg * tf.square(g), axis=0), (kh, kw, a.shape[-1], d.shape[-1]))
            out += [kernel, tf.reduce_sum(w * tf.square(tf.reduce_sum(d, axis=[1, 2])), axis=0)]
    return out


def _fast_batch_fn(plan: list[tuple], kind: str, example_shape: tuple, param_shapes: list[tuple]):
    """One XLA-compiled function (x (B, *example_shape), y (B,), count, weights, totals) -> totals + this batch's
    sums of squared per-example gradients (float64, one per weight), where only the first ``count`` examples count.

    Its input signature leaves the batch dimension open and takes the weights as arguments: it is traced once, and
    the models that share it are not captured (nor kept alive) by it.
    """
    signature = [
        tf.TensorSpec((None, *example_shape), tf.float32),
        tf.TensorSpec((None,), tf.int32),
        tf.TensorSpec((), tf.int32),
        [tf.TensorSpec(s, tf.float32) for s in param_shapes],
        [tf.TensorSpec(s, tf.float64) for s in param_shapes],
    ]

    @tf.function(input_signature=signature, jit_compile=True)
    def batch_sums(x, y, count, weights, totals):
        real = tf.cast(tf.range(tf.shape(x)[0]) < count, tf.float32)  # (B,): 0 for padding, whose gradients vanish
        with tf.GradientTape(persistent=kind == "expected") as tape:
            tape.watch(weights)  # plain tensors, not variables: the tape records the forward pass only if asked
            records, logits = _forward(plan, weights, x)
            logp = tf.nn.log_softmax(logits)
            if kind == "expected":
                per_class = [tf.reduce_sum(real * logp[:, c]) for c in range(logp.shape[-1])]
            else:  # empirical (sampled labels were drawn already)
                loss = -tf.reduce_sum(real * tf.gather(logp, y, batch_dims=1))
        zs = [z for _, _, z in records]
        if kind != "expected":
            sums = _squared_grad_sums(records, tape.gradient(loss, zs))
        else:
            p = tf.stop_gradient(tf.exp(logp))
            sums = None
            for c, total in enumerate(per_class):
                class_sums = _squared_grad_sums(records, tape.gradient(total, zs), weights=p[:, c])
                sums = class_sums if sums is None else [s + cs for s, cs in zip(sums, class_sums)]
            del tape
        return [t + tf.cast(s, tf.float64) for t, s in zip(totals, sums)]

    return batch_sums


def _loop_batch_fn(model: keras.Model, kind: str, example_shape: tuple):
    """Exact per-example fallback for networks without a fast rule: one backward pass per example (and class).

    The returned function maps a batch (x (B, *example_shape), y (B,)) to the batch sums of squared gradients, one
    per trainable variable. It reaches its model through a weak reference (the cache holding it is keyed by the
    model) and its one compiled function has a fixed input signature (traced once per model).
    """
    model_ref = weakref.ref(model)

    @tf.function(input_signature=[tf.TensorSpec(example_shape, tf.float32), tf.TensorSpec((), tf.int32)])
    def one_example(x1, y1):
        model = model_ref()
        variables = model.trainable_variables
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
        totals = [tf.zeros_like(v) for v in model_ref().trainable_variables]
        for j in range(int(x.shape[0])):
            totals = [t + s for t, s in zip(totals, one_example(x[j], y[j]))]
        return totals

    return batch_sums
