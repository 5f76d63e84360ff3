"""Benchmarks: ``python -m ewc bench {fisher,penalty,train,step} [--json] [--size smoke|full]``.

Each bench prints one JSON object (``--json``) or a short table, measured in one run: the variants it compares are
timed in interleaved rounds (so a change in a shared CPU's load hits them alike), each figure is the median over
rounds after one untimed warm-up round (which compiles), and every ratio is the quotient of two figures of the same
run. All variants see the same real MNIST images (the first N training digits) at the same batch size. Every JSON
records the machine it was measured on (CPU model, cores, TensorFlow and Keras versions, ``XLA_FLAGS``).

* ``fisher``  (``ewc.bench.fisher``) -- the fast Fisher (``ewc.fisher.fisher_diagonal``, empirical, batch 256)
  against the obvious exact method (one compiled backward pass per example, squared, accumulated) and against one
  training pass over the same images with the trainer's compiled step.
* ``penalty`` (``ewc.bench.penalty``) -- the trainer's train step with no penalty, and with ``ewc-online`` /
  ``ewc-all`` holding K = 1, 5 and 20 consolidated tasks, one K at a time: ms per step and the ratios to no penalty.
* ``train``   (``ewc.bench.train``) -- steady-state training epochs of stock Keras (``compile`` + ``fit``: no XLA in
  a child process with TensorFlow's default allocator, no XLA in this one, and ``jit_compile=True``) against
  ``SequentialTrainer.train_epoch`` without a penalty, and with ``ewc-online`` / ``ewc-all`` at K = 5.
* ``step``    (``ewc.bench.step``) -- where a training step's time goes: the trainer's compiled step cut short
  (forward only, forward and backward, the Adam update alone) against the whole step, without and with a penalty.

Sizes (``ewc.bench.common.SIZES``): ``full`` is the report's Appendix A CNN with the ``paper`` profile's settings
(batch 64, Adam 1e-4, lambda 200), minutes on a 2-core CPU; ``smoke`` is the ``smoke`` profile's tiny MLP on a few
hundred images, seconds, for the tests. ``TARGETS`` are the issues' goals for ``full``; at ``smoke`` they are reported
but mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable

from ewc.bench.common import KS, SIZES, TARGETS, BenchSize, machine
from ewc.bench.fisher import FISHER_BATCH, bench_fisher, per_example_fisher
from ewc.bench.penalty import bench_penalty
from ewc.bench.step import bench_step
from ewc.bench.train import TRAIN_K, FitProcess, bench_train, fit_worker, keras_fit
from ewc.data import load_mnist
from ewc.errors import ConfigError, EwcError
from ewc.paths import ROOT, bench_path
from ewc.results import write_json_atomic

__all__ = [
    "BENCHES",
    "BOOK_BENCHES",
    "FISHER_BATCH",
    "KS",
    "SIZES",
    "TARGETS",
    "TRAIN_K",
    "BenchSize",
    "FitProcess",
    "add_parser",
    "bench_fisher",
    "bench_penalty",
    "bench_step",
    "bench_train",
    "cmd_bench",
    "fit_worker",
    "format_table",
    "keras_fit",
    "machine",
    "per_example_fisher",
    "run_isolated",
    "run_missing_benches",
]

BENCHES: dict[str, Callable[..., dict]] = {
    "fisher": bench_fisher,
    "penalty": bench_penalty,
    "train": bench_train,
    "step": bench_step,
}


def add_parser(sub) -> None:
    """Register ``bench`` on the CLI's subparsers (the object ``add_subparsers`` returned)."""
    p = sub.add_parser(
        "bench",
        help="time the fast Fisher, the penalties or the trainer (one JSON object with --json)",
        description="Time one part of the package against its obvious alternative, in one run, "
        "interleaved, medians over rounds; ratios are quotients of figures of the same run.",
    )
    p.add_argument(
        "which",
        choices=tuple(BENCHES),
        help="fisher: fast Fisher vs per-example loop vs a training pass; "
        "penalty: train step with ewc-online/ewc-all at K=1,5,20 vs none; "
        "train: our trainer vs Keras fit, with and without XLA; "
        "step: where a training step's time goes (forward, backward, Adam, penalty)",
    )
    p.add_argument(
        "--size",
        choices=tuple(SIZES),
        default="full",
        help="full: the Appendix A CNN, minutes (default); smoke: a tiny MLP, seconds (for tests)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--mnist", help="an explicit mnist.npz (Keras layout)")
    p.add_argument(
        "--ks",
        type=int,
        nargs="+",
        metavar="K",
        help=f"penalty only: the numbers of consolidated tasks (default {' '.join(map(str, KS))})",
    )
    p.add_argument(
        "--all-up-to",
        type=int,
        metavar="K",
        help="penalty only: time the per-task sum only at K up to this (its memory grows with K; default: every K)",
    )
    p.set_defaults(func=cmd_bench)


def cmd_bench(args) -> int:
    """Run the bench ``args.which`` at ``args.size``; print its JSON (``args.json``) or its table."""
    ks, all_up_to = getattr(args, "ks", None), getattr(args, "all_up_to", None)
    if ks is not None and (args.which != "penalty" or min(ks) < 1):
        raise ConfigError("--ks applies to the penalty bench only, with K >= 1")
    if all_up_to is not None and (args.which != "penalty" or all_up_to < 0):
        raise ConfigError("--all-up-to applies to the penalty bench only, with K >= 0")
    extra = ({"ks": tuple(ks)} if ks else {}) | ({"all_up_to": all_up_to} if all_up_to is not None else {})
    result = BENCHES[args.which](args.size, load_mnist(getattr(args, "mnist", None)), **extra)
    print(json.dumps(result, indent=1, allow_nan=False) if args.json else format_table(result))
    return 0


def run_isolated(
    which: str, size: str = "full", ks: tuple[int, ...] | None = None, all_up_to: int | None = None
) -> dict:
    """``python -m ewc bench WHICH --json`` in a fresh Python process; returns its JSON dict.

    The book measures its benches this way so that each starts from a fresh TensorFlow, whatever the chapter's kernel
    did before (allocator pool, compiled functions, threads), and so that their peak memory (the penalty bench's
    per-task sums) is not added to the kernel's.
    """
    cmd = [sys.executable, "-m", "ewc", "bench", which, "--size", size, "--json"]
    cmd += ["--ks", *map(str, ks)] if ks else []
    cmd += ["--all-up-to", str(all_up_to)] if all_up_to is not None else []
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    if proc.returncode != 0:
        raise EwcError(f"bench {which} failed: {(proc.stderr.strip().splitlines() or ['no message'])[-1]}")
    return json.loads(proc.stdout)


BOOK_BENCHES = ("penalty", "fisher", "train", "step")  # the benches the book's training-time chapter shows


def run_missing_benches(profile: str) -> int:
    """Measure the benches the training-time chapter shows, each in a fresh process, when not stored yet
    (``ewc.paths.bench_path``); returns how many were measured."""
    size = "smoke" if profile == "smoke" else "full"
    measured = 0
    for name in BOOK_BENCHES:
        path = bench_path(profile, name)
        if path.is_file():
            continue
        measured += 1
        print(f"bench: {name} ({size}) ...", file=sys.stderr, flush=True)
        # the per-task sum's memory grows with K: the book times it up to K = 5 (the online form up to 20)
        kwargs = {"ks": (1, 5, 20), "all_up_to": 5} if name == "penalty" else {}
        value = run_isolated(name, size, **kwargs)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(value, path)
    return measured


def format_table(result: dict) -> str:
    """A few human lines: the run and its machine, the figures, then each target and whether it is met."""
    m = result["machine"]
    lines = [
        f"{result['bench']} bench, {result['size']} ({result['arch']}, batch {result['batch_size']}, "
        f"median of {result['rounds']} interleaved rounds, load {result['load_before']:.1f} -> "
        f"{result['load_after']:.1f} on {result['cpu_count']} CPUs)",
        f"  on {m['cpu_model']}, {m['cores']} cores ({m['cores_usable']} usable), TensorFlow {m['tensorflow']}, "
        f"Keras {m['keras']}" + (f", XLA_FLAGS={m['xla_flags']}" if m["xla_flags"] else ""),
    ]
    lines += [
        f"  {key:34s} {value:10.3f}"
        for key, value in result.items()
        if isinstance(value, float) and not key.startswith("load_")
    ]
    for key, target in result["targets"].items():
        verdict = "met" if result["meets_targets"][key] else "MISSED"
        lines.append(f"  target {key} {target}: {result[key]:.3f} {verdict}")
    if "best_fit" in result:
        lines.append(f"  the fastest stock-Keras variant: {result['best_fit']}")
    return "\n".join(lines)
