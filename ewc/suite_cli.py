"""``python -m ewc suite NAME``: train a reference suite (``ewc.suites``) with Snakemake, one job per run.

Command line (``add_suite_commands`` registers it, and ``suite-job``, what each Snakemake job runs)::

    python -m ewc suite NAME [--runs GLOB ...] [--dry-run] [--cores N] [--jobs N]
                             [--executor local|cluster-generic|slurm] [--snakemake-profile DIR] [--results-dir DIR]

The runs to train are those whose results file is not complete results of exactly their config; Snakemake is told
to run exactly those (missing files by its own rule, the others by ``--forcerun``) and nothing else, whatever its
metadata says (``--rerun-triggers mtime --ignore-incomplete``). ``--dry-run`` lists the runs, what each needs and an
estimated time on this machine, from a few timed train and evaluation steps per network, and trains nothing.
``--runs`` narrows either to the runs whose names match one of its shell-style patterns (``'none/*'``,
``'*_lam-500/seed-[01]'``), so a long suite can be trained in the order its reader needs, a part per session.

A SIGTERM or SIGINT for this command stops Snakemake and the runs it trains; the runs keep their partial results
and checkpoints, and the same command resumes them. Running Snakemake is ``ewc.snakemake_driver``'s job, the
estimate ``ewc.estimate``'s; this module holds the commands.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import signal
import sys
import time
from pathlib import Path

from ewc.errors import ConfigError
from ewc.estimate import dry_run, duration
from ewc.paths import results_root
from ewc.snakemake_driver import EXECUTORS, JOB_MARK, failure, run_snakemake
from ewc.suites import SUITES, status, suite


def add_suite_commands(sub) -> None:
    """Register ``suite`` and ``suite-job`` on the CLI's subparsers (the object ``add_subparsers`` returned)."""
    p = sub.add_parser(
        "suite",
        help="train a reference suite of runs with Snakemake (--dry-run: list and estimate)",
        description="Train every run of a declared suite that has no complete results yet, one "
        "Snakemake job per run; an interrupted suite reruns only unfinished runs, each resuming from "
        "its last snapshotted epoch. Suites: " + "; ".join(f"{k}: {d}" for k, (d, _) in SUITES.items()),
    )
    p.add_argument("name", metavar="NAME", help=f"the suite: {', '.join(SUITES)}")
    p.add_argument(
        "--runs",
        metavar="GLOB",
        nargs="+",
        help="only the runs whose names match one of these shell-style patterns (quote them), e.g. "
        "'none/*' '*_lam-500/seed-[01]' (default: every run)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="list the runs and an estimated time for each on this machine; train nothing",
    )
    p.add_argument(
        "--cores",
        type=int,
        help="local: CPU cores for the whole suite (default: all); cluster: CPU "
        "threads per job (default: the profile's)",
    )
    p.add_argument(
        "--jobs", type=int, help="runs at once (default: local 1, each with all --cores; cluster: the profile's)"
    )
    p.add_argument(
        "--executor",
        choices=EXECUTORS,
        default="local",
        help="local: this machine; cluster-generic: a submit command (default profile: a local stand-in "
        "for sbatch); slurm: SLURM's sbatch",
    )
    p.add_argument(
        "--snakemake-profile",
        metavar="DIR",
        help="a Snakemake profile directory (default for cluster-generic and slurm: the one in ewc/workflow/profiles/)",
    )
    p.add_argument(
        "--results-dir",
        metavar="DIR",
        help="where <suite>/<run>.json go (default: $EWC_RESULTS_DIR, else results/ in the checkout)",
    )
    p.set_defaults(func=cmd_suite)

    p = sub.add_parser("suite-job", help="train one run of a suite (what each of the suite's Snakemake jobs runs)")
    p.add_argument("suite", help="the suite's name")
    p.add_argument("run", help="the run's name in the suite, e.g. ewc-all/seed-3")
    p.add_argument("--results-dir", metavar="DIR", help="as for suite")
    p.add_argument("--threads", type=int, help="TensorFlow's CPU threads (default: TensorFlow's choice)")
    p.set_defaults(func=cmd_suite_job)


# ---------------------------------------------------------------------------------------------------------------
# suite


def cmd_suite(args) -> int:
    """Train the suite's unfinished runs (or, with ``--dry-run``, list them); exit status 1 if any did not finish."""
    s = suite(args.name)
    for name in ("cores", "jobs"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be >= 1, got {value}")
    if args.snakemake_profile and not Path(args.snakemake_profile).is_dir():
        raise ConfigError(f"--snakemake-profile: no such directory: {args.snakemake_profile}")
    if args.runs:
        s = dataclasses.replace(s, runs=select_runs(s.runs, args.runs, s.name))
    root = Path(args.results_dir or results_root()).resolve()
    states = {run: status(config, s.path(run, root)) for run, config in s.runs.items()}
    if args.dry_run:
        return dry_run(s, root, states)
    todo = [run for run, state in states.items() if state != "done"]
    chosen = "chosen " if args.runs else ""
    if not todo:
        print(f"suite {s.name}: all {len(s.runs)} {chosen}runs complete in {root / s.name}; nothing to run")
        return 0
    workdir = root / s.name
    try:
        workdir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {workdir}: {exc.strerror}") from None
    stale = [f"{run}.json" for run in todo if states[run] != "missing"]
    print(
        f"suite {s.name}: {len(todo)} of {len(s.runs)} {chosen}runs to train with Snakemake ({args.executor}) "
        f"into {workdir}",
        flush=True,
    )
    started = time.time()
    returncode, log, stopped_by = run_snakemake(
        s.name,
        root,
        workdir,
        [f"{run}.json" for run in todo],
        stale,
        executor=args.executor,
        cores=args.cores,
        jobs=args.jobs,
        profile=args.snakemake_profile,
    )
    states = {run: status(config, s.path(run, root)) for run, config in s.runs.items()}
    failed = [run for run in todo if states[run] != "done"]
    if stopped_by:
        print(
            f"error: suite {s.name}: stopped by {signal.Signals(stopped_by).name} with {len(failed)} of {len(s.runs)} "
            f"{chosen}runs unfinished; the same command resumes them",
            file=sys.stderr,
        )
        return 128 + stopped_by
    if not failed and returncode == 0:
        print(f"suite {s.name}: all {len(s.runs)} {chosen}runs complete")
        return 0
    print(f"error: {failure(s.name, failed, workdir, log, started)}", file=sys.stderr)
    return 1


def select_runs(runs: dict, patterns: list[str], name: str) -> dict:
    """The runs whose names match one of ``patterns`` (``fnmatch``: ``*``, ``?``, ``[01]``), in the suite's order.
    A pattern that matches no run is a ConfigError naming it, since it is most likely a typo."""
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(run, pattern) for run in runs):
            raise ConfigError(
                f"--runs: {pattern!r} matches no run of suite {name} (see: python -m ewc suite {name} --dry-run)"
            )
    return {run: config for run, config in runs.items() if any(fnmatch.fnmatchcase(run, p) for p in patterns)}


# ---------------------------------------------------------------------------------------------------------------
# suite-job


def cmd_suite_job(args) -> int:
    """Train one run into its results file (resuming its checkpoint); a complete matching file is left as it is."""
    s = suite(args.suite)
    path = s.path(args.run, args.results_dir)
    config = s.runs[args.run]
    if args.threads is not None and args.threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {args.threads}")
    import tensorflow as tf

    if args.threads:  # before TensorFlow starts its thread pools
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    from ewc.experiment import checkpoint_path, run_experiment

    label = f"{s.name}/{args.run}"
    resuming = " (resuming its checkpoint)" if checkpoint_path(path).is_file() else ""
    print(f"{JOB_MARK}{label}: started{resuming}", flush=True)
    t0 = time.perf_counter()
    result = run_experiment(config, path, share_task1=True, reuse=True)
    print(
        f"{JOB_MARK}{label}: finished in {duration(time.perf_counter() - t0)}, ACC {result['metrics']['acc']:.4f}",
        flush=True,
    )
    return 0
