"""Bad input gets one clear line on stderr, exit status 2, no traceback and no file; killed runs resume exactly."""

import json
import os
import signal
import subprocess
import sys
import time
import types

import numpy as np
import pytest
from helpers import ROOT, run_cli

from ewc import cli

BAD_RUN_OPTIONS = {
    "negative lambda": (["--lam", "-1"], "lam must be >= 0"),
    "NaN lambda": (["--lam", "nan"], "lam must be a finite number"),
    "zero epochs": (["--epochs", "0"], "epochs must be >= 1"),
    "no tasks": (["--tasks", "0"], "tasks must be >= 1"),
    "zero batch": (["--batch-size", "0"], "batch size must be >= 1"),
    "negative batch": (["--batch-size", "-64"], "batch size must be >= 1"),
    "zero learning rate": (["--lr", "0"], "lr must be > 0"),
    "unknown mode": (["--mode", "ewc-some"], "unknown mode 'ewc-some'"),
    "unknown permutation": (["--permutation", "rotate"], "unknown permutation 'rotate'"),
    "unknown arch": (["--arch", "resnet"], "unknown arch 'resnet'"),
    "unknown profile": (["--profile", "fast"], "unknown profile 'fast'"),
    "unknown fisher kind": (["--fisher-kind", "true"], "unknown fisher kind 'true'"),
    "block size not dividing 28": (["--permutation", "block", "--block-size", "5"], "block size must divide 28"),
    "train size too large": (["--train-size", "60001"], "train size must be between 1 and 60000"),
    "train size zero": (["--train-size", "0"], "train size must be between 1 and 60000"),
    "test size too large": (["--test-size", "10001"], "test size must be between 1 and 10000"),
    "test size negative": (["--test-size", "-5"], "test size must be between 1 and 10000"),
    "fisher samples above train size": (["--train-size", "500", "--fisher-samples", "501"], "fisher samples must be"),
    "fisher samples zero": (["--fisher-samples", "0"], "fisher samples must be"),
    "not a number": (["--lr", "fast"], "invalid float value"),
    "gamma outside online": (["--mode", "ewc-all", "--gamma", "0.5"], "mode ewc-all takes only gamma 1"),
    "gamma not a number": (["--mode", "ewc-online", "--gamma", "half"], "invalid float value"),
    "gamma above one": (["--mode", "ewc-online", "--gamma", "2"], "gamma must be in (0, 1]"),
    "fewer iterations than rows": (["--epochs", "3", "--iterations", "2"], "iterations must be 0 or at least epochs"),
    "image size 30": (["--image-size", "30"], "image size must be 28 or 32"),
    "block not dividing 32": (
        ["--image-size", "32", "--permutation", "block", "--block-size", "7"],
        "block size must divide 32",
    ),
    "a value after a flag": (["--permute-first", "yes"], "unrecognized arguments: yes"),
    "unknown option": (["--lamda", "3"], "unrecognized arguments"),
}


def main_here(capsys, *argv):
    """``python -m ewc ARGV`` in this process (``cli.main``): its exit status and what it printed, as a subprocess's
    would be. ``test_bad_input_in_a_fresh_interpreter_is_one_line_without_tensorflow`` checks one case end to end."""
    try:
        code = cli.main(list(argv))
    except SystemExit as exc:  # argparse's --help
        code = exc.code
    out, err = capsys.readouterr()
    return types.SimpleNamespace(returncode=code, stdout=out, stderr=err)


def assert_clean_failure(proc, message, out=None):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and message in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    if out is not None:
        assert not out.exists() and not list(out.parent.glob(out.name + "*"))


@pytest.mark.parametrize("case", BAD_RUN_OPTIONS)
def test_bad_run_option(case, tmp_path, capsys):
    options, message = BAD_RUN_OPTIONS[case]
    out = tmp_path / "r.json"
    assert_clean_failure(main_here(capsys, "run", "--profile", "smoke", *options, "--out", str(out)), message, out)


def test_bad_input_in_a_fresh_interpreter_is_one_line_without_tensorflow(tmp_path):
    """End to end, as a user meets it: ``python -m ewc`` with a bad option prints one line and exits 2 before
    TensorFlow is imported (so none of its C++ start-up lines can reach stderr on any host)."""
    out = tmp_path / "r.json"
    argv = ["run", "--profile", "smoke", "--lam", "-1", "--out", str(out)]
    assert_clean_failure(run_cli(*argv), "lam must be >= 0", out)
    probe = (
        "import runpy, sys\n"
        f"sys.argv = ['ewc', *{argv!r}]\n"
        "try:\n    runpy.run_module('ewc', run_name='__main__')\n"
        "except SystemExit as exc:\n"
        "    print(exc.code, sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.stdout.split() == ["2", "[]"], proc.stdout + proc.stderr


def test_out_in_missing_directory(tmp_path, capsys):
    out = tmp_path / "nowhere" / "r.json"
    assert_clean_failure(
        main_here(capsys, "run", "--profile", "smoke", "--out", str(out)), "output directory does not exist"
    )
    assert not (tmp_path / "nowhere").exists()


def test_out_under_a_file(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert_clean_failure(
        main_here(capsys, "run", "--profile", "smoke", "--out", str(tmp_path / "file/r.json")),
        "output directory does not exist",
    )


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only-permission directory")
def test_out_in_unwritable_directory(tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    assert_clean_failure(
        main_here(capsys, "run", "--profile", "smoke", "--out", str(locked / "r.json")), "not writable"
    )


def test_bad_mnist_files(tmp_path, mnist, capsys):
    out = tmp_path / "r.json"

    def attempt(path, message):
        assert_clean_failure(
            main_here(capsys, "run", "--profile", "smoke", "--mnist", str(path), "--out", str(out)), message, out
        )

    attempt(tmp_path / "missing.npz", "no such file")
    good = tmp_path / "good.npz"
    np.savez(good, **mnist.arrays())
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[:100_000])
    attempt(truncated, "not a readable .npz")
    np.savez(tmp_path / "shape.npz", **(mnist.arrays() | {"x_train": mnist.x_train[:, :27]}))
    attempt(tmp_path / "shape.npz", "expected uint8[60000, 28, 28]")
    flipped = mnist.y_test.copy()
    flipped[0] = (flipped[0] + 1) % 10
    np.savez(tmp_path / "hash.npz", **(mnist.arrays() | {"y_test": flipped}))
    attempt(tmp_path / "hash.npz", "sha256 mismatch")


def test_help_explains_the_options(capsys):
    proc = main_here(capsys, "run", "--help")
    assert proc.returncode == 0
    for words in (
        "--mode",
        "--profile",
        "--lam",
        "Penalty strength",
        "--block-size",
        "paper",
        "--gamma",
        "--iterations",
        "--permute-first, --no-permute-first",
        "--image-size",
    ):
        assert words in proc.stdout


def slow_smoke(out):
    return [
        sys.executable,
        "-m",
        "ewc",
        "run",
        "--profile",
        "smoke",
        "--mode",
        "ewc-all",
        "--tasks",
        "4",
        "--epochs",
        "3",
        "--train-size",
        "3000",
        "--no-progress",
        "--out",
        str(out),
    ]


@pytest.mark.slow
def test_killed_run_resumes_to_the_same_results(tmp_path):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    reference = tmp_path / "uninterrupted.json"
    assert subprocess.run(slow_smoke(reference), cwd=ROOT, env=env, capture_output=True).returncode == 0

    out = tmp_path / "killed.json"
    checkpoint = tmp_path / "killed.json.ckpt.npz"
    proc = subprocess.Popen(slow_smoke(out), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 300
    while not (checkpoint.exists() and out.exists()) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)  # both written after task 1: the checkpoint, then the partial results
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert checkpoint.exists(), "the run ended before its first checkpoint"
    partial = json.loads(out.read_text())
    assert partial["complete"] is False  # a killed run never leaves a file that looks complete

    resumed = subprocess.run(slow_smoke(out), cwd=ROOT, env=env, capture_output=True, text=True)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming from" in resumed.stdout
    a, b = json.loads(reference.read_text()), json.loads(out.read_text())
    assert b["complete"] is True and b["resumed_from_task"] >= 1
    assert a["accuracy"] == b["accuracy"] and a["train_loss"] == b["train_loss"]
    assert not checkpoint.exists()


@pytest.mark.slow
def test_run_fresh_over_a_refused_checkpoint_writes_a_well_formed_results_file(tmp_path):
    """``run --fresh`` trains over junk that would be refused without it (test_console's noisy bad-input test), and
    the results file it writes is well formed: one accuracy row per epoch, null before a task starts, the task
    matrix the rows at each task's end, a Fisher per consolidation."""
    out = tmp_path / "r.json"
    (tmp_path / "r.json.ckpt.npz").write_bytes(b"")  # stale junk where a checkpoint would be
    fresh = run_cli("run", "--profile", "smoke", "--mode", "ewc-all", "--out", str(out), "--fresh", "--no-progress")
    assert fresh.returncode == 0, fresh.stderr
    assert not (tmp_path / "r.json.ckpt.npz").exists()
    result = json.loads(out.read_text())
    config = result["config"]
    assert result["complete"] is True and config["mode"] == "ewc-all" and config["profile"] == "smoke"
    tasks, epochs = config["tasks"], config["epochs"]
    acc = result["accuracy"]
    assert len(acc) == tasks * epochs and all(len(row) == tasks for row in acc)
    for e, row in enumerate(acc):
        current = e // epochs
        assert all(v is None for v in row[current + 1 :])  # null before a task starts
        assert all(0.0 <= v <= 1.0 for v in row[: current + 1])
    assert result["task_matrix"] == [acc[(i + 1) * epochs - 1] for i in range(tasks)]
    assert set(result["metrics"]) >= {"acc", "bwt", "forgetting", "just_trained"}
    assert len(result["timings"]["fisher_s"]) == tasks - 1 and len(result["timings"]["train_s"]) == tasks
    assert {"tensorflow", "keras", "numpy", "python"} <= set(result["versions"])
    assert f"wrote {out}" in fresh.stdout


def test_checkpoint_config_mismatch_message(tmp_path, mnist):
    from ewc import checkpoint
    from ewc.config import make_config
    from ewc.errors import ConfigError
    from ewc.experiment import run_resumable
    from ewc.train import SequentialTrainer

    config = make_config("smoke", tasks=2, epochs=1)
    path = tmp_path / "c.npz"
    checkpoint.save(path, SequentialTrainer(config), {"config": config.to_dict(), "record": {}})
    with pytest.raises(ConfigError, match=r"other parameters \(lam\)"):
        run_resumable(make_config("smoke", tasks=2, epochs=1, lam=5.0), mnist, checkpoint=path)
