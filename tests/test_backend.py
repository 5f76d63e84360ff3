"""Keras gets TensorFlow's backend from ewc whatever keras.json says; an environment or an already imported Keras
asking for another backend is refused in one line before Keras fails on it."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from helpers import ROOT

from ewc.backend import require_tensorflow_backend
from ewc.errors import EwcError


def base_env(home: Path | None = None) -> dict:
    """A clean environment: no Keras settings inherited from the person running the tests; ``home`` replaces $HOME
    (the real one is kept where a run needs its MNIST cache)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    return env | {"TF_CPP_MIN_LOG_LEVEL": "2"} | ({"HOME": str(home)} if home else {})


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture
def keras_not_imported(monkeypatch):
    """As in a fresh process: nothing has imported Keras yet."""
    monkeypatch.delitem(sys.modules, "keras", raising=False)


def test_the_environment_is_set_before_keras_loads(keras_not_imported, monkeypatch):
    monkeypatch.delenv("KERAS_BACKEND", raising=False)
    require_tensorflow_backend()
    assert os.environ["KERAS_BACKEND"] == "tensorflow"


def test_another_backend_in_the_environment_is_refused_in_one_line(keras_not_imported, monkeypatch):
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    with pytest.raises(EwcError) as info:
        require_tensorflow_backend()
    assert "\n" not in str(info.value)
    assert "KERAS_BACKEND asks Keras for the 'jax' backend" in str(info.value)
    assert os.environ["KERAS_BACKEND"] == "jax"  # refused, not overridden


def test_an_imported_keras_is_asked_directly(monkeypatch):
    fake = types.SimpleNamespace(config=types.SimpleNamespace(backend=lambda: "jax"))
    monkeypatch.setitem(sys.modules, "keras", fake)
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(EwcError, match="already imported with the 'jax' backend"):
        require_tensorflow_backend()
    fake.config.backend = lambda: "tensorflow"
    monkeypatch.setenv("KERAS_BACKEND", "jax")
    assert require_tensorflow_backend() is None  # settings changed after the import don't matter


@pytest.mark.slow
def test_keras_json_naming_jax_no_longer_matters(tmp_path):
    """End to end in a fresh interpreter: a keras.json asking for jax, no KERAS_BACKEND; ewc's model module loads
    Keras on TensorFlow (Keras itself would have tried jax, which is not installed)."""
    home = tmp_path / "kh"
    home.mkdir()
    (home / "keras.json").write_text('{"backend": "jax"}')
    proc = run(
        ["-c", "import ewc.model, keras, json; print(json.dumps(keras.config.backend()))"],
        base_env(tmp_path) | {"KERAS_HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == "tensorflow"


@pytest.mark.slow
def test_the_cli_refuses_jax_from_the_environment(tmp_path):
    out = tmp_path / "r.json"
    proc = run(
        ["-m", "ewc", "run", "--profile", "smoke", "--out", str(out)],
        base_env(tmp_path) | {"KERAS_BACKEND": "jax", "KERAS_HOME": str(tmp_path)},
    )
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: KERAS_BACKEND asks Keras for the 'jax' backend"), lines[0]
    assert not out.exists()


@pytest.mark.slow
def test_any_ewc_module_sets_the_backend_first(tmp_path):
    """ewc.fisher imports Keras without a check of its own: the package sets the backend on import."""
    home = tmp_path / "kh"
    home.mkdir()
    (home / "keras.json").write_text('{"backend": "jax"}')
    proc = run(
        ["-c", "import ewc.fisher, keras, json; print(json.dumps(keras.config.backend()))"],
        base_env(tmp_path) | {"KERAS_HOME": str(home)},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1]) == "tensorflow"
