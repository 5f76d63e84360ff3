"""Suites are declared data, trained by Snakemake one job per run: every run once, a complete run never again, an
unfinished one alone and resumed from its checkpoint, on this machine or through a batch system's submit command."""

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import ROOT, run_cli
from test_cli import assert_clean_failure

from ewc.config import PARAMETERS, make_config
from ewc.errors import ConfigError
from ewc.estimate import Rates, estimate_seconds, measure, step_key
from ewc.paths import results_root
from ewc.suites import (
    REPORT_SCALE_CALIBRATED_LAM,
    REPORT_SCALE_LAM_GRID,
    SUITES,
    run_name,
    split_run_name,
    status,
    suite,
)

pytestmark = pytest.mark.slow  # Snakemake, worker processes or the whole smoke book

SMOKE_RUNS = ["none/seed-0", "none/seed-1", "ewc-all/seed-0", "ewc-all/seed-1"]


def mnist_file():
    """The verified mnist.npz this machine has (provisioned if needed), for the jobs' ``$EWC_MNIST``."""
    from ewc.data import data_dir, keras_cache, load_mnist

    if os.environ.get("EWC_MNIST"):
        return os.environ["EWC_MNIST"]
    load_mnist()
    return str(next(p for p in (keras_cache(), data_dir() / "mnist.npz") if p.is_file()))


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """Results and the task-1 cache in a temporary directory, never the checkout's."""
    tmp = tmp_path_factory.mktemp("suites")
    return {"EWC_RESULTS_DIR": str(tmp / "results"), "EWC_DATA_DIR": str(tmp / "data"), "EWC_MNIST": mnist_file()}


@pytest.fixture(scope="module")
def trained(env):
    """The tiny suite trained from nothing on this machine, two jobs at a time."""
    proc = run_cli("suite", "tiny", "--cores", "2", "--jobs", "2", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc


def path(env, run):
    return suite("tiny").path(run, env["EWC_RESULTS_DIR"])


def mtimes(env, runs=SMOKE_RUNS):
    return {run: path(env, run).stat().st_mtime_ns for run in runs}


def test_every_run_of_the_tiny_suite_is_trained_once_into_its_declared_file(env, trained):
    s = suite("tiny")
    assert list(s.runs) == SMOKE_RUNS
    for run, config in s.runs.items():
        result = json.loads(path(env, run).read_text())
        assert result["complete"] and result["config"] == config.to_dict()
        assert len(result["task_matrix"]) == config.tasks and result["metrics"]["acc"] > 0.1
        assert not list(path(env, run).parent.glob("*.ckpt.npz"))
        assert trained.stdout.count(f"tiny/{run}: started") == 1
        assert trained.stdout.count(f"tiny/{run}: finished") == 1


def test_rerunning_a_complete_suite_trains_nothing(env, trained):
    before = mtimes(env)
    proc = run_cli("suite", "tiny", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "all 4 runs complete" in proc.stdout and "started" not in proc.stdout
    assert mtimes(env) == before


def test_a_deleted_results_file_is_retrained_alone(env, trained):
    path(env, "none/seed-1").unlink()
    before = mtimes_except(env, "none/seed-1")
    proc = run_cli("suite", "tiny", "--cores", "2", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line for line in proc.stdout.splitlines() if "started" in line] == ["tiny/none/seed-1: started"]
    assert mtimes_except(env, "none/seed-1") == before
    assert status(suite("tiny").runs["none/seed-1"], path(env, "none/seed-1")) == "done"


def test_a_killed_suites_snakemake_lock_is_removed_and_a_live_ones_is_kept(env, trained):
    """A suite killed outright (as at a session's end) leaves Snakemake's lock behind; the next suite command removes
    it and resumes. While another suite command holds the directory, its locks are live: a run they cover is refused
    with one line, and nothing is removed or trained."""
    workdir = Path(env["EWC_RESULTS_DIR"]) / "tiny"
    locks = workdir / ".snakemake" / "locks"
    path(env, "none/seed-0").unlink()
    locks.mkdir(exist_ok=True)
    (locks / "0.output.lock").write_text("none/seed-0.json\n")  # Snakemake's lock file: one locked path a line
    with open(workdir / ".snakemake" / "ewc-suite.running", "a") as mark:
        fcntl.flock(mark, fcntl.LOCK_SH)  # what a live suite command and its Snakemake hold
        proc = run_cli("suite", "tiny", "--cores", "2", env=env)
    assert proc.returncode == 1 and "started" not in proc.stdout, proc.stdout + proc.stderr
    assert proc.stderr.strip().count("\n") == 0 and "another run of this suite" in proc.stderr, proc.stderr
    assert (locks / "0.output.lock").is_file() and not path(env, "none/seed-0").exists()

    proc = run_cli("suite", "tiny", "--cores", "2", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "released Snakemake's locks left by an interrupted run" in proc.stdout
    assert [line for line in proc.stdout.splitlines() if "started" in line] == ["tiny/none/seed-0: started"]
    assert not list(locks.glob("*.lock"))


def processes_naming(*texts: str) -> list[int]:
    """The processes whose command line contains every one of ``texts`` (each read once: it may end meanwhile)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            line = cmdline.read_bytes()
        except OSError:
            continue
        if all(text.encode() in line for text in texts):
            found.append(int(cmdline.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="finds processes through Linux's /proc")
@pytest.mark.parametrize("executor", ["local", "cluster-generic"])
def test_sigterm_to_the_suite_command_alone_stops_snakemake_and_its_job(env, trained, executor):
    """``kill PID`` of the suite command (SIGTERM to it alone, not to its process group) while a job runs: Snakemake
    and the job end too, the command says so in one line with exit status 143, and the next suite command trains
    the run. The job is made to hang (tests/hanging_job) so that it is surely running when the signal comes.
    Through cluster-generic the job runs detached from Snakemake, as on a batch system, and is ended by the profile's
    cancel command."""
    path(env, "none/seed-1").unlink()
    results_dir = env["EWC_RESULTS_DIR"]
    hang = {
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "tests" / "hanging_job"), os.environ.get("PYTHONPATH")]))
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "ewc", "suite", "tiny", "--cores", "1", "--executor", executor],
        cwd=ROOT,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **env, **hang},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, so that the test can clean up whatever outlives it
    )
    try:
        deadline = time.monotonic() + 120
        while not processes_naming(results_dir, "suite-job"):
            assert time.monotonic() < deadline and proc.poll() is None, "the job never started"
            time.sleep(0.2)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while processes_naming(results_dir) and time.monotonic() < deadline:  # ended, perhaps not yet reaped
            time.sleep(0.2)
        left = processes_naming(results_dir)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for pid in processes_naming(results_dir):
            os.kill(pid, signal.SIGKILL)
    assert not left, "Snakemake or its job outlived the suite command"
    assert proc.returncode == 128 + signal.SIGTERM, out + err
    assert err.strip().count("\n") == 0, err
    assert "stopped by SIGTERM with 1 of 4 runs unfinished; the same command resumes them" in err, err
    with open(Path(results_dir) / "tiny" / ".snakemake" / "ewc-suite.running") as mark:
        fcntl.flock(mark, fcntl.LOCK_EX | fcntl.LOCK_NB)  # nobody holds the suite's mark any more

    again = run_cli("suite", "tiny", "--cores", "1", "--executor", executor, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    began = "started" if executor == "local" else "submitted"
    assert [line.split(" (")[0] for line in again.stdout.splitlines() if began in line] == [
        f"tiny/none/seed-1: {began}"
    ]


def test_runs_narrows_the_suite_to_the_runs_its_patterns_match(env, trained):
    """Two runs missing, one chosen: only it is trained; the other is then trained by a pattern of its own. A pattern
    matching no run is one error line and exit 2, with nothing trained."""
    for run in ("none/seed-0", "ewc-all/seed-1"):
        path(env, run).unlink()
    listed = run_cli("suite", "tiny", "--runs", "none/*", "--dry-run", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "none/seed-1" in listed.stdout and "ewc-all" not in listed.stdout.split("runs into")[1]
    assert "1 of 2 runs to train" in listed.stdout

    proc = run_cli("suite", "tiny", "--runs", "none/*", "--cores", "2", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    started = [line for line in proc.stdout.splitlines() if "started" in line]
    assert started == ["tiny/none/seed-0: started"], proc.stdout
    assert "1 of 2 chosen runs to train" in proc.stdout
    assert not path(env, "ewc-all/seed-1").exists()

    assert_clean_failure(run_cli("suite", "tiny", "--runs", "ewc-all/seed-1", "ewc-onlin/*", env=env), "--runs")
    assert not path(env, "ewc-all/seed-1").exists()

    proc = run_cli("suite", "tiny", "--runs", "*/seed-1", "--cores", "2", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [line for line in proc.stdout.splitlines() if "started" in line] == ["tiny/ewc-all/seed-1: started"]
    assert all(status(c, path(env, r)) == "done" for r, c in suite("tiny").runs.items())


def test_two_jobs_of_one_seed_started_together_train_its_task_1_once(tmp_path):
    """Snakemake may start two runs that share task 1 at once (no penalty and EWC of seed 0): one trains task 1 and
    shares it, the other waits for the snapshot instead of training task 1 again, and both end as they would alone."""
    import subprocess
    import sys

    from helpers import ROOT

    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "EWC_RESULTS_DIR": str(tmp_path / "results"),
        "EWC_DATA_DIR": str(tmp_path / "data"),
        "EWC_MNIST": mnist_file(),
    }
    runs = ("none/seed-0", "ewc-all/seed-0")
    jobs = [
        subprocess.Popen(
            [sys.executable, "-m", "ewc", "suite-job", "tiny", run, "--threads", "1"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for run in runs
    ]
    for job in jobs:
        _, err = job.communicate(timeout=600)
        assert job.returncode == 0, err
    made = [json.loads(suite("tiny").path(run, tmp_path / "results").read_text()) for run in runs]
    assert sorted(bool(r.get("task1_reused")) for r in made) == [False, True]
    assert made[0]["task_matrix"][0][0] == made[1]["task_matrix"][0][0]  # the same task 1


def mtimes_except(env, run):
    return mtimes(env, [other for other in SMOKE_RUNS if other != run])


def test_an_interrupted_run_resumes_alone_through_cluster_generic(env, trained, mnist):
    """Interrupt ewc-all/seed-0 after its first task as a killed job leaves it (partial results and a checkpoint),
    then start the suite through cluster-generic with the local stand-in for sbatch: only that run is submitted,
    it resumes after task 1, and it ends with the accuracies the uninterrupted run had."""
    from ewc import results
    from ewc.experiment import checkpoint_path, run_resumable

    run_name, config = "ewc-all/seed-0", suite("tiny").runs["ewc-all/seed-0"]
    out = path(env, run_name)
    uninterrupted = json.loads(out.read_text())
    out.unlink()

    class Killed(Exception):
        pass

    def kill_after_first_task(partial):
        results.write_json_atomic(partial, out)
        raise Killed

    with pytest.raises(Killed):
        run_resumable(config, mnist, checkpoint=checkpoint_path(out), on_task_end=kill_after_first_task)
    assert status(config, out) == "partial" and checkpoint_path(out).is_file()
    before = mtimes_except(env, run_name)

    proc = run_cli("suite", "tiny", "--executor", "cluster-generic", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    submitted = [line for line in proc.stdout.splitlines() if "submitted" in line]
    assert len(submitted) == 1 and submitted[0].startswith(f"tiny/{run_name}: submitted (job ")
    assert f"tiny/{run_name}: finished" in proc.stdout
    resumed = json.loads(out.read_text())
    assert resumed["complete"] and resumed["resumed_from_task"] == 1 and resumed["config"] == config.to_dict()
    assert resumed["accuracy"] == uninterrupted["accuracy"]
    assert not checkpoint_path(out).exists()
    assert mtimes_except(env, run_name) == before

    again = run_cli("suite", "tiny", "--executor", "cluster-generic", env=env)
    assert again.returncode == 0 and "nothing to run" in again.stdout


def test_dry_run_of_the_paper_suite_lists_its_three_runs_with_estimates_and_trains_nothing(tmp_path):
    results_dir, data = tmp_path / "results", tmp_path / "data"
    proc = run_cli("suite", "paper", "--dry-run", "--results-dir", str(results_dir), env={"EWC_DATA_DIR": str(data)})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    listed = [line.split() for line in lines if line.startswith("  ") and not line.strip().startswith("measured")]
    assert [words[0] for words in listed] == ["none/seed-0", "ewc-all/seed-0", "ewc-previous/seed-0"]
    assert all(words[1].startswith("~") and words[-1] == "train" for words in listed)
    assert "images/s training" in proc.stdout and "an estimate" in lines[-1]
    assert not results_dir.exists() and not data.exists()


def test_estimate_counts_training_fisher_and_evaluation_images_at_the_measured_rates():
    config = make_config("paper", mode="ewc-all")  # 5 tasks x 30 epochs x 60,000 images; 10,000 test images
    rates = Rates(train=1000.0, evaluate=4000.0, startup_s=10.0)
    # train 5 * 30 * 60000 = 9,000,000; Fisher 4 * 60000 (all training images, as the report's code takes);
    # evaluation 30 * (1+2+3+4+5) * 10000 = 4,500,000
    assert estimate_seconds(config, rates) == pytest.approx(10 + 9_240_000 / 1000 + 4_500_000 / 4000)
    # resuming after task 2: tasks 3-5 train, tasks 3-4 consolidate, evaluation 30 * (3+4+5) * 10000
    assert estimate_seconds(config, rates, tasks_done=2) == pytest.approx(10 + 5_520_000 / 1000 + 3_600_000 / 4000)
    none = make_config("paper", mode="none")
    assert estimate_seconds(none, rates) == pytest.approx(10 + 9_000_000 / 1000 + 4_500_000 / 4000)
    # counted in steps: 3 tasks x 50 steps x 128 images, Fisher 2 * 1000, evaluation once per task 1+2+3 times
    steps = make_config("paper", mode="ewc-online", tasks=3, iterations=50, batch_size=128, fisher_samples=1000)
    assert steps.train_images_per_task == 6400
    assert estimate_seconds(steps, rates) == pytest.approx(10 + 21_200 / 1000 + 60_000 / 4000)


def test_the_estimate_times_each_run_with_its_own_penalty_slots(monkeypatch):
    import ewc.train

    built = []

    class Recording(ewc.train.SequentialTrainer):
        def __init__(self, config):
            super().__init__(config)
            built.append((config.mode, self.consolidation.slots))

    monkeypatch.setattr(ewc.train, "SequentialTrainer", Recording)
    configs = {m: make_config("smoke", mode=m) for m in ("none", "ewc-all", "ewc-previous", "ewc-online")}
    tasks = configs["ewc-all"].tasks
    assert [step_key(c)[-1] for c in configs.values()] == [0, tasks - 1, 1, 1]
    rates = measure(configs["ewc-all"])
    assert built == [("ewc-all", tasks - 1)] and rates.train > 0 and rates.evaluate > 0


def test_every_suites_run_names_split_back_into_their_group_and_seed():
    for name in SUITES:
        for run, config in suite(name).runs.items():
            group, seed = split_run_name(run)
            assert seed == config.seed and f"{group}/seed-{seed}" == run and group.startswith(config.mode)
    assert split_run_name(run_name(make_config("smoke", mode="ewc-all", seed=3), lam_in_name=True)) == (
        "ewc-all_lam-1000",
        3,
    )


def test_unknown_suite_name_is_one_error_line_and_exit_2():
    assert_clean_failure(run_cli("suite", "papr"), "unknown suite 'papr'")
    assert_clean_failure(run_cli("suite", "tiny", "--executor", "pbs"), "invalid choice: 'pbs'")


def test_quick_suite_is_every_run_the_book_renders(tmp_path):
    s = suite("quick")
    expected = {
        f"{mode}/seed-{k}": make_config("quick", mode=mode, seed=k)
        for mode in ("none", "ewc-all", "ewc-previous")
        for k in range(5)
    }
    expected |= {f"ewc-online/seed-{k}": make_config("quick", mode="ewc-online", seed=k) for k in range(3)}
    expected |= {f"l2_lam-0.01/seed-{k}": make_config("quick", mode="l2", lam=0.01, seed=k) for k in range(3)}
    expected |= {
        f"{mode}_arch-mlp/seed-{k}": make_config("quick", mode=mode, arch="mlp", seed=k)
        for mode in ("none", "ewc-all", "ewc-previous")
        for k in range(3)
    }
    expected |= {
        f"{mode}{arch}_permutation-block/seed-0": make_config("quick", mode=mode, arch=a, permutation="block")
        for a, arch in (("cnn", ""), ("mlp", "_arch-mlp"))
        for mode in ("none", "ewc-all")
    }
    expected |= {
        f"ewc-all_arch-mlp_lam-{lam:g}/seed-0": make_config("quick", mode="ewc-all", arch="mlp", lam=lam)
        for lam in (10.0, 100.0, 10000.0, 100000.0)
    }
    assert s.runs == expected
    assert s.path("ewc-previous/seed-4", tmp_path) == tmp_path / "quick" / "ewc-previous" / "seed-4.json"
    assert s.path("l2_lam-0.01/seed-2", tmp_path) == tmp_path / "quick" / "l2_lam-0.01" / "seed-2.json"
    with pytest.raises(ConfigError, match="no run 'none/seed-5'"):
        s.path("none/seed-5")


def test_report_scale_and_paper_suites_are_the_reports_protocols():
    s = suite("report-scale")
    for c in s.runs.values():
        assert (c.profile, c.arch, c.epochs, c.train_size, c.test_size, c.batch_size, c.lr) == (
            "paper",
            "cnn",
            5,
            60000,
            10000,
            64,
            1e-4,
        )
    at_200 = {(c.mode, c.seed) for c in s.runs.values() if c.lam == 200.0}
    assert at_200 == {(m, seed) for m in ("none", "ewc-all", "ewc-previous", "ewc-online") for seed in (0, 1)}
    grid = {c.lam for c in s.runs.values() if c.mode == "ewc-all" and c.seed == 0}
    assert grid == set(REPORT_SCALE_LAM_GRID) == {200.0, 2000.0, 20000.0}
    calibrated = {c.lam for c in s.runs.values() if c.mode == "ewc-all" and c.seed == 1} - {200.0}
    assert calibrated == ({REPORT_SCALE_CALIBRATED_LAM} - {None, 200.0})
    assert len(s.runs) == 8 + 2 + len(calibrated)
    assert all(("_lam-" in run) == (c.lam != 200.0) for run, c in s.runs.items())
    paper = suite("paper")
    assert paper.runs == {f"{m}/seed-0": make_config("paper", mode=m) for m in ("none", "ewc-all", "ewc-previous")}
    assert {(c.epochs, c.train_size, c.lam) for c in paper.runs.values()} == {(30, 60000, 200.0)}


def test_report_scales_calibrated_lambda_is_the_best_of_its_committed_grid_or_not_yet_set():
    """The second λ of report-scale is data, not a choice made in code: None while any grid run (ewc-all, seed 0) is
    not complete in the checkout's results, then the grid λ with the highest ACC."""
    s = suite("report-scale")
    grid = {run: c for run, c in s.runs.items() if c.mode == "ewc-all" and c.seed == 0}
    root = results_root()
    if not all(status(c, s.path(run, root)) == "done" for run, c in grid.items()):
        assert REPORT_SCALE_CALIBRATED_LAM is None
        return
    acc = {c.lam: json.loads(s.path(run, root).read_text())["metrics"]["acc"] for run, c in grid.items()}
    assert REPORT_SCALE_CALIBRATED_LAM == max(acc, key=acc.get), acc


def test_vandeven2019_is_their_protocol_or_a_clear_error_before_runconfig_has_its_fields():
    needed = {"gamma", "iterations", "permute_first", "image_size"}
    if not needed <= set(PARAMETERS):
        with pytest.raises(ConfigError, match="suite vandeven2019 cannot be built"):
            suite("vandeven2019")
        return
    s = suite("vandeven2019")
    for c in s.runs.values():
        assert (c.arch, c.mlp_hidden, c.tasks, c.iterations, c.batch_size, c.lr, c.image_size, c.permute_first) == (
            "mlp",
            (1000, 1000),
            10,
            5000,
            128,
            1e-4,
            32,
            True,
        )
        assert (c.fisher_kind, c.fisher_samples, c.gamma) == ("empirical", 60000, 1.0)
    for mode, chosen in (("ewc-all", 500.0), ("ewc-online", 1000.0)):
        grid = {c.lam for c in s.runs.values() if c.mode == mode and c.seed == 0}
        assert grid == {100.0, 1000.0, 1e4, chosen}  # the decades around their choice, and their choice
        assert {c.lam for c in s.runs.values() if c.mode == mode and c.seed > 0} == {chosen}
    assert {c.seed for c in s.runs.values()} == {0, 1, 2}
    assert len(s.runs) == 3 + (3 + 3) + (3 + 2)  # none; each mode's grid and chosen seeds (1,000 is both for online)


def test_calibration_candidates_keep_their_runs_and_the_profile_is_the_chosen_one():
    """The first candidates' 25 runs keep the names and configs they were trained with (4,000 images x 4 epochs, no
    iterations) whatever the profile says now; every candidate takes 250 steps per task; and the quick profile is
    the candidate with 16,000 images seen once, so the book's main runs are that candidate's runs."""
    from ewc.suites import CALIBRATION_CANDIDATES

    runs = suite("calibration").runs
    assert len(runs) == 45
    first = runs["ewc-all_lam-500/seed-2"]
    assert (first.train_size, first.epochs, first.iterations, first.lam) == (4000, 4, 0, 500.0)
    assert runs["none/seed-0"].train_size == 4000 and runs["ewc-previous_lam-1000/seed-4"].iterations == 0
    steps = {-(-c.train_size // c.batch_size) * c.epochs if not c.iterations else c.iterations for c in runs.values()}
    assert steps <= {250, 252}  # 4 epochs of ceil(4000 / 64) = 63 steps, or 250 iterations
    (chosen,) = [c for c in CALIBRATION_CANDIDATES if (c.images, c.passes, c.lam) == (16000, 1, 1000.0)]
    assert runs["ewc-all_lam-2000_images-16000/seed-4"].lam == 2000.0  # the profile's other λ, no longer 4,000 images
    for mode in chosen.modes:
        for seed in range(5):
            assert runs[f"{chosen.group(mode)}/seed-{seed}"] == make_config("quick", mode=mode, seed=seed)


def test_status_tells_done_partial_other_and_missing_apart(tmp_path):
    config = make_config("smoke", mode="none")
    out = tmp_path / "r.json"
    assert status(config, out) == "missing"
    record = {"format": "ewc-results/1", "complete": False, "config": config.to_dict()}
    out.write_text(json.dumps(record))
    assert status(config, out) == "partial"
    out.write_text(json.dumps(record | {"complete": True}))
    assert status(config, out) == "done"
    out.write_text(json.dumps(record | {"complete": True, "config": make_config("smoke", mode="l2").to_dict()}))
    assert status(config, out) == "other"
    out.write_text("not json")
    assert status(config, out) == "other"


def test_suite_status_counts_the_runs_gives_their_cost_and_the_command_for_the_rest():
    from ewc.chapter import suite_status

    timings = {"train_s": [300.0, 290.0], "eval_s": [5.0, 5.0], "fisher_s": [60.0], "total_s": 1.0}  # 11 min
    text = suite_status("tiny", ["ewc-all/seed-1"], {"none": {0: {"timings": timings}}}).data
    assert text.startswith("**3 of 4 runs of suite `tiny` are complete** (each took 11 min of training, Fisher")
    assert "`python -m ewc suite tiny`" in text and text.endswith("Missing: EWC on every previous task, seed 1.")
    text = suite_status("tiny", ["none/seed-0", "ewc-all/seed-1"]).data
    assert text.endswith("Missing: no penalty, seed 0; EWC on every previous task, seed 1.")
    assert suite_status("tiny", []).data == "All 4 runs of suite `tiny` are complete."


def test_suite_lambda_grid_finds_each_declared_lambda_run_under_the_suites_own_names():
    """report-scale names its λ-200 runs without λ (``ewc-all/seed-0``), vandeven2019 every EWC run with it; the grid
    holds every λ the suite declares for the mode at that seed, None where the run is not made yet."""
    from ewc.chapter import suite_lambda_grid

    done = {"metrics": {"acc": 0.9}}
    assert suite_lambda_grid("report-scale", {"ewc-all": {0: done, 1: {}}}, "ewc-all") == {
        200.0: done,
        2000.0: None,
        20000.0: None,
    }
    grid = suite_lambda_grid("vandeven2019", {"ewc-all_lam-500": {0: done}, "ewc-online_lam-100": {0: {}}}, "ewc-all")
    assert grid == {100.0: None, 1000.0: None, 10000.0: None, 500.0: done}
    assert suite_lambda_grid("vandeven2019", {"ewc-all_lam-500": {1: done}}, "ewc-all", seed=1) == {500.0: done}


@pytest.mark.parametrize("calibrated", [2000.0, 200.0])
def test_suite_runs_at_gathers_one_lambdas_seeds_from_the_grid_and_the_calibrated_run(monkeypatch, calibrated):
    """At a calibrated λ of 2,000, seed 0 is the grid's run and seed 1 the calibrated one; at 200 both are the
    λ-200 runs, named without λ. Runs at another λ, of another mode or not complete are left out."""
    from ewc import suites
    from ewc.chapter import suite_runs_at

    monkeypatch.setattr(suites, "REPORT_SCALE_CALIBRATED_LAM", calibrated)
    a, b, c = ({"metrics": {"acc": x}} for x in (0.1, 0.2, 0.3))
    runs = {"ewc-all": {0: a, 1: b}, "ewc-all_lam-2000": {0: c, 1: a}, "ewc-all_lam-20000": {0: b}, "none": {2: c}}
    expected = {0: c, 1: a} if calibrated == 2000.0 else {0: a, 1: b}
    assert suite_runs_at("report-scale", runs, "ewc-all", calibrated) == expected
    assert suite_runs_at("report-scale", {"ewc-all_lam-2000": {1: a}}, "ewc-all", 2000.0) == (
        {1: a} if calibrated == 2000.0 else {}
    )


def test_the_profile_knows_its_calibration_candidate_and_which_seeds_judge_it(monkeypatch):
    """quick is the candidate with 16,000 images seen once at λ 1,000 (the test above), smoke none; the report's
    findings are judged on the whole blocks of confirmation seeds trained so far, and the plan says so."""
    from ewc import chapter, confirmation
    from ewc.suites import CONFIRMATION_RULE, CONFIRMATION_SEEDS

    assert chapter.calibration_choice("quick") == "16,000 images × 1, λ = 1,000"
    assert chapter.calibration_choice("smoke") is None
    assert CONFIRMATION_SEEDS == range(5, 5 + 10 * CONFIRMATION_RULE.blocks)
    total = 3 * len(CONFIRMATION_SEEDS)
    monkeypatch.setattr(chapter, "suite_progress", lambda name: ({}, ["none/seed-5", "ewc-all/seed-9"]))
    monkeypatch.setattr(confirmation, "confirmation_trace", lambda profile: [])
    last = CONFIRMATION_SEEDS[-1]
    none_yet = confirmation.seed_plan("quick").data
    assert none_yet.startswith(
        f"The report's findings will be judged on seeds 5–{last}, which the calibration on seeds 0–4 never saw, "
        f"once their {total} runs are trained ({total - 2} so far); until then on seeds 0–4. Seeds 5–14 came first"
    )
    monkeypatch.setattr(confirmation, "confirmation_trace", lambda profile: [(range(5, 15), 0.8475)])
    partial = confirmation.seed_plan("quick").data
    assert partial.startswith(
        f"The report's findings are judged on seeds 5–14, which the calibration on seeds 0–4 never saw ({total - 2} "
        f"of the {total} runs of seeds 5–{last} are trained)."
    )
    assert partial.endswith("A rerun keeps them all in 85 % of draws on seeds 5–14.")
    monkeypatch.setattr(chapter, "suite_progress", lambda name: ({}, []))
    trace = [(range(5, 15), 0.8475), (range(5, 25), 0.97)]
    monkeypatch.setattr(confirmation, "confirmation_trace", lambda profile: trace)
    whole = confirmation.seed_plan("quick").data
    assert whole.startswith(f"The report's findings are judged on seeds 5–{last}, which the calibration on seeds 0–4")
    assert whole.endswith("A rerun keeps them all in 85 % of draws on seeds 5–14, 97 % on 5–24.")
    trace[1:] = [(range(5, 25), 0.4375), (range(5, 35), 0.6125)]
    capped = confirmation.seed_plan("quick").data
    assert capped.endswith("on 5–34. The cap stopped it: about 39 % of reruns should change a primary verdict.")
    smoke = confirmation.seed_plan("smoke").data
    assert smoke == "At the `smoke` profile the report's findings are judged on its seeds 0, 1."
