"""Benchmarks: ``python -m ewc bench {fisher,penalty,train} [--json] [--size smoke|full]``.

Each bench prints one JSON object (``--json``) or a short table, measured in one run: the variants it compares are
timed in interleaved rounds (so a change in a shared CPU's load hits them alike), each figure is the median over
rounds after one warm-up call (which compiles), and every ratio is the quotient of two figures of the same run.
All variants see the same real MNIST images (the first N training digits) at the same batch size.

* ``fisher``  -- the fast Fisher (``ewc.fisher.fisher_diagonal``, empirical, batch 256) against the obvious exact
  method (one compiled backward pass per example, squared, accumulated) and against one training pass over the
  same images with the trainer's compiled step.
* ``penalty`` -- the trainer's train step with no penalty, and with ``ewc-online`` / ``ewc-all`` holding K = 1, 5
  and 20 consolidated tasks (random non-negative Fishers and anchors), one K at a time: ms per step and the ratios
  to no penalty.
* ``train``   -- a training pass with plain Keras (``compile`` + ``fit``, no XLA: the report's way, in a child process
  with TensorFlow's default allocator, and in this one) against ``SequentialTrainer.train_epoch`` without a penalty,
  and with ``ewc-online`` / ``ewc-all`` at K = 5.

Sizes: ``full`` is the report's Appendix A CNN with the ``paper`` profile's settings (batch 64, Adam 1e-4, lambda
200), a few minutes on a 2-core CPU; ``smoke`` is the ``smoke`` profile's tiny MLP on a few hundred images, seconds,
for the tests. ``TARGETS`` are the issues' goals for ``full``; at ``smoke`` they are reported but mean nothing.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FISHER_BATCH = 256  # fisher_diagonal's default: the batch a consolidation uses
KS = (1, 5, 20)  # consolidated tasks in the penalty bench
TRAIN_K = 5  # consolidated tasks in the train bench
REPO = Path(__file__).resolve().parent.parent  # where child processes run ``-m ewc`` / ``-c "import ewc"``


@dataclass(frozen=True)
class BenchSize:
    """How big one bench run is."""

    profile: str  # the RunConfig profile giving the model and training settings
    fisher_samples: int  # images for the fast Fisher and the training pass it is compared with (a multiple of 256)
    loop_samples: int  # images for the per-example loop (one backward pass each: slow)
    train_samples: int  # images per round of the train bench (a multiple of the batch size: no ragged batch)
    penalty_steps: int  # train steps per round of the penalty bench
    rounds: int  # timed rounds; every figure is the median over them


SIZES = {
    "smoke": BenchSize("smoke", fisher_samples=256, loop_samples=16, train_samples=256, penalty_steps=4, rounds=3),
    "full": BenchSize("paper", fisher_samples=1024, loop_samples=32, train_samples=768, penalty_steps=8, rounds=7),
}

#: The issues' goals (for ``full``): key -> (">=" or "<=", bound).
TARGETS = {
    "fisher": {"speedup_vs_loop": (">=", 20.0), "cost_vs_train_pass": ("<=", 1.5)},
    "penalty": {f"ratio_online_k{k}": ("<=", 1.10) for k in KS},
    "train": {"speedup_vs_fit": (">=", 2.5), "online_k5_vs_plain": (">=", 0.90)},
}


def bench_fisher(size: str = "full", mnist=None) -> dict:
    """Fast Fisher vs the per-example loop vs one training pass, on the same model and images.

    Returns the JSON dict: ``fast_samples_per_s``, ``loop_samples_per_s``, ``train_samples_per_s`` (images/s),
    ``speedup_vs_loop`` = fast / loop, ``cost_vs_train_pass`` = Fisher seconds / training-pass seconds for the same
    number of images = train / fast; plus the run's facts, ``targets`` and ``meets_targets``.
    """
    from ewc.fisher import fisher_diagonal
    from ewc.train import as_model_input

    s, config, mnist, load = _setup(size, mnist)
    x, y = _images(mnist, s.fisher_samples)
    trainer = _trainer(config)
    model, n, n_loop = trainer.model, s.fisher_samples, s.loop_samples
    loop = per_example_fisher(model)
    batches = _batches(x, y, config.batch_size)

    def fast():
        fisher_diagonal(model, as_model_input(x), y, kind="empirical", batch_size=FISHER_BATCH)

    rounds = _timed_rounds(
        {
            "fast": fast,
            "loop": lambda: loop(as_model_input(x[:n_loop]), y[:n_loop]),
            "train": lambda: _train_steps(trainer, batches),
        },
        s.rounds,
    )
    seconds = _medians(rounds)
    fast_sps, loop_sps, train_sps = n / seconds["fast"], n_loop / seconds["loop"], n / seconds["train"]
    figures = {
        "fast_samples_per_s": fast_sps,
        "loop_samples_per_s": loop_sps,
        "train_samples_per_s": train_sps,
        "speedup_vs_loop": fast_sps / loop_sps,
        "cost_vs_train_pass": train_sps / fast_sps,
    }
    facts = {"fisher_batch": FISHER_BATCH, "fisher_samples": n, "loop_samples": n_loop, "train_samples": n}
    return _report("fisher", size, config, figures, facts, load, rounds)


def bench_penalty(size: str = "full", mnist=None, ks: tuple[int, ...] = KS) -> dict:
    """Train-step time without a penalty and with ``ewc-online`` / ``ewc-all`` at K in ``ks`` consolidated tasks.

    One K at a time: no penalty, online and per-task sum at K are interleaved; ``step_ms_none`` is the median over
    the no-penalty rounds of every K. Memory follows the largest K (a K's trainers are dropped before the next K's
    are built): each consolidated task of ``ewc-all`` holds 2 x 13.9M float32 at ``full`` (111 MB).

    Returns the JSON dict: ``step_ms_none``, ``step_ms_online_k{K}``, ``step_ms_all_k{K}`` (ms per compiled train
    step), ``ratio_online_k{K}`` / ``ratio_all_k{K}`` (= step_ms_... / step_ms_none); plus the run's facts, ``targets``
    and ``meets_targets``.
    """
    s, config, mnist, load = _setup(size, mnist)
    x, y = _images(mnist, s.penalty_steps * config.batch_size)
    batches = _batches(x, y, config.batch_size)
    none = _trainer(config)
    rounds = {"none": []}
    for k in ks:  # ewc-all holds tasks - 1 slots, so it is built for k + 1 tasks
        group = {f"online_k{k}": _trainer(config, "ewc-online"), f"all_k{k}": _trainer(config, "ewc-all", tasks=k + 1)}
        _consolidate_random({trainer: k for trainer in group.values()})
        variants = {"none": none} | group
        timed = _timed_rounds({name: _bind(_train_steps, t, batches) for name, t in variants.items()}, s.rounds)
        rounds["none"] += timed.pop("none")
        rounds.update(timed)
    seconds = _medians(rounds)
    ms = {name: 1000 * sec / len(batches) for name, sec in seconds.items()}
    figures = {f"step_ms_{name}": v for name, v in ms.items()}
    figures.update({f"ratio_{name}": v / ms["none"] for name, v in ms.items() if name != "none"})
    return _report("penalty", size, config, figures, {"steps_per_round": len(batches), "ks": list(ks)}, load, rounds)


def bench_train(size: str = "full", mnist=None) -> dict:
    """A training pass with plain Keras ``fit`` (no XLA) vs ``SequentialTrainer.train_epoch`` (none, online, all).

    ``fit`` is timed twice: in a child process with TensorFlow's default CPU allocator, as the report's code runs
    (``fit_samples_per_s``: the baseline of the target), and in this process, where importing ``ewc`` switched on
    TensorFlow's BFC allocator, which speeds ``fit`` up too once its memory pool has grown (``fit_bfc_samples_per_s``).
    The child's rounds are interleaved with the others like any variant.

    Returns the JSON dict: ``fit_samples_per_s``, ``fit_bfc_samples_per_s``, ``trainer_samples_per_s``,
    ``trainer_online_k5_samples_per_s``, ``trainer_all_k5_samples_per_s`` (images/s), ``speedup_vs_fit`` =
    trainer / fit, ``speedup_vs_fit_bfc`` = trainer / fit_bfc, ``online_k5_vs_plain`` = trainer_online_k5 / trainer;
    plus the run's facts, ``targets`` and ``meets_targets``.
    """
    from ewc.train import Task

    s, config, mnist, load = _setup(size, mnist)
    x, y = _images(mnist, s.train_samples)
    task = Task(x, y, x[:1], y[:1])
    plain, online = _trainer(config), _trainer(config, "ewc-online")
    every = _trainer(config, "ewc-all", tasks=TRAIN_K + 1)
    _consolidate_random({online: TRAIN_K, every: TRAIN_K})
    fit_bfc = _keras_fit(config, x, y)
    rng = np.random.default_rng(config.seed)
    with FitProcess(size, x, y) as fit_default:
        rounds = _timed_rounds(
            {
                "fit": fit_default.epoch,
                "fit_bfc": fit_bfc,
                "trainer": lambda: plain.train_epoch(task, rng),
                "online": lambda: online.train_epoch(task, rng),
                "all": lambda: every.train_epoch(task, rng),
            },
            s.rounds,
        )
    sps = {name: s.train_samples / sec for name, sec in _medians(rounds).items()}
    figures = {
        "fit_samples_per_s": sps["fit"],
        "fit_bfc_samples_per_s": sps["fit_bfc"],
        "trainer_samples_per_s": sps["trainer"],
        f"trainer_online_k{TRAIN_K}_samples_per_s": sps["online"],
        f"trainer_all_k{TRAIN_K}_samples_per_s": sps["all"],
        "speedup_vs_fit": sps["trainer"] / sps["fit"],
        "speedup_vs_fit_bfc": sps["trainer"] / sps["fit_bfc"],
        f"online_k{TRAIN_K}_vs_plain": sps["online"] / sps["trainer"],
    }
    return _report("train", size, config, figures, {"train_samples": s.train_samples, "k": TRAIN_K}, load, rounds)


def _keras_fit(config, x: np.ndarray, y: np.ndarray) -> Callable[[], None]:
    """One epoch of the report's way over images ``x`` (uint8 (N, 28, 28)), labels ``y``: its code (Keras'
    MaxPooling2D), ``compile`` + ``fit``, no XLA, on float images made once as a Keras user would."""
    import keras

    from ewc.model import appendix_a_cnn, build_model
    from ewc.train import as_model_input

    keras.utils.set_random_seed(config.seed)
    model = appendix_a_cnn(keras_pooling=True) if config.arch == "cnn" else build_model(config.arch, config.mlp_hidden)
    model.compile(keras.optimizers.Adam(config.lr), "sparse_categorical_crossentropy", jit_compile=False)
    x_float = as_model_input(x).numpy()

    def epoch():
        model.fit(x_float, y, batch_size=config.batch_size, epochs=1, shuffle=True, verbose=0)

    return epoch


class FitProcess:
    """``_keras_fit`` in a child Python process with TensorFlow's default CPU allocator, one epoch per ``epoch()``
    call (the call returns when the child has finished it), so its rounds interleave with this process's variants."""

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
        code = f"from ewc.bench import fit_worker; fit_worker({self.size!r}, {str(images)!r})"
        self._stderr = Path(self._dir.name) / "stderr.txt"  # a file, not a pipe: a full pipe would stall the child
        with open(self._stderr, "w") as err:
            self._proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=err, text=True, env=env, cwd=REPO)
        self._expect("ready")
        return self

    def epoch(self) -> None:
        self._proc.stdin.write("epoch\n")
        self._proc.stdin.flush()
        self._expect("done")

    def _expect(self, word: str) -> None:
        from ewc.errors import EwcError

        line = self._proc.stdout.readline().strip()
        if line != word:
            self._proc.kill()
            self._proc.wait()
            lines = self._stderr.read_text().strip().splitlines() or ["no message"]
            errors = [line for line in lines if re.match(r"\w+(Error|Exception)\b", line)]  # a traceback's verdict
            raise EwcError(f"the Keras fit process stopped: {(errors or lines)[-1]}")

    def __exit__(self, *exc) -> None:
        if self._proc.poll() is None:
            self._proc.stdin.close()
            self._proc.wait(timeout=60)
        self._dir.cleanup()


def fit_worker(size: str, images: str) -> None:
    """The child of ``FitProcess``: build the ``fit`` model for ``size``, say ``ready``, then run one epoch per
    ``epoch`` line on stdin (saying ``done`` after each) until stdin closes."""
    import sys

    from ewc.config import make_config

    with np.load(images) as npz:
        x, y = npz["x"], npz["y"]
    epoch = _keras_fit(make_config(SIZES[size].profile, mode="none"), x, y)
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() == "epoch":
            epoch()
            print("done", flush=True)


BENCHES: dict[str, Callable[..., dict]] = {"fisher": bench_fisher, "penalty": bench_penalty, "train": bench_train}


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


def add_parser(sub) -> None:
    """Register ``bench`` on the CLI's subparsers (the object ``add_subparsers`` returned)."""
    p = sub.add_parser("bench", help="time the fast Fisher, the penalties or the trainer (one JSON object with --json)",
                       description="Time one part of the package against its obvious alternative, in one run, "
                       "interleaved, medians over rounds; ratios are quotients of figures of the same run.")
    p.add_argument("which", choices=tuple(BENCHES), help="fisher: fast Fisher vs per-example loop vs a training pass; "
                   "penalty: train step with ewc-online/ewc-all at K=1,5,20 vs none; train: our trainer vs Keras fit")
    p.add_argument("--size", choices=tuple(SIZES), default="full",
                   help="full: the Appendix A CNN, minutes (default); smoke: a tiny MLP, seconds (for tests)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--mnist", help="an explicit mnist.npz (Keras layout)")
    p.add_argument("--ks", type=int, nargs="+", metavar="K", help=f"penalty only: the numbers of consolidated tasks "
                   f"(default {' '.join(map(str, KS))})")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    """Run the bench ``args.which`` at ``args.size``; print its JSON (``args.json``) or its table."""
    from ewc.data import load_mnist
    from ewc.errors import ConfigError

    ks = getattr(args, "ks", None)
    if ks is not None and (args.which != "penalty" or min(ks) < 1):
        raise ConfigError("--ks applies to the penalty bench only, with K >= 1")
    extra = {"ks": tuple(ks)} if ks else {}
    result = BENCHES[args.which](args.size, load_mnist(getattr(args, "mnist", None)), **extra)
    print(json.dumps(result, indent=1, allow_nan=False) if args.json else format_table(result))
    return 0


def run_isolated(which: str, size: str = "full", ks: tuple[int, ...] | None = None) -> dict:
    """``python -m ewc bench WHICH --json`` in a fresh Python process; returns its JSON dict.

    The book measures its benches this way so that each starts from a fresh TensorFlow, whatever the chapter's kernel
    did before (allocator pool, compiled functions, threads), and so that their peak memory (the penalty bench's
    per-task sums) is not added to the kernel's.
    """
    import subprocess
    import sys

    from ewc.errors import EwcError

    cmd = [sys.executable, "-m", "ewc", "bench", which, "--size", size, "--json"]
    cmd += ["--ks", *map(str, ks)] if ks else []
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if proc.returncode != 0:
        raise EwcError(f"bench {which} failed: {(proc.stderr.strip().splitlines() or ['no message'])[-1]}")
    return json.loads(proc.stdout)


def format_table(result: dict) -> str:
    """A few human lines: the figures, then each target and whether it is met."""
    lines = [f"{result['bench']} bench, {result['size']} ({result['arch']}, batch {result['batch_size']}, "
             f"median of {result['rounds']} interleaved rounds, load {result['load_before']:.1f} -> "
             f"{result['load_after']:.1f} on {result['cpu_count']} CPUs)"]
    lines += [f"  {key:34s} {value:10.3f}" for key, value in result.items() if isinstance(value, float)
              and not key.startswith("load_")]
    for key, target in result["targets"].items():
        verdict = "met" if result["meets_targets"][key] else "MISSED"
        lines.append(f"  target {key} {target}: {result[key]:.3f} {verdict}")
    return "\n".join(lines)


# --- plumbing ---------------------------------------------------------------------------------------------------


def _setup(size: str, mnist):
    """(BenchSize, its RunConfig with mode none, the digits, the 1-minute load average now)."""
    from ewc.config import make_config
    from ewc.data import load_mnist
    from ewc.errors import ConfigError

    if size not in SIZES:
        raise ConfigError(f"unknown bench size {size!r}; choose from {', '.join(SIZES)}")
    s = SIZES[size]
    mnist = load_mnist() if mnist is None else mnist
    return s, make_config(s.profile, mode="none"), mnist, os.getloadavg()[0]


def _images(mnist, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n training digits: images uint8 (n, 28, 28), labels int32 (n,)."""
    return mnist.x_train[:n], mnist.y_train[:n].astype(np.int32)


def _trainer(config, mode: str = "none", tasks: int | None = None):
    from dataclasses import replace

    from ewc.train import SequentialTrainer

    return SequentialTrainer(replace(config, mode=mode, tasks=tasks or config.tasks))


def _consolidate_random(trainers: dict) -> None:
    """Consolidate ``k`` tasks into each trainer (a dict trainer -> k): per task, one random non-negative Fisher
    (uniform [0, 1)) and anchors near the weights (+ N(0, 0.01^2)), shared by every trainer that takes that task."""
    rng = np.random.default_rng(0)
    first = next(iter(trainers))
    weights = [v.numpy() for v in first.model.trainable_variables]
    for task in range(max(trainers.values())):
        fisher = [rng.random(w.shape, np.float32) for w in weights]
        anchor = [w + 0.01 * rng.standard_normal(w.shape, np.float32) for w in weights]
        for trainer, k in trainers.items():
            if task < k:
                trainer.consolidation.consolidate(fisher, anchor)


def _batches(x: np.ndarray, y: np.ndarray, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)]


def _train_steps(trainer, batches) -> None:
    """The trainer's compiled step over ``batches``, waiting for the last one to finish."""
    for xb, yb in batches:
        loss = trainer.train_step(xb, yb)
    loss.numpy()


def _bind(fn: Callable, *args) -> Callable[[], None]:
    return lambda: fn(*args)


def _timed_rounds(variants: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Wall seconds of each variant (a callable that blocks until its work is done) in each round.

    Each variant is called once to warm up (tracing, XLA compilation, allocations), then ``rounds`` rounds call every
    variant once, in a fresh (seeded) random order each round, so that no variant always runs first or after the same
    one.
    """
    for fn in variants.values():
        fn()
    order, times = np.random.default_rng(0), {name: [] for name in variants}
    for _ in range(rounds):
        for name in order.permutation(list(variants)):
            t0 = time.perf_counter()
            variants[name]()
            times[name].append(time.perf_counter() - t0)
    return times


def _medians(rounds: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(t) for name, t in rounds.items()}


def _report(bench: str, size: str, config, figures: dict, facts: dict, load_before: float, rounds: dict) -> dict:
    """The JSON dict: the figures (floats), targets and verdicts, then the run's facts and every round's seconds."""
    import tensorflow as tf

    targets = {key: target for key, target in TARGETS[bench].items() if key in figures}
    meets = {key: bool(figures[key] >= bound if op == ">=" else figures[key] <= bound)
             for key, (op, bound) in targets.items()}
    return {
        "bench": bench,
        "size": size,
        **figures,
        "targets": {key: f"{op} {bound:g}" for key, (op, bound) in targets.items()},
        "meets_targets": meets,
        "all_targets_met": all(meets.values()),
        "arch": config.arch if config.arch == "cnn" else f"mlp {list(config.mlp_hidden)}",
        "batch_size": config.batch_size,
        "rounds": SIZES[size].rounds,
        **facts,
        "cpu_count": os.cpu_count(),
        # 1-minute load averages before and after: above cpu_count, other processes shared the CPU (noisier figures)
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "tensorflow": tf.__version__,
        "round_seconds": rounds,  # per variant, in round order: their spread shows how noisy the medians are
    }
