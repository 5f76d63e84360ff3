"""TensorFlow's C++ start-up lines never reach the user's stderr, and nothing else is hidden."""

import os
import subprocess
import sys

import pytest
from helpers import ROOT, run_cli

from ewc.console import is_noise

NOISY = ROOT / "tests" / "noisy_tensorflow"


def noisy_env():
    """An environment in which importing TensorFlow prints its start-up chatter on descriptor 2 (as on some hosts)."""
    return {"PYTHONPATH": os.pathsep.join([str(NOISY), str(ROOT), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.slow
def test_the_fixture_really_makes_tensorflow_noisy():
    env = {**os.environ, **noisy_env(), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run([sys.executable, "-c", "import tensorflow"], env=env, capture_output=True, text=True)
    assert "absl::InitializeLog()" in proc.stderr and "oneDNN custom operations" in proc.stderr


def test_noise_patterns_drop_only_startup_lines():
    assert is_noise(b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR")
    assert is_noise(b"I0000 00:00:1796118876.859249    2333 port.cc:153] oneDNN custom operations are on.")
    assert is_noise(
        b"[IPKernelApp] WARNING | Kernel is running over TCP without encryption. Messages are not encrypted"
    )
    for kept in (
        b"E0000 00:00:1796118876.859249    2333 op_kernel.cc:1816] OP_REQUIRES failed",
        b"F0000 00:00:1796118876.859249    2333 check.cc:12] Check failed",
        b"W0000 00:00:1796118876.859249    2333 allocator.cc:120] Allocation exceeds 10% of free memory",
        b"error: no such file",
        b"Traceback (most recent call last):",
        b"I am a user line",
        b"",
    ):
        assert not is_noise(kept), kept


def test_filter_forwards_everything_else_in_order():
    code = (
        "import os, sys\n"
        "from ewc.console import quiet_native_stderr\n"
        "with quiet_native_stderr():\n"
        "    os.write(2, b'WARNING: All log messages before absl::InitializeLog() is called are written to '\n"
        "             b'STDERR\\n')\n"
        "    print('python line 1', file=sys.stderr, flush=True)\n"
        "    os.write(2, b'I0000 00:00:1.5    7 port.cc:153] oneDNN custom operations are on.\\n')\n"
        "    os.write(2, b'E0000 00:00:1.5    7 op.cc:1] a real error\\n')\n"
        "    os.system('echo child line >&2')\n"
        "    os.write(2, b'no newline at the end')\n"
        "print('after', file=sys.stderr)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines() == [
        "python line 1",
        "E0000 00:00:1.5    7 op.cc:1] a real error",
        "child line",
        "no newline at the endafter",
    ]


@pytest.mark.slow
def test_bad_input_is_one_line_even_where_tensorflow_is_noisy(tmp_path):
    out = tmp_path / "r.json"
    (tmp_path / "r.json.ckpt.npz").write_bytes(b"junk")
    for args, message in (
        (["--mnist", str(tmp_path / "missing.npz")], "no such file"),
        ([], "is unreadable"),
        (["--lam", "-1"], "lam must be >= 0"),
    ):
        proc = run_cli("run", "--profile", "smoke", *args, "--out", str(out), env=noisy_env())
        assert proc.returncode == 2
        assert proc.stderr.splitlines() == [proc.stderr.strip()] and proc.stderr.startswith("error: ")
        assert message in proc.stderr
        assert not out.exists()


@pytest.mark.slow
def test_a_run_prints_no_tensorflow_chatter(tmp_path):
    out = tmp_path / "r.json"
    proc = run_cli(
        "run",
        "--profile",
        "smoke",
        "--tasks",
        "2",
        "--epochs",
        "1",
        "--no-progress",
        "--out",
        str(out),
        env=noisy_env(),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "", proc.stderr
    assert out.is_file()


def test_progress_bypasses_the_line_filter_so_it_is_live_and_children_stay_filtered(tmp_path):
    """A progress display redraws one line with carriage returns: through the line filter it would appear only when
    the line ends, and a child's start-up line written after a redraw would join it and escape. It goes to the
    terminal directly, at once; the child's noise on descriptor 2 is still dropped."""
    script = tmp_path / "bar.py"
    script.write_text(
        "import os, subprocess, sys, time\n"
        "from ewc.console import progress_stream, quiet_native_stderr\n"
        "with quiet_native_stderr():\n"
        "    bar = progress_stream()\n"
        "    bar.write('\\r 10%|bar'); bar.flush()\n"
        "    time.sleep(0.5)\n"
        "    print('mid:', open(sys.argv[1]).read().count('10%|bar'), flush=True)\n"
        "    subprocess.run([sys.executable, '-c', 'import os; os.write(2, b\"WARNING: All log messages before "
        "absl::InitializeLog() is called are written to STDERR\\\\n\")'])\n"
        "    bar.write('\\r100%|bar\\n'); bar.flush()\n"
        "    print('a real error line', file=sys.stderr)\n"
    )
    err = tmp_path / "stderr.txt"
    with open(err, "w") as f:
        proc = subprocess.run(
            [sys.executable, str(script), str(err)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stderr=f,
            stdout=subprocess.PIPE,
            text=True,
        )
    assert proc.returncode == 0 and proc.stdout == "mid: 1\n"  # the redraw reached the terminal before its line ended
    text = err.read_text()
    assert "absl" not in text and "a real error line" in text and text.count("|bar") == 2
