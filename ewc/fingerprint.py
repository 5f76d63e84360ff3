"""A fingerprint of the science: what the code computes on a tiny fixed probe, stored in every results file.

A results file is only as good as the code that made it. Hashing the source would break on every refactor; instead
the fingerprint runs the pieces a result depends on, on fixed small inputs, and records what they compute:

* the task permutations of seed 0 (pixel and block), as sha256 (exact on every machine);
* the Fisher diagonal (empirical and expected) of a small network with dropout and a convolution, per variable;
* the penalty's gradient after two consolidations, in every mode, at a fixed point;
* a two-task run of a tiny MLP with EWC: its per-epoch training losses and the consolidated importance;
* (version 2) four-task runs of the same MLP with EWC on every task, on the previous task only and online with
  gamma 0.5: what acts only from the third task on (which task's images a consolidation reads, which slots are kept,
  how importances accumulate) moves their losses.

A results file records the version of the probe that stamped it, and is compared on the entries that version had:
the entries a later version adds (``SINCE``) protect the runs made after it, without refusing the older runs of the
same code.

Floats are compared with a relative tolerance (``RTOL``) that covers rounding differences between machines (XLA's
code depends on the host's instruction set) but not a change of method: a Fisher of the batch-mean gradient, a Fisher
with dropout on, a penalty gradient of the wrong sign, anchors not moved after a task, or one permutation reused for
every task each move some number by far more.

The probe takes seconds; its result is cached per version of the package's source (``cached_fingerprint``).
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import math
import os

import numpy as np

from ewc.config import make_config
from ewc.data import Mnist, data_dir
from ewc.errors import EwcError
from ewc.paths import PACKAGE
from ewc.results import write_json_atomic
from ewc.tasks import make_permutations

RTOL = 1e-3
VERSION = 2
SINCE = {"run4_train_loss_ewc-all": 2, "run4_train_loss_ewc-previous": 2, "run4_train_loss_ewc-online": 2}


def _sha(array: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(array).tobytes()).hexdigest()[:16]


def _probe_model():
    import keras

    from ewc.model import MaxPool2x2

    keras.utils.set_random_seed(0)
    layers = keras.layers
    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 1)),
            layers.Dropout(0.5),
            layers.Conv2D(2, (3, 3), padding="same", activation="relu"),
            MaxPool2x2(),
            layers.Flatten(),
            layers.Dense(8, activation="relu"),
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ]
    )


def compute() -> dict:
    """Run the probe; returns a JSON-able dict of strings and floats."""
    # TensorFlow loads when the probe runs, not on import: the suites and the chapters import this module to
    # compare a stored fingerprint with the cached one
    import tensorflow as tf

    from ewc.fisher import fisher_diagonal
    from ewc.penalty import Consolidation
    from ewc.train import run

    out: dict = {"version": VERSION}
    out["permutations_pixel"] = _sha(make_permutations("pixel", 3, 0))
    out["permutations_block"] = _sha(make_permutations("block", 3, 0, 7))

    rng = np.random.default_rng(0)
    model = _probe_model()
    x = tf.constant(rng.uniform(0, 1, (16, 28, 28, 1)).astype(np.float32))
    y = rng.integers(0, 10, 16).astype(np.int32)
    for kind in ("empirical", "expected"):
        fisher = fisher_diagonal(model, x, y, kind=kind, seed=0)
        out[f"fisher_{kind}"] = [float(np.sum(f, dtype=np.float64)) for f in fisher]

    shapes = [(6, 4), (4,)]
    fishers = [[rng.gamma(0.5, size=s) for s in shapes] for _ in range(2)]
    anchors = [[rng.normal(size=s) for s in shapes] for _ in range(2)]
    point = [tf.constant(rng.normal(size=s)) for s in shapes]
    for mode in ("ewc-all", "ewc-previous", "ewc-online", "l2"):
        penalty = Consolidation(mode, shapes, lam=3.0, capacity=2, dtype=tf.float64)
        for f, a in zip(fishers, anchors):
            penalty.consolidate(None if mode == "l2" else f, a)
        grads = penalty.gradient(point)
        out[f"penalty_gradient_{mode}"] = [
            float(np.sum(g.numpy() * (1 + np.arange(g.numpy().size).reshape(g.shape)))) for g in grads
        ]

    images = rng.integers(0, 256, (256, 28, 28), dtype=np.uint8)
    labels = images.reshape(256, -1)[:, :392].mean(axis=1) > images.reshape(256, -1)[:, 392:].mean(axis=1)
    mnist = Mnist(images, labels.astype(np.uint8), images[:64], labels[:64].astype(np.uint8), source="probe")
    config = make_config(
        "smoke",
        mode="ewc-all",
        mlp_hidden=[8],
        tasks=2,
        epochs=2,
        train_size=256,
        test_size=64,
        fisher_samples=64,
        lam=100.0,
        lr=0.01,
    )
    result = run(config, mnist)
    out["run_train_loss"] = [float(v) for v in result["train_loss"]]
    for mode, gamma in (("ewc-all", 1.0), ("ewc-previous", 1.0), ("ewc-online", 0.5)):
        four = dataclasses.replace(config, mode=mode, gamma=gamma, tasks=4, epochs=1)
        out[f"run4_train_loss_{mode}"] = [float(v) for v in run(four, mnist)["train_loss"]]
    return out


def differences(stored: dict | None, current: dict) -> list[str]:
    """The probe entries whose values differ beyond ``RTOL`` (or that are missing); empty when they match. Entries
    added by a later version of the probe than ``stored``'s (``SINCE``) are not compared."""
    if not stored:
        return ["(no fingerprint)"]
    diffs = []
    for key, value in current.items():
        if key == "version" or SINCE.get(key, 1) > stored.get("version", 1):
            continue
        other = stored.get(key)
        if isinstance(value, list):
            same = (
                isinstance(other, list)
                and len(other) == len(value)
                and all(math.isclose(a, b, rel_tol=RTOL, abs_tol=1e-9) for a, b in zip(value, other))
            )
        else:
            same = other == value
        if not same:
            diffs.append(key)
    return diffs


def source_key() -> str:
    """A hash of the package's Python sources and ``$XLA_FLAGS``: the cache of ``compute`` is valid for exactly one
    version of them."""
    package = PACKAGE
    digest = hashlib.sha256(os.environ.get("XLA_FLAGS", "").encode())  # another code generation: probe again
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


_memo: dict | None = None


class MissingFingerprint(EwcError):
    """No recorded fingerprint for this version of the package's sources."""


def _record_path():
    return data_dir() / "fingerprint" / f"{source_key()}.json"


def stored_fingerprint() -> dict:
    """This checkout's fingerprint as recorded by ``cached_fingerprint``, never computed here: what a chapter checks
    results against (a chapter must not train, even a probe, on a cold cache).

    Raises:
        MissingFingerprint: no record for this version of the sources (run ``python -m ewc fingerprint``, or let the
            book or suite runner make it).
    """
    global _memo
    if _memo is None:
        path = _record_path()
        if not path.is_file():
            raise MissingFingerprint(
                "this checkout's science fingerprint is not recorded yet; make it with: python -m ewc fingerprint"
            )
        _memo = json.loads(path.read_text())
    return _memo


def cached_fingerprint() -> dict:
    """``compute()``, memoized in this process and recorded on disk (``$EWC_DATA_DIR/fingerprint/<source key>.json``):
    the runner's way to the fingerprint (it may take seconds to probe). Processes that ask at once (the test
    runner's workers, jobs side by side) probe once: the first holds an exclusive ``flock`` on ``<record>.lock``
    while it probes, the others wait for it and read its record."""
    global _memo
    try:
        return stored_fingerprint()
    except MissingFingerprint:
        pass
    path = _record_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes, also when this process dies
        try:
            return stored_fingerprint()  # recorded by the process that held the lock before
        except MissingFingerprint:
            pass
        _memo = compute()
        write_json_atomic(_memo, path)
    return _memo
