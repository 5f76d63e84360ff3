"""Running Snakemake on a suite's runs: the command line it gets, the lines of its output shown to the user, a stop
signal passed on to it and the jobs under it, the claim on the suite's directory, and why runs did not finish.

``ewc.suite_cli`` decides which runs to train; ``run_snakemake`` trains them with the workflow in
``ewc/workflow/Snakefile``, one ``suite-job`` per run, locally or through a batch system's executor. Snakemake is
told to run exactly the targets it is given (missing files by its own rule, the others by ``--forcerun``) and nothing
else, whatever its metadata says (``--rerun-triggers mtime --ignore-incomplete``).

A SIGTERM or SIGINT for the suite command stops Snakemake and the runs it trains (``_Stopper``); the runs keep their
partial results and checkpoints (``--keep-incomplete``), and the same command resumes them. Snakemake's working
directory is ``<results>/<suite>``: its metadata (``.snakemake/``), the jobs' logs (``logs/``) and a copy of its
output (``.snakemake/ewc-suite.log``) live there, beside the results.
"""

from __future__ import annotations

import fcntl
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import psutil

from ewc.paths import WORKFLOW

SNAKEFILE = WORKFLOW / "Snakefile"
EXECUTORS = ("local", "cluster-generic", "slurm")
JOB_MARK = "@ewc "  # suite-job's progress lines start with it; the relay prints them without it
ERROR = re.compile(r"\w+(Error|Exception)\b")  # a traceback's verdict line
SNAKEMAKE_ERROR = re.compile(
    r"^Error in rule run_job:\n(?:\s+message: (?P<message>.*)\n)?\s+jobid: \d+\n"
    r"\s+output: (?P<run>\S+)\.json$",
    re.M,
)  # Snakemake's report of a failed job


def run_snakemake(
    name: str,
    root: Path,
    workdir: Path,
    targets: list[str],
    stale: list[str],
    *,
    executor: str = "local",
    cores: int | None = None,
    jobs: int | None = None,
    profile: str | None = None,
) -> tuple[int, Path, int | None]:
    """Run Snakemake on the suite's ``targets`` (results files, relative to ``workdir``), printing a line per job
    started and finished (locally the jobs' own lines; on a cluster, read from Snakemake's output, since the jobs
    print to the batch system's files); everything Snakemake prints goes to ``.snakemake/ewc-suite.log``.
    A SIGTERM or SIGINT sent to this command alone stops Snakemake and its jobs too (``_Stopper``).

    Args:
        executor: one of ``EXECUTORS``: this machine, or a batch system through Snakemake's executor plugin.
        cores: locally, CPU cores for the whole suite (default: all); on a cluster, threads per job (default: the
            profile's).
        jobs: runs at once (default: locally 1, with all the cores; on a cluster, the profile's).
        profile: a Snakemake profile directory (default: none locally, ``ewc/workflow/profiles/<executor>`` else).

    Returns:
        (exit status, that log, the signal that stopped it or None).
    """
    local = executor == "local"
    all_cores = cores or os.cpu_count() or 1
    workflow = [
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
        f"threads={max(1, all_cores // (jobs or 1)) if local else 1}",
    ]
    cmd = [
        *workflow,
        "--rerun-triggers",
        "mtime",
        "--ignore-incomplete",
        "--keep-incomplete",  # a stopped run's partial results say how far it got; its checkpoint resumes it
        *targets,
    ]
    cmd += ["--forcerun", *stale] if stale else []
    profile = profile or (None if local else WORKFLOW / "profiles" / executor)
    profile = str(Path(profile).resolve()) if profile else None  # Snakemake runs in the working directory
    cmd += ["--profile", profile] if profile else []
    if local:
        cmd += ["--cores", str(all_cores)]
    else:
        cmd += ["--executor", executor]
        cmd += ["--jobs", str(jobs)] if jobs else []
        cmd += ["--set-threads", f"run_job={cores}"] if cores else []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in (str(SNAKEFILE.parents[2]), os.environ.get("PYTHONPATH")) if p),
    }
    env.pop("SNAKEMAKE_PROFILE", None)  # this command decides the profile
    log = workdir / ".snakemake" / "ewc-suite.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    relay = _Relay(name, local)
    running = _claim_workdir(name, workdir, [*workflow, "--unlock"], env)
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
    """``pid`` and every process under it, each after its parent (psutil; it leaves out zombies and any process older
    than ``pid``, whose pid was reused); just ``pid`` where it cannot be read, e.g. when it has ended."""
    try:
        return [pid, *(child.pid for child in psutil.Process(pid).children(recursive=True))]
    except psutil.Error:
        return [pid]


def _claim_workdir(name: str, workdir: Path, unlock: list[str], env: dict):
    """Mark ``workdir`` as in use by this suite command (a shared ``flock`` on ``.snakemake/ewc-suite.running``, held
    by this process and the Snakemake it starts; the kernel drops it when both are gone, however they ended), and
    first release Snakemake's locks if nobody holds that mark (Snakemake's own ``unlock`` command): they were left by a
    suite that was killed (a session's end, ``kill -9``), and Snakemake would otherwise refuse to resume. A Snakemake
    started by hand in ``workdir``, not through this command, does not hold the mark. Returns the open file."""
    mark = open(workdir / ".snakemake" / "ewc-suite.running", "a")
    try:
        fcntl.flock(mark, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pass  # another suite command trains here: its locks are live, and Snakemake checks them against ours
    else:
        if any((workdir / ".snakemake" / "locks").glob("*.lock")):
            subprocess.run(unlock, env=env, cwd=workdir, capture_output=True, check=True)
            print(f"suite {name}: released Snakemake's locks left by an interrupted run of this suite", flush=True)
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


def failure(name: str, failed: list[str], workdir: Path, log: Path, started: float) -> str:
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
