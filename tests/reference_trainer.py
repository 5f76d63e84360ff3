"""A deliberately plain sequential EWC run, to check ``ewc.train`` against: the whole sequence (train task K under the
penalty of the tasks before it, then consolidate it) written out the slow, obvious way.

Everything here follows the book and the module docstrings, not the package's code: the tasks are built from the raw
MNIST arrays and the documented permutation and shuffling streams; the forward and backward pass is the Keras model
called eagerly (no ``tf.function``, no XLA); the Fisher is a Python loop with one ``GradientTape`` per example and
dropout off; the penalty's gradient is the explicit sum over a Python list of every consolidated task's
(importance, anchor) pair, the mode choosing which pairs count; Adam is written out in numpy (float64).

Shared with the package on purpose: the MNIST arrays, the model's structure and starting weights (copied in by the
caller), and Keras' sparse categorical cross-entropy as the task loss (the book's mean cross-entropy as Keras defines
it; what is checked here is the sequence around it).
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

BETA_1, BETA_2, EPSILON = 0.9, 0.999, 1e-7  # Keras' Adam defaults


def permutations(config) -> list[np.ndarray]:
    """One index array (S^2,) per task as ``ewc.tasks`` documents it: task 1 the identity, tasks 2..T drawn one after
    another from ``default_rng([seed, 1])`` (pixel permutations only)."""
    assert config.permutation == "pixel" and not config.permute_first and config.image_size == 28
    rng = np.random.default_rng([config.seed, 1])
    return [np.arange(28 * 28)] + [rng.permutation(28 * 28) for _ in range(config.tasks - 1)]


def task_images(x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """uint8 images (N, 28, 28) with their pixels permuted -> float32 model inputs (N, 28, 28, 1) in [0, 1]."""
    flat = x.reshape(len(x), -1)[:, perm]
    return (flat.reshape(len(x), 28, 28, 1) / 255.0).astype(np.float32)


def batch_orders(config, task_index: int) -> list[np.ndarray]:
    """The index arrays (B,) of one task's training steps: pass p is ``default_rng([seed, 2, task, p]).permutation``
    of the training images cut into batches, ``epochs`` whole passes (``ewc.train.minibatches``)."""
    assert config.iterations == 0
    out = []
    for p in range(config.epochs):
        order = np.random.default_rng([config.seed, 2, task_index, p]).permutation(config.train_size)
        out += [order[i : i + config.batch_size] for i in range(0, config.train_size, config.batch_size)]
    return out


class ReferenceRun:
    """One sequential run of ``config`` on ``model`` (its weights are the starting point; it is trained in place).

    Attributes:
        stored: one (importance, anchor) pair per consolidated task, in task order: importance the task's empirical
            Fisher (ones for l2), anchor the weights at the task's end; lists of float64 arrays, one per trainable
            variable. Every task is stored whatever the mode; ``terms`` picks the pairs the mode's penalty has.
        weights_after_task: the float32 weights at the end of every task.
        accuracy: one row per epoch, test accuracy on every task seen so far (None for later tasks).
    """

    def __init__(self, config, mnist, model: keras.Model):
        self.config, self.model = config, model
        n, m = config.train_size, config.test_size
        self.perms = permutations(config)
        self.x_train = [task_images(mnist.x_train[:n], p) for p in self.perms]
        self.x_test = [task_images(mnist.x_test[:m], p) for p in self.perms]
        self.y_train, self.y_test = mnist.y_train[:n].astype(np.int32), mnist.y_test[:m].astype(np.int32)
        self.adam_reset()
        self.stored: list[tuple[list[np.ndarray], list[np.ndarray]]] = []
        self.weights_after_task: list[list[np.ndarray]] = []
        self.accuracy: list[list[float | None]] = []

    # --- Adam, written out (ewc/optimizer.py's docstring: Keras' update, epsilon added to sqrt(v)) -----------------

    def adam_reset(self) -> None:
        self.t = 0
        self.m = [np.zeros(v.shape) for v in self.model.trainable_variables]
        self.v = [np.zeros(v.shape) for v in self.model.trainable_variables]

    def adam_step(self, grads: list[np.ndarray]) -> None:
        self.t += 1
        alpha = self.config.lr * np.sqrt(1 - BETA_2**self.t) / (1 - BETA_1**self.t)
        for i, (var, g) in enumerate(zip(self.model.trainable_variables, grads)):
            self.m[i] = BETA_1 * self.m[i] + (1 - BETA_1) * g
            self.v[i] = BETA_2 * self.v[i] + (1 - BETA_2) * g * g
            theta = var.numpy().astype(np.float64) - alpha * self.m[i] / (np.sqrt(self.v[i]) + EPSILON)
            var.assign(theta.astype(np.float32))

    # --- the penalty (book, Background, eq. penalty) ----------------------------------------------------------------

    def terms(self) -> list[tuple[float, list[np.ndarray], list[np.ndarray]]]:
        """The (weight, importance, anchor) terms of the mode's penalty, picked from ``stored`` (tasks 1..K):

        none: no term; l2 and ewc-previous: the last task's pair only; ewc-all: every pair; ewc-online: every pair,
        task k weighted gamma^(K-k) (the per-task sum whose completed square ``ewc.penalty`` keeps).
        """
        mode, stored = self.config.mode, self.stored
        if mode == "none" or not stored:
            return []
        if mode in ("l2", "ewc-previous"):
            return [(1.0, *stored[-1])]
        if mode == "ewc-all":
            return [(1.0, f, a) for f, a in stored]
        if mode == "ewc-online":
            last = len(stored) - 1
            return [(self.config.gamma ** (last - k), f, a) for k, (f, a) in enumerate(stored)]
        raise ValueError(mode)

    def penalty_gradient(self, params: list[np.ndarray]) -> list[np.ndarray]:
        """lambda sum over the terms of weight * F (theta - anchor), one float64 array per parameter: the gradient of
        (lambda/2) sum_terms weight sum_i F_i (theta_i - anchor_i)^2."""
        total = [np.zeros(p.shape) for p in params]
        for weight, importance, anchor in self.terms():
            for t, p, f, a in zip(total, params, importance, anchor):
                t += self.config.lam * weight * f * (p.astype(np.float64) - a)
        return total

    # --- the Fisher (book, Background, eq. Fisher: empirical, per example, dropout off) ----------------------------

    def fisher(self, task_index: int, training: bool = False) -> list[np.ndarray]:
        """Mean over ``fisher_samples`` training images of task ``task_index`` (picked as ``SequentialTrainer``
        does: ``default_rng([seed, 3, task])``, sorted) of the squared gradient of -log p(y | x), one example at a
        time with dropout off (``training=True`` turns it on, only to show that it matters)."""
        c = self.config
        rng = np.random.default_rng([c.seed, 3, task_index])
        pick = np.sort(rng.choice(c.train_size, c.fisher_samples, replace=False))
        variables = self.model.trainable_variables
        total = [np.zeros(v.shape) for v in variables]
        for j in pick:
            x, y = self.x_train[task_index][j : j + 1], int(self.y_train[j])
            with tf.GradientTape() as tape:
                loss = -tf.math.log(self.model(x, training=training)[0, y])
            for t, g in zip(total, tape.gradient(loss, variables)):
                t += np.square(g.numpy().astype(np.float64))
        return [t / len(pick) for t in total]

    def consolidate(self, task_index: int) -> None:
        """Store task ``task_index``'s (importance, anchor) at the current weights."""
        anchor = [v.numpy().astype(np.float64) for v in self.model.trainable_variables]
        if self.config.mode.startswith("ewc"):
            importance = self.fisher(task_index)
        else:  # l2 (none stores too, but its penalty picks nothing)
            importance = [np.ones_like(a) for a in anchor]
        self.stored.append((importance, anchor))

    # --- training and evaluation -------------------------------------------------------------------------------------

    def train_step(self, task_index: int, idx: np.ndarray) -> None:
        x, y = self.x_train[task_index][idx], self.y_train[idx]
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            probs = self.model(x, training=True)
            ce = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))
        ce_grads = [g.numpy().astype(np.float64) for g in tape.gradient(ce, variables)]
        penalty = self.penalty_gradient([v.numpy() for v in variables])
        self.adam_step([g + p for g, p in zip(ce_grads, penalty)])

    def test_accuracy(self, task_index: int) -> float:
        probs = self.model(self.x_test[task_index], training=False).numpy()
        return float(np.mean(np.argmax(probs, axis=1) == self.y_test))

    def run(self) -> ReferenceRun:
        """Train every task in turn (accuracy on the seen tasks after every epoch), consolidating each but the last;
        with ``fresh_optimizer`` Adam starts afresh at every task after the first."""
        c = self.config
        steps_per_epoch = -(-c.train_size // c.batch_size)
        for k in range(c.tasks):
            if k > 0 and c.fresh_optimizer:
                self.adam_reset()
            for step, idx in enumerate(batch_orders(c, k)):
                self.train_step(k, idx)
                if (step + 1) % steps_per_epoch == 0:
                    self.accuracy.append([self.test_accuracy(j) if j <= k else None for j in range(c.tasks)])
            self.weights_after_task.append([v.numpy() for v in self.model.trainable_variables])
            if k < c.tasks - 1 and c.mode != "none":
                self.consolidate(k)
        return self
