"""What the benches share: their sizes and targets, the interleaved timing, the machine's facts and the JSON report."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ewc.config import make_config
from ewc.data import load_mnist
from ewc.errors import ConfigError

KS = (1, 5, 20)  # consolidated tasks in the penalty bench (and its targets)


@dataclass(frozen=True)
class BenchSize:
    """How big one bench run is."""

    profile: str  # the RunConfig profile giving the model and training settings
    fisher_samples: int  # images for the fast Fisher and the training pass it is compared with (a multiple of 256)
    loop_samples: int  # images for the per-example loop (one backward pass each: slow)
    train_samples: int  # images per round of the train bench (a multiple of the batch size: no ragged batch)
    penalty_steps: int  # train steps per round of the penalty bench (full: as many images as a train bench round)
    rounds: int  # timed rounds, after one warm-up round; every figure is the median over them


SIZES = {
    "smoke": BenchSize("smoke", fisher_samples=256, loop_samples=16, train_samples=256, penalty_steps=4, rounds=3),
    # train: 48 batches of 64 per round, so that an epoch's fixed costs weigh on fit as little as on a real epoch
    "full": BenchSize("paper", fisher_samples=1024, loop_samples=32, train_samples=3072, penalty_steps=48, rounds=7),
}

#: The issues' goals (for ``full``): bench -> key -> (">=" or "<=", bound).
TARGETS = {
    "fisher": {"speedup_vs_loop": (">=", 20.0), "cost_vs_train_pass": ("<=", 1.5)},
    "penalty": {f"ratio_online_k{k}": ("<=", 1.10) for k in KS},
    "train": {"speedup_vs_best_fit": (">=", 1.5), "online_k5_vs_plain": (">=", 0.90)},
    "step": {},
}


def setup(size: str, mnist):
    """(BenchSize, its RunConfig with mode none, the digits, the 1-minute load average now)."""
    if size not in SIZES:
        raise ConfigError(f"unknown bench size {size!r}; choose from {', '.join(SIZES)}")
    s = SIZES[size]
    mnist = load_mnist() if mnist is None else mnist
    return s, make_config(s.profile, mode="none"), mnist, os.getloadavg()[0]


def images(mnist, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The first n training digits: images uint8 (n, 28, 28), labels int32 (n,)."""
    return mnist.x_train[:n], mnist.y_train[:n].astype(np.int32)


def trainer(config, mode: str = "none", tasks: int | None = None):
    """A ``SequentialTrainer`` for ``config`` with penalty ``mode``, room for ``tasks`` tasks."""
    from ewc.train import SequentialTrainer

    return SequentialTrainer(replace(config, mode=mode, tasks=tasks or config.tasks))


def consolidate_random(trainers: dict) -> None:
    """Consolidate ``k`` tasks into each trainer (a dict trainer -> k): per task, one random non-negative Fisher
    (uniform [0, 1)) and anchors near the weights (+ N(0, 0.01^2)), shared by every trainer that takes that task."""
    rng = np.random.default_rng(0)
    first = next(iter(trainers))
    weights = [v.numpy() for v in first.model.trainable_variables]
    for task in range(max(trainers.values())):
        fisher = [rng.random(w.shape, np.float32) for w in weights]
        anchor = [w + 0.01 * rng.standard_normal(w.shape, np.float32) for w in weights]
        for t, k in trainers.items():
            if task < k:
                t.consolidation.consolidate(fisher, anchor)


def batches(x: np.ndarray, y: np.ndarray, batch_size: int) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)]


def train_steps(trainer, batches) -> None:
    """The trainer's compiled step over ``batches``, waiting for the last one to finish."""
    for xb, yb in batches:
        loss = trainer.train_step(xb, yb)
    loss.numpy()


def timed_rounds(
    variants: dict[str, Callable[[], object]], rounds: int, self_timed: tuple[str, ...] = ()
) -> dict[str, list[float]]:
    """Seconds of each variant in each round.

    A variant is a callable that blocks until its work is done; it is timed here (wall clock), except the variants
    named in ``self_timed``, which return the seconds of their own steady-state part (``fit``'s epoch, without the
    set-up of each ``fit`` call). Every variant runs once in an untimed warm-up round (tracing, XLA compilation,
    allocations), then ``rounds`` rounds call each once, in a fresh (seeded) random order each round, so that no
    variant always runs first or after the same one and a change in a shared CPU's load hits them alike.
    """
    for fn in variants.values():
        fn()
    order, times = np.random.default_rng(0), {name: [] for name in variants}
    for _ in range(rounds):
        for name in order.permutation(list(variants)):
            t0 = time.perf_counter()
            own = variants[name]()
            times[name].append(float(own) if name in self_timed else time.perf_counter() - t0)
    return times


def medians(rounds: dict[str, list[float]]) -> dict[str, float]:
    return {name: statistics.median(t) for name, t in rounds.items()}


def machine() -> dict:
    """The machine the figures belong to: CPU model (``/proc/cpuinfo``), logical cores (all, and those this process
    may use), TensorFlow and Keras versions, and ``XLA_FLAGS`` (None when unset)."""
    import keras
    import tensorflow as tf

    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), cpu)
    except OSError:  # not Linux
        pass
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_model": cpu,
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS"),
    }


def report(bench: str, size: str, config, figures: dict, facts: dict, load_before: float, rounds: dict) -> dict:
    """The JSON dict: the figures (floats), targets and verdicts, then the run's facts, the machine and every
    round's seconds."""
    targets = {key: target for key, target in TARGETS[bench].items() if key in figures}
    meets = {
        key: bool(figures[key] >= bound if op == ">=" else figures[key] <= bound)
        for key, (op, bound) in targets.items()
    }
    facts_of_machine = machine()
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
        "machine": facts_of_machine,
        "cpu_count": facts_of_machine["cores"],
        # 1-minute load averages before and after: above cpu_count, other processes shared the CPU (noisier figures)
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "tensorflow": facts_of_machine["tensorflow"],
        "round_seconds": rounds,  # per variant, in round order: their spread shows how noisy the medians are
    }
