"""``bench fisher``: the fast Fisher against the obvious per-example loop and against one training pass."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ewc.bench.common import batches, images, medians, report, setup, timed_rounds, train_steps, trainer

FISHER_BATCH = 256  # fisher_diagonal's default: the batch a consolidation uses


def bench_fisher(size: str = "full", mnist=None) -> dict:
    """Fast Fisher vs the per-example loop vs one training pass, on the same model and images.

    The fast Fisher is ``ewc.fisher.fisher_diagonal`` (empirical, batch 256), the loop ``per_example_fisher``, the
    training pass the trainer's compiled step at the profile's batch size.

    Returns the JSON dict: ``fast_samples_per_s``, ``loop_samples_per_s``, ``train_samples_per_s`` (images/s),
    ``speedup_vs_loop`` = fast / loop, ``cost_vs_train_pass`` = Fisher seconds / training-pass seconds for the same
    number of images = train / fast; plus the run's facts, ``targets`` and ``meets_targets``.
    """
    from ewc.fisher import fisher_diagonal
    from ewc.train import as_model_input

    s, config, mnist, load = setup(size, mnist)
    x, y = images(mnist, s.fisher_samples)
    train = trainer(config)
    model, n, n_loop = train.model, s.fisher_samples, s.loop_samples
    loop = per_example_fisher(model)
    train_batches = batches(x, y, config.batch_size)

    def fast():
        fisher_diagonal(model, as_model_input(x), y, kind="empirical", batch_size=FISHER_BATCH)

    rounds = timed_rounds(
        {
            "fast": fast,
            "loop": lambda: loop(as_model_input(x[:n_loop]), y[:n_loop]),
            "train": lambda: train_steps(train, train_batches),
        },
        s.rounds,
    )
    seconds = medians(rounds)
    fast_sps, loop_sps, train_sps = n / seconds["fast"], n_loop / seconds["loop"], n / seconds["train"]
    figures = {
        "fast_samples_per_s": fast_sps,
        "loop_samples_per_s": loop_sps,
        "train_samples_per_s": train_sps,
        "speedup_vs_loop": fast_sps / loop_sps,
        "cost_vs_train_pass": train_sps / fast_sps,
    }
    facts = {"fisher_batch": FISHER_BATCH, "fisher_samples": n, "loop_samples": n_loop, "train_samples": n}
    return report("fisher", size, config, figures, facts, load, rounds)


def per_example_fisher(model) -> Callable:
    """The obvious exact empirical Fisher: one compiled backward pass per example, squared, accumulated.

    The returned function maps images (N, 28, 28, 1) float32 and labels (N,) to one float32 array per trainable
    variable: (1/N) sum_j (d -log p(y_j | x_j) / d theta)^2, dropout off (the book's eq. Fisher).
    """
    import tensorflow as tf

    variables = model.trainable_variables

    @tf.function
    def squared_grads(x1, y1):  # one image (28, 28, 1), one label ()
        with tf.GradientTape() as tape:
            loss = -tf.math.log(model(x1[None], training=False)[0, y1])
        return [tf.square(g) for g in tape.gradient(loss, variables)]

    def fisher(x, y) -> list[np.ndarray]:
        y = tf.constant(np.asarray(y), tf.int32)
        totals = [tf.zeros_like(v) for v in variables]
        for j in range(int(x.shape[0])):
            totals = [t + g2 for t, g2 in zip(totals, squared_grads(x[j], y[j]))]
        return [(t / int(x.shape[0])).numpy() for t in totals]

    return fisher
