"""Adam written out as variable updates, so that the trainer's compiled step owns the whole update.

The update is Keras 3's ``keras.optimizers.Adam`` (Kingma & Ba 2015 with Keras' epsilon placement), step for step:

    t = iterations + 1,  alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) (1 - beta_1),  v += (g^2 - v) (1 - beta_2),  theta -= alpha m / (sqrt(v) + epsilon)

Why not Keras' own: inside one XLA-compiled train step the Keras optimizer was slower, and it kept every trained
model's buffers alive until the process ended; this one does neither. The trainer adds the penalty's closed-form
gradient (``Consolidation.gradient``) to the cross-entropy gradient before ``apply``.

Storage: a parameter's two moments are kept together as one complex64 number, m + i v. The update is memory-bound,
and XLA on the CPU computes each separately stored output in its own pass, re-reading -- and recomputing -- the
gradient for each: for a penalised gradient g + lambda S (theta - anchor) that meant reading S and the anchor three
times per step. With both moments in one array they are written in one pass, and an optimization barrier
(``ewc.xla_barrier``) makes the parameter update read them back instead of recomputing them.
"""

from __future__ import annotations

import tensorflow as tf

from ewc.xla_barrier import optimization_barrier


class Adam:
    """Adam state (first and second moments as one complex64 m + i v per variable) for the variables it is built for."""

    def __init__(
        self, learning_rate: float, variables, beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7
    ):
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = float(learning_rate), beta_1, beta_2, epsilon
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.moments = [tf.Variable(tf.zeros(v.shape, tf.complex64), trainable=False) for v in variables]

    @property
    def variables(self) -> list[tf.Variable]:
        """Every state variable in a fixed order (for checkpoints): iterations, then the moments."""
        return [self.iterations, *self.moments]

    def reset(self) -> None:
        """Back to the state of a newly built Adam (step count and both moments zero), as a freshly compiled Keras
        model's optimizer starts: the report's code recompiles its model after every task."""
        self.iterations.assign(0)
        for moments in self.moments:
            moments.assign(tf.zeros_like(moments))

    def apply(self, grads, variables) -> None:
        """One Adam step on ``variables`` (float32, the ones it was built for, same order) with gradients ``grads``."""
        t = tf.cast(self.iterations + 1, tf.float32)
        alpha = self.learning_rate * tf.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        for var, g, moments in zip(variables, grads, self.moments):
            m, v = tf.math.real(moments), tf.math.imag(moments)
            m = m + (g - m) * (1.0 - self.beta_1)
            v = v + (tf.square(g) - v) * (1.0 - self.beta_2)
            updated = optimization_barrier(tf.complex(m, v))
            moments.assign(updated)
            var.assign_sub(tf.math.real(updated) * alpha / (tf.sqrt(tf.math.imag(updated)) + self.epsilon))
        self.iterations.assign_add(1)
