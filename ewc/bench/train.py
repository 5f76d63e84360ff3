"""``bench train``: steady-state training epochs of stock Keras ``fit`` (three ways) against the trainer."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ewc.bench.common import SIZES, consolidate_random, images, medians, report, setup, timed_rounds, trainer
from ewc.config import make_config
from ewc.errors import EwcError
from ewc.paths import ROOT

TRAIN_K = 5  # consolidated tasks in the train bench
FITS = ("fit", "fit_bfc", "fit_xla")  # the stock-Keras variants; the target compares the trainer with the fastest


def bench_train(size: str = "full", mnist=None) -> dict:
    """Training epochs of stock Keras ``compile`` + ``fit`` vs ``SequentialTrainer.train_epoch`` (none, online, all).

    Every variant trains one epoch over the same images per round. ``fit`` variants are timed from the start to the
    end of their epoch (a callback), so the set-up of each ``fit`` call (its data adapter and callback list) is not
    charged to them, as it is not to a real many-epoch run; the warm-up round traces and compiles every variant. The
    stock-Keras variants, all on the report's model code (Keras' MaxPooling2D):

    * ``fit``: no XLA, in a child process with TensorFlow's default CPU allocator, as the report's code runs;
    * ``fit_bfc``: the same in this process, where importing ``ewc`` switched on TensorFlow's BFC allocator, which
      speeds ``fit`` up too once its memory pool has grown;
    * ``fit_xla``: ``compile(..., jit_compile=True)``, the first thing a Keras 3 user would try, in this process.

    Returns the JSON dict: ``fit_samples_per_s``, ``fit_bfc_samples_per_s``, ``fit_xla_samples_per_s``,
    ``trainer_samples_per_s``, ``trainer_online_k5_samples_per_s``, ``trainer_all_k5_samples_per_s`` (images/s);
    ``speedup_vs_fit``, ``speedup_vs_fit_bfc``, ``speedup_vs_fit_xla`` = trainer / that variant;
    ``speedup_vs_best_fit`` = trainer / the fastest stock-Keras variant of this run (named in ``best_fit``);
    ``online_k5_vs_plain`` = trainer_online_k5 / trainer; plus the run's facts, ``targets`` and ``meets_targets``.
    """
    from ewc.train import Task

    s, config, mnist, load = setup(size, mnist)
    x, y = images(mnist, s.train_samples)
    task = Task(x, y, x[:1], y[:1])
    plain, online = trainer(config), trainer(config, "ewc-online")
    every = trainer(config, "ewc-all", tasks=TRAIN_K + 1)
    consolidate_random({online: TRAIN_K, every: TRAIN_K})
    fit_bfc, fit_xla = keras_fit(config, x, y), keras_fit(config, x, y, jit_compile=True)
    rng = np.random.default_rng(config.seed)
    with FitProcess(size, x, y) as fit_default:
        rounds = timed_rounds(
            {
                "fit": fit_default.epoch,
                "fit_bfc": fit_bfc,
                "fit_xla": fit_xla,
                "trainer": lambda: plain.train_epoch(task, rng),
                "online": lambda: online.train_epoch(task, rng),
                "all": lambda: every.train_epoch(task, rng),
            },
            s.rounds,
            self_timed=FITS,
        )
    sps = {name: s.train_samples / sec for name, sec in medians(rounds).items()}
    best = max(FITS, key=sps.get)
    figures = {f"{name}_samples_per_s": sps[name] for name in FITS}
    figures |= {
        "trainer_samples_per_s": sps["trainer"],
        f"trainer_online_k{TRAIN_K}_samples_per_s": sps["online"],
        f"trainer_all_k{TRAIN_K}_samples_per_s": sps["all"],
    }
    figures |= {f"speedup_vs_{name}": sps["trainer"] / sps[name] for name in FITS}
    figures["speedup_vs_best_fit"] = sps["trainer"] / sps[best]
    figures[f"online_k{TRAIN_K}_vs_plain"] = sps["online"] / sps["trainer"]
    facts = {"train_samples": s.train_samples, "k": TRAIN_K, "best_fit": best}
    return report("train", size, config, figures, facts, load, rounds)


def keras_fit(config, x: np.ndarray, y: np.ndarray, jit_compile: bool = False) -> Callable[[], float]:
    """The report's way of training, ready to run: its model code (Keras' MaxPooling2D), ``compile`` (XLA only if
    ``jit_compile``) and float images made once, as a Keras user would, from ``x`` (uint8 (N, 28, 28)), ``y`` (N,).

    Returns a function that runs one ``fit`` epoch (shuffled) and returns the seconds from the epoch's start to its
    end, the ``fit`` call's set-up excluded.
    """
    import keras

    from ewc.model import appendix_a_cnn, build_model
    from ewc.train import as_model_input

    class EpochTimer(keras.callbacks.Callback):  # epoch hooks only: no per-batch synchronisation
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            [float(v) for v in (logs or {}).values()]  # the epoch's metrics: waits for its last step
            self.seconds = time.perf_counter() - self.start

    keras.utils.set_random_seed(config.seed)
    model = appendix_a_cnn(keras_pooling=True) if config.arch == "cnn" else build_model(config.arch, config.mlp_hidden)
    model.compile(keras.optimizers.Adam(config.lr), "sparse_categorical_crossentropy", jit_compile=jit_compile)
    x_float, timer = as_model_input(x).numpy(), EpochTimer()

    def epoch() -> float:
        model.fit(x_float, y, batch_size=config.batch_size, epochs=1, shuffle=True, verbose=0, callbacks=[timer])
        return timer.seconds

    return epoch


class FitProcess:
    """``keras_fit`` in a child Python process with TensorFlow's default CPU allocator, one epoch per ``epoch()`` call
    (it returns the epoch's seconds when the child has finished it), so its rounds interleave with this process's
    variants."""

    def __init__(self, size: str, x: np.ndarray, y: np.ndarray):
        self.size, self.x, self.y = size, x, y

    def __enter__(self) -> FitProcess:
        import subprocess
        import sys
        import tempfile

        self._dir = tempfile.TemporaryDirectory(prefix="ewc-bench-")
        images = Path(self._dir.name) / "images.npz"
        np.savez(images, x=self.x, y=self.y)
        env = {**os.environ, "TF_CPU_ALLOCATOR_USE_BFC": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
        code = f"from ewc.bench.train import fit_worker; fit_worker({self.size!r}, {str(images)!r})"
        self._stderr = Path(self._dir.name) / "stderr.txt"  # a file, not a pipe: a full pipe would stall the child
        with open(self._stderr, "w") as err:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", code],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=env,
                cwd=ROOT,  # where the child runs ``-c "import ewc"``
            )
        self._expect("ready")
        return self

    def epoch(self) -> float:
        self._proc.stdin.write("epoch\n")
        self._proc.stdin.flush()
        return float(self._expect("done"))

    def _expect(self, word: str) -> str:
        """Read the child's next line, which must start with ``word``; returns the rest of it."""
        line = self._proc.stdout.readline().strip()
        if line.split(" ")[0] != word:
            self._proc.kill()
            self._proc.wait()
            lines = self._stderr.read_text().strip().splitlines() or ["no message"]
            errors = [line for line in lines if re.match(r"\w+(Error|Exception)\b", line)]  # a traceback's verdict
            raise EwcError(f"the Keras fit process stopped: {(errors or lines)[-1]}")
        return line[len(word) :].strip()

    def __exit__(self, *exc) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=60)
        self._dir.cleanup()


def fit_worker(size: str, images: str) -> None:
    """The child of ``FitProcess``: build the ``fit`` model for ``size``, say ``ready``, then run one epoch per
    ``epoch`` line on stdin (answering ``done SECONDS`` after each) until stdin closes."""
    import sys

    with np.load(images) as npz:
        x, y = npz["x"], npz["y"]
    epoch = keras_fit(make_config(SIZES[size].profile, mode="none"), x, y)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "epoch":
            print(f"done {epoch()!r}", flush=True)
