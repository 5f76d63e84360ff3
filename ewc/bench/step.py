"""``bench step``: where one training step's time goes, by timing the trainer's compiled step cut short.

Each variant is its own XLA-compiled function on the same network, images and batch size as ``bench train``:

* ``forward``: the forward pass in training mode and the mean cross-entropy;
* ``gradient``: the same plus the backward pass (every weight's gradient, each reduced to one number so that XLA
  cannot drop it; the reduction reads the gradients once more);
* ``update``: the Adam update alone, on stored gradients (a memory-bound pass over the weights, the two moments and
  the gradients);
* ``step``: the trainer's whole step with no penalty (forward, backward, Adam), as it trains;
* ``online``: the whole step with online EWC holding a consolidated task (adds the penalty's gradient).

The parts are differences of medians of the same run: backward = gradient - forward; the step's remainder
(update and what joining the parts saves or costs) = step - gradient; penalty = online - step.
"""

from __future__ import annotations

from ewc.bench.common import batches, consolidate_random, images, medians, report, setup, timed_rounds, trainer


def bench_step(size: str = "full", mnist=None) -> dict:
    """Median milliseconds per step of each variant (module docstring) over interleaved rounds of as many images as a
    round of ``bench train``.

    Returns the JSON dict: ``ms_forward``, ``ms_gradient``, ``ms_update``, ``ms_step``, ``ms_online`` (ms per step);
    ``ms_backward`` = gradient - forward, ``ms_step_rest`` = step - gradient, ``ms_penalty`` = online - step;
    ``share_forward``, ``share_backward``, ``share_step_rest`` (fractions of ``ms_step``); plus the run's facts.
    """
    import tensorflow as tf

    from ewc.train import as_model_input

    s, config, mnist, load = setup(size, mnist)
    x, y = images(mnist, s.train_samples)
    steps = batches(x, y, config.batch_size)
    plain, online = trainer(config), trainer(config, "ewc-online")
    consolidate_random({online: 1})
    model, variables = plain.model, plain.model.trainable_variables

    def loss(xb, yb):
        import keras

        probs = model(as_model_input(xb), training=True)
        return tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(yb, probs))

    def gradient(xb, yb):
        with tf.GradientTape() as tape:
            ce = loss(xb, yb)
        return ce + tf.add_n([tf.reduce_sum(g) for g in tape.gradient(ce, variables)]) * 0.0

    stored = [tf.Variable(0.001 * tf.ones_like(v)) for v in variables]
    side = trainer(config)  # the update runs on a network of its own: the others' weights stay as trained

    def update(xb, yb):
        side.optimizer.apply([g.read_value() for g in stored], side.model.trainable_variables)
        return tf.constant(0.0)

    compiled = {
        "forward": tf.function(loss, jit_compile=True),
        "gradient": tf.function(gradient, jit_compile=True),
        "update": tf.function(update, jit_compile=True),
        "step": plain.train_step,
        "online": online.train_step,
    }

    def run(fn):
        def steps_of():
            for xb, yb in steps:
                out = fn(xb, yb)
            out.numpy()

        return steps_of

    rounds = timed_rounds({name: run(fn) for name, fn in compiled.items()}, s.rounds)
    ms = {name: 1000 * sec / len(steps) for name, sec in medians(rounds).items()}
    figures = {f"ms_{name}": v for name, v in ms.items()}
    figures["ms_backward"] = ms["gradient"] - ms["forward"]
    figures["ms_step_rest"] = ms["step"] - ms["gradient"]
    figures["ms_penalty"] = ms["online"] - ms["step"]
    for part in ("forward", "backward", "step_rest"):
        figures[f"share_{part}"] = figures[f"ms_{part}"] / ms["step"]
    return report("step", size, config, figures, {"steps_per_round": len(steps)}, load, rounds)
