"""Consolidation: the quadratic penalty that keeps a network near what earlier tasks needed.

Every mode adds to the batch-mean cross-entropy the same form (book, Background, eq. penalty)

    (lambda/2) sum_s sum_i importance_s,i (theta_i - anchor_s,i)^2

over a fixed number of *slots* s, and the modes differ only in how ``consolidate`` fills the slots after a task:

=============  =====  ===================================================================================
mode           slots  after task K
=============  =====  ===================================================================================
none           0      nothing: the penalty is exactly zero
l2             1      importance = 1, anchor = theta_K (plain L2 pull to the last task's weights)
ewc-previous   1      importance = F_K, anchor = theta_K (only the previous task)
ewc-all        T-1    slot K: importance = F_K, anchor = theta_K (one term per previous task)
ewc-online     1      importance = S_K = gamma S_{K-1} + F_K, anchor = theta_bar_K (below); 0 where S = 0
=============  =====  ===================================================================================

``ewc-online`` is the completed square of the gamma-weighted per-task sum (Schwarz et al. 2018's online EWC; gamma is
``RunConfig.gamma``, 1 by default):

    sum_{k<=K} gamma^(K-k) F_k (theta - theta_k)^2 = S_K (theta - theta_bar_K)^2 + c_K,
    S_K = sum_{k<=K} gamma^(K-k) F_k,  theta_bar_K = sum_{k<=K} gamma^(K-k) F_k theta_k / S_K,

with c_K independent of theta, so it has the gradient of the per-task sum with 2P numbers whatever the number of
tasks; with gamma = 1 it is the plain sum, the gradient of ``ewc-all``. Both sums obey one recursion: multiplying the
sum up to task K-1 by gamma and adding task K's term gives gamma S_{K-1} (theta - theta_bar_{K-1})^2 + F_K (theta -
theta_K)^2 + const, whose completed square is

    S_K = gamma S_{K-1} + F_K,
    theta_bar_K = (gamma S_{K-1} theta_bar_{K-1} + F_K theta_K) / S_K
                = theta_bar_{K-1} + (F_K / S_K) (theta_K - theta_bar_{K-1}).

(Schwarz et al. and van de Ven's code keep the decayed curvature but anchor it at the latest weights theta_K alone;
that is not the quadratic whose curvature is S_K, and for gamma = 1 it is not ``ewc-all``'s gradient.) The report's
expansion drops the factor 2 of the cross term -2 theta sum_K F_K theta_K; see ``expanded_penalty``.

The state lives in ``tf.Variable``s updated with ``assign``, so a compiled train step that calls ``penalty`` is never
re-traced when a task is added.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from ewc.config import MODES
from ewc.errors import ConfigError


class Consolidation:
    """Penalty state for one mode over parameters of the given ``shapes``.

    Args:
        mode: one of ``MODES``.
        shapes: the shapes of the penalised parameters (e.g. ``[v.shape for v in model.trainable_variables]``).
        lam: lambda, the penalty strength.
        capacity: for ``ewc-all``, how many tasks can be consolidated (the number of tasks minus one).
        dtype: dtype of the stored importances and anchors.
        gamma: for ``ewc-online``, the decay of the running importance, in (0, 1]; other modes take only 1.
    """

    def __init__(self, mode: str, shapes, lam: float, capacity: int = 1, dtype=tf.float32, gamma: float = 1.0):
        if mode not in MODES:
            raise ConfigError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
        if not 0 < gamma <= 1 or (gamma != 1 and mode != "ewc-online"):
            raise ConfigError(f"gamma must be in (0, 1] and 1 unless the mode is ewc-online; got {gamma} for {mode}")
        self.mode, self.lam, self.dtype, self.gamma = mode, float(lam), dtype, float(gamma)
        self.slots = self.slots_for(mode, capacity)
        self.tasks_consolidated = 0
        shapes = [tuple(s) for s in shapes]
        self.importance = [tf.Variable(tf.zeros((self.slots,) + s, dtype), trainable=False) for s in shapes]
        self.anchor = [tf.Variable(tf.zeros((self.slots,) + s, dtype), trainable=False) for s in shapes]

    @staticmethod
    def slots_for(mode: str, capacity: int) -> int:
        """How many (importance, anchor) slots ``mode`` keeps for a run that consolidates ``capacity`` tasks."""
        return {"none": 0, "ewc-all": max(int(capacity), 1)}.get(mode, 1)

    def __call__(self, params) -> tf.Tensor:
        """The penalty (scalar, ``dtype``) at ``params`` (tensors in the order of ``shapes``)."""
        if self.slots == 0:
            return tf.constant(0.0, self.dtype)
        total = tf.add_n(
            [
                tf.reduce_sum(f * tf.square(tf.cast(p, self.dtype)[None] - a))
                for p, f, a in zip(params, self.importance, self.anchor)
            ]
        )
        return 0.5 * self.lam * total

    def gradient(self, params) -> list[tf.Tensor] | None:
        """The penalty's gradient with respect to ``params``, lambda sum_s importance_s (theta - anchor_s), one tensor
        per parameter (``dtype``); None for ``none``. The trainer adds it to the cross-entropy gradient."""
        if self.slots == 0:
            return None
        return [
            self.lam * tf.reduce_sum(f * (tf.cast(p, self.dtype)[None] - a), axis=0)
            for p, f, a in zip(params, self.importance, self.anchor)
        ]

    def consolidate(self, fisher, params) -> None:
        """Record a finished task: its Fisher diagonal ``fisher`` (None for ``l2``) and final weights ``params``."""
        k = self.tasks_consolidated
        if fisher is None:
            if self.mode.startswith("ewc"):
                raise ValueError(f"{self.mode} needs the task's Fisher diagonal")
            fisher = [None] * len(params)
        if self.mode == "ewc-all" and k >= self.slots:
            raise ConfigError(f"ewc-all was sized for {self.slots} consolidated tasks; cannot add task {k + 1}")
        for f_var, a_var, f, p in zip(self.importance, self.anchor, fisher, params):
            p = tf.cast(tf.identity(p), self.dtype)
            f = tf.ones_like(p) if f is None else tf.cast(f, self.dtype)
            if self.mode in ("l2", "ewc-previous"):
                f_var.assign(f[None])
                a_var.assign(p[None])
            elif self.mode == "ewc-all":
                f_var[k].assign(f)
                a_var[k].assign(p)
            elif self.mode == "ewc-online":
                # S' = gamma S + F and theta_bar' = theta_bar + (F / S') (theta - theta_bar) (the module docstring):
                # exact (theta_bar' = theta) for the first task, and theta_bar stays put where S' = 0. gamma = 1
                # multiplies exactly, so the default is the undecayed sum bit for bit.
                s_old, bar_old = f_var[0], a_var[0]
                s_new = self.gamma * s_old + f
                share = tf.where(s_new > 0, f / tf.where(s_new > 0, s_new, 1), tf.zeros_like(p))
                bar_new = bar_old + share * (p - bar_old)
                f_var.assign(s_new[None])
                a_var.assign(bar_new[None])
        self.tasks_consolidated += 1

    def state(self) -> dict[str, list[np.ndarray]]:
        """Copies of the stored state, for checkpoints."""
        return {
            "importance": [v.numpy() for v in self.importance],
            "anchor": [v.numpy() for v in self.anchor],
            "tasks_consolidated": self.tasks_consolidated,
        }

    def load_state(self, state: dict) -> None:
        for var, value in zip(self.importance + self.anchor, list(state["importance"]) + list(state["anchor"])):
            var.assign(value)
        self.tasks_consolidated = int(state["tasks_consolidated"])


def running_sums(fishers, anchors):
    """The report's three running sums for one parameter vector: Sigma_1 = sum_K F_K, Sigma_2 = sum_K F_K theta_K and
    Sigma_3 = sum_i sum_K F_K,i theta_K,i^2. ``fishers``/``anchors``: lists of equal-shape arrays, one per task."""
    s1 = sum(fishers)
    s2 = sum(f * a for f, a in zip(fishers, anchors))
    s3 = sum(np.sum(f * a * a) for f, a in zip(fishers, anchors))
    return s1, s2, s3


def expanded_penalty(theta, s1, s2, s3, lam: float, report_form: bool = False):
    """(lambda/2) (sum_i [theta_i^2 Sigma_1,i - 2 theta_i Sigma_2,i] + Sigma_3): the expanded running-sum form.

    ``report_form=True`` drops the factor 2 of the cross term, as the report does; that is *not* the per-task sum.
    Kept to show the report's error and the float32 cancellation that the completed-square form avoids.
    """
    cross = 1.0 if report_form else 2.0
    return 0.5 * lam * (np.sum(theta * theta * s1 - cross * theta * s2) + s3)
