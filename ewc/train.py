"""The sequential trainer: learn tasks one after another, recording test accuracy on every seen task after every epoch
(the report's protocol), and consolidating after each task.

A task is trained on a stream of minibatches (``minibatches``): pass p over its training images in a fresh shuffled
order, then pass p + 1, and so on. By default a task takes ``epochs`` whole passes and accuracy is recorded after
each; with ``iterations`` > 0 it takes exactly that many steps of the stream (passes cut wherever the count ends),
split into ``epochs`` near-equal shares (share e ends after floor((e + 1) iterations / epochs) steps) with accuracy
recorded after each. Either way a task has ``epochs`` accuracy rows, so ``results.task_matrix`` reads the end of task
i at row (i + 1) epochs - 1, and ``iterations`` = epochs x ceil(train_size / batch_size) trains exactly as epochs do.

Images stay uint8 in memory (N, S, S) with S = ``image_size``; each task's permutation is applied once; the train step
(forward, loss, backward, the penalty's gradient, Adam) is one XLA-compiled function whose penalty state lives in
variables, so it is traced once per batch shape for the whole run, never per epoch or task.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from dataclasses import dataclass
from typing import Protocol

from ewc.backend import require_tensorflow_backend

# ruff: noqa: E402 -- the imports below follow the backend check on purpose
require_tensorflow_backend()  # before Keras picks its backend: it cannot switch once imported
import keras
import numpy as np
import tensorflow as tf

from ewc import results as res
from ewc.config import RunConfig
from ewc.data import Mnist
from ewc.fisher import fisher_diagonal
from ewc.model import build_model
from ewc.optimizer import Adam
from ewc.penalty import Consolidation
from ewc.tasks import apply_permutation, make_permutations, pad_images

EVAL_BATCH = 1000  # large batches: evaluation is forward-only


class Progress(Protocol):
    """Where a run reports its progress (the caller owns the display: a tqdm bar has this interface, and so does the
    book runner's relay to its parent process): ``update`` with the images just trained, ``set_postfix_str`` with
    where the run is ("task 2/5 epoch 3/30")."""

    def update(self, n: int) -> object: ...

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> object: ...


@dataclass(frozen=True)
class Task:
    """One task's images (uint8, (N, S, S), S = ``image_size``) and labels (uint8, (N,))."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def make_tasks(config: RunConfig, mnist: Mnist) -> tuple[list[Task], np.ndarray]:
    """The config's tasks on the first ``train_size``/``test_size`` images, zero-padded to ``image_size``; returns
    (tasks, permutations (T, image_size^2))."""
    perms = make_permutations(
        config.permutation,
        config.tasks,
        config.seed,
        config.block_size,
        permute_first=config.permute_first,
        side=config.image_size,
    )
    x_tr, y_tr = pad_images(mnist.x_train[: config.train_size], config.image_size), mnist.y_train[: config.train_size]
    x_te, y_te = pad_images(mnist.x_test[: config.test_size], config.image_size), mnist.y_test[: config.test_size]
    tasks = [Task(apply_permutation(x_tr, p), y_tr, apply_permutation(x_te, p), y_te) for p in perms]
    return tasks, perms


def as_model_input(x_uint8) -> tf.Tensor:
    """uint8 images (B, S, S) -> float32 (B, S, S, 1) in [0, 1]."""
    return tf.cast(x_uint8, tf.float32)[..., None] / 255.0


class SequentialTrainer:
    """The model, its optimizer, the consolidation state and the compiled steps for one run."""

    def __init__(self, config: RunConfig):
        self.config = config
        keras.utils.set_random_seed(config.seed)
        self.model = build_model(config.arch, config.mlp_hidden, config.image_size)
        self.optimizer = Adam(config.lr, self.model.trainable_variables)
        self.consolidation = Consolidation(
            config.mode,
            [v.shape for v in self.model.trainable_variables],
            config.lam,
            capacity=config.tasks - 1,
            gamma=config.gamma,
        )
        self.train_step = tf.function(self._train_step, jit_compile=True)
        self.predict = tf.function(self._predict, jit_compile=True)

    def _train_step(self, x_uint8, y):
        variables = self.model.trainable_variables
        with tf.GradientTape() as tape:
            probs = self.model(as_model_input(x_uint8), training=True)
            ce = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(y, probs))
        grads = tape.gradient(ce, variables)
        penalty_grads = self.consolidation.gradient(variables)
        if penalty_grads is not None:  # the gradient of ce + penalty, the penalty's part in closed form
            grads = [g + p for g, p in zip(grads, penalty_grads)]
        self.optimizer.apply(grads, variables)
        return ce

    def _predict(self, x_uint8):
        return tf.argmax(self.model(as_model_input(x_uint8), training=False), axis=-1, output_type=tf.int32)

    def train_epoch(self, task: Task, rng: np.random.Generator, progress: Progress | None = None) -> float:
        """One pass over ``task``'s training images in a shuffled order; returns the mean batch cross-entropy."""
        return self.train_batches(task, _batches(rng.permutation(len(task.x_train)), self.config.batch_size), progress)

    def train_batches(self, task: Task, batches, progress: Progress | None = None) -> float:
        """One step per index array of ``batches`` (int, (B,) each) into ``task``'s training images; returns the mean
        batch cross-entropy."""
        losses = []
        for idx in batches:
            xb, yb = task.x_train[idx], task.y_train[idx].astype(np.int32)
            losses.append(self.train_step(xb, yb))
            if progress is not None:
                progress.update(len(xb))
        return float(np.mean([loss.numpy() for loss in losses]))

    def accuracy(self, task: Task) -> float:
        """Test accuracy (fraction) on ``task``."""
        correct = 0
        for start in range(0, len(task.x_test), EVAL_BATCH):
            pred = self.predict(task.x_test[start : start + EVAL_BATCH]).numpy()
            correct += int(np.sum(pred == task.y_test[start : start + EVAL_BATCH]))
        return correct / len(task.x_test)

    def consolidate(self, task: Task, task_index: int) -> float:
        """Compute the task's Fisher (if the mode needs it) and record the task; returns seconds spent."""
        t0 = time.perf_counter()
        params = [v.numpy() for v in self.model.trainable_variables]
        fisher = None  # l2 needs no Fisher
        if self.config.mode.startswith("ewc"):
            rng = np.random.default_rng([self.config.seed, 3, task_index])
            pick = np.sort(rng.choice(len(task.x_train), self.config.fisher_samples, replace=False))
            fisher = fisher_diagonal(
                self.model,
                as_model_input(task.x_train[pick]),
                task.y_train[pick],
                kind=self.config.fisher_kind,
                seed=self.config.seed,
            )
        self.consolidation.consolidate(fisher, params)
        return time.perf_counter() - t0


def _batches(order: np.ndarray, batch_size: int):
    """``order`` cut into consecutive index arrays of ``batch_size`` (the last one shorter if it does not divide)."""
    return (order[start : start + batch_size] for start in range(0, len(order), batch_size))


def minibatches(n: int, batch_size: int, seed: int, task_index: int):
    """The endless minibatch stream of one task over ``n`` training images: pass p is the shuffled order
    ``default_rng([seed, 2, task_index, p]).permutation(n)`` cut by ``_batches``. Yields index arrays (B,); pass p
    is what ``train_epoch`` takes for epoch p, so whole epochs and the same number of iterations train alike."""
    for p in itertools.count():
        yield from _batches(np.random.default_rng([seed, 2, task_index, p]).permutation(n), batch_size)


def steps_per_task(config: RunConfig) -> int:
    """Minibatch steps of one task: ``iterations``, or ``epochs`` whole passes."""
    return config.iterations or config.epochs * -(-config.train_size // config.batch_size)


def new_record() -> dict:
    """The record of a run that has trained nothing. It grows by one ``accuracy`` row (T floats, None for tasks not
    yet seen) and one ``train_loss`` per epoch, and by one ``train_s``/``eval_s`` per task and one ``fisher_s`` per
    consolidation; ``tasks_done``/``consolidated`` count finished and consolidated tasks (where a resumed run goes on);
    ``task_partial_s`` holds the [training, evaluation] seconds of the unfinished task's epochs so far;
    ``resumed_from_task``/``resumed_from_epoch``/``task1_reused`` say how the run started (set by ``ewc.experiment``).
    The epochs done in the unfinished task are ``len(accuracy) - tasks_done * epochs``."""
    return {
        "accuracy": [],
        "train_loss": [],
        "train_s": [],
        "eval_s": [],
        "fisher_s": [],
        "tasks_done": 0,
        "consolidated": 0,
        "task_partial_s": [0.0, 0.0],
        "resumed_from_task": None,
        "resumed_from_epoch": None,
        "task1_reused": False,
    }


def run(
    config: RunConfig,
    mnist: Mnist,
    trainer: SequentialTrainer | None = None,
    record: dict | None = None,
    *,
    trained=None,
    after_task=None,
    after_epoch=None,
    progress: Progress | None = None,
) -> dict:
    """Train from where ``record`` stands (task ``record["tasks_done"] + 1``, after the epochs of it already
    recorded) to the end of task ``config.tasks`` and return the results dict (see ``ewc.results``). Where a run
    starts (fresh, resumed, or with task 1 from a shared snapshot) and what it saves belong to its caller,
    ``ewc.experiment``: it passes the starting state and saves through the callbacks.

    With ``config.fresh_optimizer`` Adam is reset before the first step of every task after the first (never when a
    task is resumed part-way: its optimizer state comes from the snapshot).

    Args:
        trainer, record: the state to go on from, as ``ewc.checkpoint.restore`` leaves them (the trainer built from
            ``config``); default a fresh ``SequentialTrainer(config)`` and ``new_record()``. Finished tasks not yet
            consolidated (a snapshot taken by ``trained``) are consolidated first.
        trained: called as ``trained(trainer, record)`` after each task's last epoch and before its consolidation:
            the state at the end of task 1 is then the same for every mode (the penalty is zero during task 1 and
            the mode's Fisher not yet computed), so this is where it can be shared.
        after_task: called as ``after_task(trainer, record, partial)`` after each task and its consolidation, with
            the results so far (``partial``, ``complete`` false): the state a killed run resumes from.
        after_epoch: called as ``after_epoch(trainer, record)`` after each epoch (accuracy row) but a task's last:
            the state a run killed inside a task resumes from, losing at most the epoch it was in.
        progress: where to report progress (``Progress``): first advanced by the images of the tasks and epochs the
            run starts after (a resumed run, a shared task 1), then by every batch's images, its postfix set to the
            task and epoch; None reports nothing.
    """
    started = time.time()
    tasks, perms = make_tasks(config, mnist)
    trainer = SequentialTrainer(config) if trainer is None else trainer
    record = new_record() if record is None else record
    record.setdefault("task_partial_s", [0.0, 0.0])  # a snapshot written before the field existed: between tasks
    n_tasks, epochs = config.tasks, config.epochs
    _consolidate_pending(trainer, tasks, record)  # a task 1 taken from a shared snapshot
    steps = steps_per_task(config)
    passes, rest = divmod(steps, -(-config.train_size // config.batch_size))
    images = passes * config.train_size + rest * config.batch_size  # per task
    if progress is not None:
        epochs_in = len(record["accuracy"]) - record["tasks_done"] * epochs
        progress.update(record["tasks_done"] * images + epochs_in * images // epochs)
    for k in range(record["tasks_done"], n_tasks):
        first = len(record["accuracy"]) - k * epochs  # epochs of task k already recorded (a resumed run)
        if first == 0 and k > 0 and config.fresh_optimizer:
            trainer.optimizer.reset()
        task_train, task_eval = record["task_partial_s"]
        done = first * steps // epochs
        stream = itertools.islice(minibatches(config.train_size, config.batch_size, config.seed, k), done, None)
        for e in range(first, epochs):
            part = f"epoch {e + 1}/{epochs}" if not config.iterations else f"step {done}/{steps}"
            if progress is not None:
                progress.set_postfix_str(f"task {k + 1}/{n_tasks} {part}", refresh=False)
            t0 = time.perf_counter()
            upto = (e + 1) * steps // epochs  # epochs mode: (e + 1) whole passes
            record["train_loss"].append(
                trainer.train_batches(tasks[k], itertools.islice(stream, upto - done), progress)
            )
            done = upto
            t1 = time.perf_counter()
            record["accuracy"].append([trainer.accuracy(tasks[j]) if j <= k else None for j in range(n_tasks)])
            task_train += t1 - t0
            task_eval += time.perf_counter() - t1
            record["task_partial_s"] = [task_train, task_eval]
            if after_epoch is not None and e < epochs - 1:
                after_epoch(trainer, record)
        record["train_s"].append(task_train)
        record["eval_s"].append(task_eval)
        record["task_partial_s"] = [0.0, 0.0]
        record["tasks_done"] = k + 1
        if trained is not None:
            trained(trainer, record)
        _consolidate_pending(trainer, tasks, record)
        if after_task is not None:
            after_task(trainer, record, _results(config, perms, trainer, record, started, complete=False))
    return _results(config, perms, trainer, record, started, complete=True)


def _consolidate_pending(trainer: SequentialTrainer, tasks: list[Task], record: dict) -> None:
    """Consolidate every finished task not yet consolidated, except the last task of the run (its Fisher would
    never be used) and nothing at all for mode none."""
    last = len(tasks) - 1
    while record["consolidated"] < record["tasks_done"]:
        k = record["consolidated"]
        if k < last and trainer.config.mode != "none":
            record["fisher_s"].append(trainer.consolidate(tasks[k], k))
        record["consolidated"] = k + 1


def _results(
    config: RunConfig, perms, trainer: SequentialTrainer, record: dict, started: float, complete: bool
) -> dict:
    accuracy = record["accuracy"]
    r = res.task_matrix(accuracy, config.epochs)
    return {
        "format": res.FORMAT,
        "complete": complete,
        "config": config.to_dict(),
        "versions": res.library_versions(),
        "permutations_sha256": hashlib.sha256(np.ascontiguousarray(perms).tobytes()).hexdigest(),
        "accuracy": accuracy,
        "train_loss": record["train_loss"],
        "task_matrix": r,
        "metrics": res.metrics(r) if complete else None,
        "timings": {k: record[k] for k in ("train_s", "eval_s", "fisher_s")} | {"total_s": time.time() - started},
        "resumed_from_task": record["resumed_from_task"],
        "resumed_from_epoch": record.get("resumed_from_epoch"),
        "task1_reused": record["task1_reused"],
        "parameters": int(sum(np.prod(v.shape) for v in trainer.model.trainable_variables)),
    }
