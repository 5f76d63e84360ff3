"""Adam written out as variable updates, so that the trainer's compiled step owns the whole update.

The update is Keras 3's ``keras.optimizers.Adam`` (Kingma & Ba 2015 with Keras' epsilon placement), step for step:

    t = iterations + 1,  alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) (1 - beta_1),  v += (g^2 - v) (1 - beta_2),  theta -= alpha m / (sqrt(v) + epsilon)

Why not Keras' own: inside one XLA-compiled train step the Keras optimizer cost this CPU about 10 ms per step more
on the Appendix A CNN (83 vs 74 ms), and it kept every trained model's buffers alive until the process ended (about
640 MB per CNN trainer); this one does neither. The trainer adds the penalty's closed-form gradient
(``Consolidation.gradient``) to the cross-entropy gradient before ``apply``.
"""

from __future__ import annotations

import tensorflow as tf


class Adam:
    """Adam state (first and second moments, float32, one pair per variable) for the variables it is built for."""

    def __init__(self, learning_rate: float, variables, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7):
        self.learning_rate, self.beta_1, self.beta_2, self.epsilon = float(learning_rate), beta_1, beta_2, epsilon
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False, name="iterations")
        self.momentums = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in variables]
        self.velocities = [tf.Variable(tf.zeros(v.shape, v.dtype), trainable=False) for v in variables]

    @property
    def variables(self) -> list[tf.Variable]:
        """Every state variable in a fixed order (for checkpoints): iterations, then the moments, then velocities."""
        return [self.iterations, *self.momentums, *self.velocities]

    def apply(self, grads, variables) -> None:
        """One Adam step on ``variables`` (the ones it was built for, same order) with gradients ``grads``."""
        t = tf.cast(self.iterations + 1, tf.float32)
        alpha = self.learning_rate * tf.sqrt(1.0 - self.beta_2**t) / (1.0 - self.beta_1**t)
        for var, g, m, v in zip(variables, grads, self.momentums, self.velocities):
            m.assign_add((g - m) * (1.0 - self.beta_1))
            v.assign_add((tf.square(g) - v) * (1.0 - self.beta_2))
            var.assign_sub(m * alpha / (tf.sqrt(v) + self.epsilon))
        self.iterations.assign_add(1)
