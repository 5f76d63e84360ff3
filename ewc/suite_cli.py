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

A SIGTERM or SIGINT for this command stops Snakemake and the runs it trains (``_Stopper``); the runs keep their
partial results and checkpoints (``--keep-incomplete``), and the same command resumes them.

Snakemake's working directory is ``<results>/<suite>``: its metadata (``.snakemake/``), the jobs' logs (``logs/``)
and this command's copy of Snakemake's output (``.snakemake/ewc-suite.log``) live there, beside the results.
"""

from __future__ import annotations

import dataclasses
import fcntl
import fnmatch
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from ewc.errors import ConfigError
from ewc.paths import WORKFLOW, results_root
from ewc.suites import SUITES, status, suite

SNAKEFILE = WORKFLOW / "Snakefile"
EXECUTORS = ("local", "cluster-generic", "slurm")
JOB_MARK = "@ewc "  # suite-job's progress lines start with it; the relay prints them without it
ERROR = re.compile(r"\w+(Error|Exception)\b")  # a traceback's verdict line
SNAKEMAKE_ERROR = re.compile(
    r"^Error in rule run_job:\n(?:\s+message: (?P<message>.*)\n)?\s+jobid: \d+\n"
    r"\s+output: (?P<run>\S+)\.json$",
    re.M,
)  # Snakemake's report of a failed job


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
    returncode, log, stopped_by = _snakemake(s.name, root, workdir, [f"{run}.json" for run in todo], stale, args)
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
    print(f"error: {_failure(s.name, failed, workdir, log, started)}", file=sys.stderr)
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


def _snakemake(
    name: str, root: Path, workdir: Path, targets: list[str], stale: list[str], args
) -> tuple[int, Path, int | None]:
    """Run Snakemake on the suite's ``targets`` (results files, relative to ``workdir``), printing a line per job
    started and finished (locally the jobs' own lines; on a cluster, read from Snakemake's output, since the jobs
    print to the batch system's files); everything Snakemake prints goes to ``.snakemake/ewc-suite.log``.
    A SIGTERM or SIGINT sent to this command alone stops Snakemake and its jobs too (``_Stopper``).
    Returns (exit status, that log, the signal that stopped it or None)."""
    local = args.executor == "local"
    cores = args.cores or os.cpu_count() or 1
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(SNAKEFILE),
        "--directory",
        str(workdir),
        "--config",
        f"suite={name}",
        f"results={root}",
        f"python={sys.executable}",
        f"threads={max(1, cores // (args.jobs or 1)) if local else 1}",
        "--rerun-triggers",
        "mtime",
        "--ignore-incomplete",
        "--keep-incomplete",  # a stopped run's partial results say how far it got; its checkpoint resumes it
        *targets,
    ]
    cmd += ["--forcerun", *stale] if stale else []
    profile = args.snakemake_profile or (None if local else WORKFLOW / "profiles" / args.executor)
    profile = str(Path(profile).resolve()) if profile else None  # Snakemake runs in the working directory
    cmd += ["--profile", profile] if profile else []
    if local:
        cmd += ["--cores", str(cores)]
    else:
        cmd += ["--executor", args.executor]
        cmd += ["--jobs", str(args.jobs)] if args.jobs else []
        cmd += ["--set-threads", f"run_job={args.cores}"] if args.cores else []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(SNAKEFILE.parents[2]), os.environ.get("PYTHONPATH")) if p),
    }
    env.pop("SNAKEMAKE_PROFILE", None)  # this command decides the profile
    log = workdir / ".snakemake" / "ewc-suite.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    relay = _Relay(name, local)
    running = _claim_workdir(name, workdir)
    with open(log, "w") as out, running, _Stopper(local) as stopper:
        out.write(" ".join(cmd) + "\n")
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
            cwd=workdir,
            pass_fds=(running.fileno(),),  # Snakemake holds the claim as long as it lives, even if we are killed
        )
        stopper.started(proc.pid)
        for line in proc.stdout:
            out.write(line)
            out.flush()
            shown = relay(line)
            if shown:
                print(shown, flush=True)
        return proc.wait(), log, stopper.signal


class _Stopper:
    """While Snakemake runs, a SIGTERM or SIGINT for this command is passed on, so that ``kill PID`` or a batch
    system's time limit stops the whole suite, not this process alone, and the next suite command resumes the runs.

    Locally, Snakemake and every process under it (its jobs' shells and ``suite-job`` processes) get SIGTERM: the jobs
    end at once, and Snakemake, which takes SIGTERM as "finish the running jobs", then has none left. On a cluster,
    Snakemake gets SIGINT and cancels its jobs through the executor (the batch system's cancel command), since they do
    not run under it. A signal sent to the whole process group (Ctrl-C, ``timeout``) reached them all already; passing
    it on once more is harmless. ``signal`` is the first signal received, or None."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self, local: bool):
        self.local, self.snakemake, self.signal, self._before = local, None, None, {}

    def __enter__(self):
        self._before = {s: signal.signal(s, self._pass_on) for s in self.SIGNALS}
        return self

    def __exit__(self, *exc):
        for s, handler in self._before.items():
            signal.signal(s, handler)

    def started(self, pid: int) -> None:
        self.snakemake = pid
        if self.signal:  # it came while Snakemake was being started
            self._pass_on(self.signal, None)

    def _pass_on(self, signum, frame) -> None:
        self.signal = self.signal or signum
        if self.snakemake is None:
            return  # passed on as soon as Snakemake has started
        if not self.local:
            _send(self.snakemake, signal.SIGINT)
            return
        for pid in _process_tree(self.snakemake):
            _send(pid, signal.SIGTERM)


def _send(pid: int, signum: int) -> None:
    try:
        os.kill(pid, signum)
    except ProcessLookupError:  # it ended meanwhile
        pass


def _process_tree(pid: int) -> list[int]:
    """``pid`` and every process under it, parents first, from Linux's ``/proc``; just ``pid`` where there is none."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # the name in parentheses may hold spaces
        except (OSError, IndexError):
            continue  # ended while we read
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        tree.append(todo.pop(0))
        todo += children.get(tree[-1], [])
    return tree


def _claim_workdir(name: str, workdir: Path):
    """Mark ``workdir`` as in use by this suite command (a shared ``flock`` on ``.snakemake/ewc-suite.running``, held
    by this process and the Snakemake it starts; the kernel drops it when both are gone, however they ended), and
    first remove Snakemake's locks if nobody holds that mark: they were left by a suite that was killed (a session's
    end, ``kill -9``), and Snakemake would otherwise refuse to resume until they are deleted by hand. A Snakemake
    started by hand in ``workdir``, not through this command, does not hold the mark. Returns the open file."""
    mark = open(workdir / ".snakemake" / "ewc-suite.running", "a")
    try:
        fcntl.flock(mark, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # another suite command trains here: its locks are live, and Snakemake checks them against ours
    else:
        locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
        for lock in locks:
            lock.unlink()
        if locks:
            print(f"suite {name}: removed Snakemake's locks left by an interrupted run of this suite", flush=True)
    fcntl.flock(mark, fcntl.LOCK_SH)
    return mark


class _Relay:
    """Which of Snakemake's output lines to show, and how: the lines ``suite-job`` marks, and, on a cluster, a line
    when Snakemake submits a run's job and when it sees it finished (its job blocks name the run's wildcard)."""

    JOBID = re.compile(r"^\s+jobid: (\d+)$")
    RUN = re.compile(r"^\s+wildcards: run=(.+)$")
    SUBMITTED = re.compile(r"^Submitted (?:group )?job (\d+) with external jobid '(.*)'")
    FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: run_job\)")

    def __init__(self, name: str, local: bool):
        self.name, self.local, self.runs, self.jobid = name, local, {}, None

    def __call__(self, line: str) -> str | None:
        if line.startswith(JOB_MARK):
            return line[len(JOB_MARK) :].rstrip("\n")
        if self.local:
            return None
        line = line.rstrip("\n")
        if m := self.JOBID.match(line):
            self.jobid = m[1]
        elif (m := self.RUN.match(line)) and self.jobid is not None:
            self.runs[self.jobid] = m[1]
        elif (m := self.SUBMITTED.match(line)) and m[1] in self.runs:
            return f"{self.name}/{self.runs[m[1]]}: submitted (job {m[2]})"
        elif (m := self.FINISHED.match(line)) and m[1] in self.runs:
            return f"{self.name}/{self.runs[m[1]]}: finished"
        return None


def _failure(name: str, failed: list[str], workdir: Path, log: Path, started: float) -> str:
    """One line: which runs did not finish and why (the error in each one's log, if this invocation wrote it), or
    why Snakemake stopped."""
    text = log.read_text(errors="replace") if log.is_file() else ""
    if "LockException" in text:
        return (
            f"suite {name}: another run of this suite is training some of these runs into {workdir}; wait for it "
            "or choose other runs with --runs"
        )
    if not failed:
        return f"suite {name}: Snakemake failed; see {log}"
    snakemake_says = {
        m["run"]: m["message"].split("For further error details")[0].strip()
        for m in SNAKEMAKE_ERROR.finditer(text)
        if m["message"]
    }  # e.g. a submission that failed
    reasons = []
    for run in failed:
        job_log = workdir / "logs" / f"{run}.log"
        fresh = job_log.is_file() and job_log.stat().st_mtime >= started
        lines = (
            [line.strip() for line in job_log.read_text(errors="replace").splitlines() if line.strip()] if fresh else []
        )
        errors = [line for line in lines if line.startswith("error:") or ERROR.match(line)]
        reason = errors[-1] if errors else snakemake_says.get(run) or (lines[-1] if lines else "not run")
        reasons.append(f"{run} ({reason})")
    return (
        f"suite {name}: {len(failed)} run(s) did not finish: {'; '.join(reasons)}; logs in {workdir / 'logs'}, "
        f"Snakemake's output in {log}"
    )


# ---------------------------------------------------------------------------------------------------------------
# suite --dry-run


def dry_run(s, root: Path, states: dict[str, str]) -> int:
    """Print each run, what it needs (done / train / resume / retrain) and its estimated time on this machine."""
    t0 = time.perf_counter()
    import tensorflow  # noqa: F401  (each job imports it afresh: part of its start-up)

    from ewc.checkpoint import read_meta
    from ewc.experiment import checkpoint_path

    imports = time.perf_counter() - t0
    print(f"suite {s.name}: {s.description}; {len(s.runs)} runs into {root / s.name}", flush=True)
    rates = {}
    for config in s.runs.values():
        key = step_key(config)
        if key not in rates:
            rates[key] = measure(config)
            rates[key].startup_s += imports
            print(
                f"  measured on this machine ({_machine()}): {_describe(key)}: {rates[key].train:.0f} images/s "
                f"training, {rates[key].evaluate:.0f} images/s evaluating, {rates[key].startup_s:.0f} s to start "
                "(imports, compilation)",
                flush=True,
            )
    width = max(map(len, s.runs))
    total, todo = 0.0, 0
    for run, config in s.runs.items():
        state, done_tasks = states[run], 0
        checkpoint = checkpoint_path(s.path(run, root))
        if state != "done" and checkpoint.is_file():
            try:
                meta = read_meta(checkpoint)
                if meta["config"] == config.to_dict():
                    done_tasks = meta["record"]["tasks_done"]
            except (ConfigError, KeyError):
                pass
        if state == "done":
            what, estimate = "done", "-"
        else:
            seconds = estimate_seconds(config, rates[step_key(config)], tasks_done=done_tasks)
            total, todo = total + seconds, todo + 1
            what = {"missing": "train", "partial": "train", "other": "retrain (file holds another config's results)"}[
                state
            ]
            if done_tasks:
                what = f"resume after task {done_tasks}/{config.tasks}"
            estimate = f"~{_duration(seconds)}"
        print(f"  {run:{width}s}  {estimate:>9s}  {what}")
    print(
        f"{todo} of {len(s.runs)} runs to train, ~{_duration(total)} one after another on this machine: an "
        "estimate from a few timed steps, not a measurement of the runs"
    )
    return 0


def step_key(config) -> tuple:
    """What a step's cost depends on: (arch, hidden widths or None, batch size, image side, penalty slots).

    The penalty's slots (0 without one, T-1 for ewc-all, 1 otherwise; see ``ewc.penalty``) are computed at every step
    from task 1 on, filled or not, so a step costs the same in every task of a run.
    """
    from ewc.penalty import Consolidation

    hidden = tuple(config.mlp_hidden) if config.arch == "mlp" else None
    slots = Consolidation.slots_for(config.mode, config.tasks - 1)
    return config.arch, hidden, config.batch_size, getattr(config, "image_size", 28), slots


@dataclasses.dataclass
class Rates:
    """A network's measured speed on this machine."""

    train: float  # training images per second (the compiled train step with the run's penalty)
    evaluate: float  # test images per second (the compiled prediction, batches of EVAL_BATCH)
    startup_s: float  # seconds before the first step: building the trainer and compiling its two functions


def measure(config) -> Rates:
    """Time ``config``'s compiled train step (its penalty included) and prediction on random images, each for about a
    second after one warm-up call (which compiles)."""
    import numpy as np

    from ewc.train import EVAL_BATCH, SequentialTrainer

    t0 = time.perf_counter()
    trainer = SequentialTrainer(config)
    side = step_key(config)[3]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (config.batch_size, side, side), dtype=np.uint8)
    y = rng.integers(0, 10, config.batch_size).astype(np.int32)
    x_eval = rng.integers(0, 256, (EVAL_BATCH, side, side), dtype=np.uint8)
    trainer.train_step(x, y).numpy()
    trainer.predict(x_eval).numpy()
    startup = time.perf_counter() - t0
    train = _per_second(lambda: trainer.train_step(x, y).numpy(), config.batch_size)
    evaluate = _per_second(lambda: trainer.predict(x_eval).numpy(), EVAL_BATCH)
    return Rates(train, evaluate, startup)


def _per_second(step, images: int, seconds: float = 1.0, at_least: int = 3) -> float:
    calls, t0 = 0, time.perf_counter()
    while calls < at_least or time.perf_counter() - t0 < seconds:
        step()
        calls += 1
    return calls * images / (time.perf_counter() - t0)


def estimate_seconds(config, rates: Rates, tasks_done: int = 0) -> float:
    """Seconds to train tasks ``tasks_done + 1 .. tasks`` of ``config`` in a fresh process at ``rates``.

    Training images: ``epochs x train_size`` per task, or ``iterations x batch_size`` where ``iterations`` > 0;
    each consolidation's Fisher is costed as ``fisher_samples`` training images. Evaluation: after each epoch (once
    per task with ``iterations``), ``test_size`` images of every task seen so far. Plus the start-up once.
    """
    per_task = config.train_images_per_task
    evaluations = 1 if config.iterations else config.epochs
    remaining = range(tasks_done, config.tasks)
    fisher = (
        config.fisher_samples * sum(k < config.tasks - 1 for k in remaining) if config.mode.startswith("ewc") else 0
    )
    evaluated = sum(evaluations * (k + 1) * config.test_size for k in remaining)
    return rates.startup_s + (per_task * len(remaining) + fisher) / rates.train + evaluated / rates.evaluate


def _describe(key: tuple) -> str:
    arch, hidden, batch, side, slots = key
    net = "Appendix A CNN" if arch == "cnn" else f"MLP {'-'.join(map(str, hidden))}"
    penalty = f"{slots} penalty slot{'' if slots == 1 else 's'}"
    return f"{net}, batch {batch}, {side}x{side} images, {penalty}"


def _machine() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    load = os.getloadavg()[0]  # above the CPU count, other processes share them and the rates are lower
    return f"{os.cpu_count()} CPUs, load {load:.1f}" + (f", {len(gpus)} GPU(s)" if gpus else ", no GPU")


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


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
        f"{JOB_MARK}{label}: finished in {_duration(time.perf_counter() - t0)}, ACC {result['metrics']['acc']:.4f}",
        flush=True,
    )
    return 0
