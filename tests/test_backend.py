"""A Keras backend other than TensorFlow is named in one line before Keras is imported, and the backend ewc reads
from the environment and keras.json is the one Keras' own configuration code picks."""

import json
import os
import subprocess
import sys
import types
from pathlib import Path

import pytest
from helpers import ROOT

from ewc.backend import keras_config_path, requested_backend, require_tensorflow_backend
from ewc.errors import EwcError

# Keras' own backend choice: its configuration module run alone (its imports of Keras stubbed), so that the answer
# comes from Keras' code even for backends whose libraries are not installed here.
KERAS_CHOICE = """
import importlib.util, json, pathlib, sys, types
config = pathlib.Path(importlib.util.find_spec("keras").origin).parent / "src" / "backend" / "config.py"
stubs = {name: types.ModuleType(name) for name in ("keras", "keras.src", "keras.src.api_export", "keras.src.backend",
                                                   "keras.src.backend.common", "keras.src.backend.common.global_state")}
stubs["keras.src.api_export"].keras_export = lambda path: (lambda f: f)
stubs["keras.src.backend.common"].global_state = stubs["keras.src.backend.common.global_state"]
stubs["keras.src.backend.common.global_state"].set_global_attribute = lambda *args, **kwargs: None
sys.modules.update(stubs)
spec = importlib.util.spec_from_file_location("keras_backend_config", config)
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(module.backend()))
"""


def keras_own_choice(env: dict) -> str:
    proc = subprocess.run([sys.executable, "-c", KERAS_CHOICE], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def base_env(home: Path | None = None) -> dict:
    """A clean environment: no Keras settings inherited from the person running the tests; ``home`` replaces $HOME
    (the real one is kept where a run needs its MNIST cache)."""
    env = {k: v for k, v in os.environ.items() if k not in ("KERAS_BACKEND", "KERAS_HOME")}
    return env | {"TF_CPP_MIN_LOG_LEVEL": "2"} | ({"HOME": str(home)} if home else {})


def write_json(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


CASES = {  # name: (environment additions, keras.json text under KERAS_HOME or None)
    "nothing set": ({}, None),
    "keras.json names jax": ({}, '{"backend": "jax"}'),
    "environment wins over keras.json": ({"KERAS_BACKEND": "torch"}, '{"backend": "jax"}'),
    "empty KERAS_BACKEND is ignored": ({"KERAS_BACKEND": ""}, '{"backend": "jax"}'),
    "malformed keras.json is ignored": ({}, '{"backend": "jax",'),
    "keras.json without a backend": ({}, '{"floatx": "float32"}'),
    "tensorflow in the environment": ({"KERAS_BACKEND": "tensorflow"}, '{"backend": "torch"}'),
}


@pytest.mark.parametrize("case", CASES)
def test_reads_the_backend_keras_would_pick(case, tmp_path):
    extra, text = CASES[case]
    env = base_env(tmp_path / "home") | {"KERAS_HOME": str(tmp_path / "kh")} | extra
    (tmp_path / "home").mkdir()
    if text is not None:
        write_json(tmp_path / "kh" / "keras.json", text)
    ours, _ = requested_backend(env)
    assert ours == keras_own_choice(env)


def test_default_keras_json_is_under_home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    env = base_env(tmp_path)
    path = write_json(tmp_path / ".keras" / "keras.json", '{"backend": "jax"}')
    assert keras_config_path(env) == path
    assert requested_backend(env) == ("jax", str(path))
    assert keras_own_choice(env) == "jax"


def test_sources_are_named(tmp_path):
    env = base_env(tmp_path) | {"KERAS_HOME": str(tmp_path)}
    assert requested_backend(env) == ("tensorflow", "default")  # absent
    path = write_json(tmp_path / "keras.json", '{"backend": "jax"}')
    assert requested_backend(env) == ("jax", str(path))
    assert requested_backend(env | {"KERAS_BACKEND": "torch"}) == ("torch", "KERAS_BACKEND")
    write_json(path, "not json at all")
    assert requested_backend(env) == ("tensorflow", "default")  # malformed: Keras ignores it


@pytest.mark.parametrize("text", ["[]", '"jax"', "null"])
def test_keras_json_that_is_not_an_object_is_an_error(text, tmp_path):
    write_json(tmp_path / "keras.json", text)
    with pytest.raises(EwcError, match="not an object"):
        requested_backend({"KERAS_HOME": str(tmp_path)})


def test_unreadable_keras_json_is_an_error(tmp_path):
    (tmp_path / "keras.json").mkdir()
    with pytest.raises(EwcError, match="cannot read Keras' settings file"):
        requested_backend({"KERAS_HOME": str(tmp_path)})


@pytest.fixture
def keras_not_imported(monkeypatch):
    """As in a fresh process: ewc's check reads the settings, not an already imported Keras."""
    monkeypatch.delitem(sys.modules, "keras", raising=False)


def test_require_names_the_environment_variable(keras_not_imported, tmp_path):
    with pytest.raises(EwcError) as info:
        require_tensorflow_backend({"KERAS_BACKEND": "jax", "KERAS_HOME": str(tmp_path)})
    message = str(info.value)
    assert "\n" not in message
    assert "KERAS_BACKEND asks Keras for the 'jax' backend" in message and "set KERAS_BACKEND=tensorflow" in message


def test_require_names_the_settings_file(keras_not_imported, tmp_path):
    path = write_json(tmp_path / "keras.json", '{"backend": "torch"}')
    with pytest.raises(EwcError) as info:
        require_tensorflow_backend({"KERAS_HOME": str(tmp_path)})
    message = str(info.value)
    assert "\n" not in message
    assert f"{path} asks Keras for the 'torch' backend" in message and '"backend": "tensorflow"' in message


def test_require_accepts_tensorflow(keras_not_imported, tmp_path):
    write_json(tmp_path / "keras.json", '{"backend": "jax"}')
    assert require_tensorflow_backend({"KERAS_BACKEND": "tensorflow", "KERAS_HOME": str(tmp_path)}) is None
    assert require_tensorflow_backend({"KERAS_HOME": str(tmp_path / "absent")}) is None


def test_an_imported_keras_is_asked_directly(monkeypatch):
    fake = types.SimpleNamespace(config=types.SimpleNamespace(backend=lambda: "jax"))
    monkeypatch.setitem(sys.modules, "keras", fake)
    with pytest.raises(EwcError, match="already imported with the 'jax' backend"):
        require_tensorflow_backend({"KERAS_BACKEND": "tensorflow"})
    fake.config.backend = lambda: "tensorflow"
    assert require_tensorflow_backend({"KERAS_BACKEND": "jax"}) is None  # settings changed after import don't matter


# ---------------------------------------------------------------------------------------------------------------
# End to end: the CLI and a notebook's imports


def run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def assert_one_error_line(proc, *fragments):
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert all(f in lines[0] for f in fragments), lines[0]


def test_cli_refuses_jax_from_the_environment(tmp_path):
    out = tmp_path / "r.json"
    proc = run(
        ["-m", "ewc", "run", "--profile", "smoke", "--out", str(out)],
        base_env(tmp_path) | {"KERAS_BACKEND": "jax", "KERAS_HOME": str(tmp_path)},
    )
    assert_one_error_line(proc, "KERAS_BACKEND", "'jax'", "KERAS_BACKEND=tensorflow")
    assert not out.exists()


def test_cli_refuses_jax_from_keras_json(tmp_path):
    out = tmp_path / "r.json"
    path = write_json(tmp_path / "kh" / "keras.json", '{"backend": "jax"}')
    proc = run(
        ["-m", "ewc", "run", "--profile", "smoke", "--out", str(out)],
        base_env(tmp_path) | {"KERAS_HOME": str(path.parent)},
    )
    assert_one_error_line(proc, str(path), "'jax'")
    assert not out.exists()


@pytest.mark.parametrize("module", ["ewc.model", "ewc.train"])
def test_notebook_imports_name_the_backend(module, tmp_path):
    """Importing the modules that import Keras raises EwcError with the sentence, before Keras fails on jax."""
    proc = run(["-c", f"import {module}"], base_env(tmp_path) | {"KERAS_BACKEND": "jax", "KERAS_HOME": str(tmp_path)})
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ewc.errors.EwcError: KERAS_BACKEND asks Keras for the 'jax' backend"), proc.stderr


def test_cli_runs_when_the_environment_says_tensorflow(tmp_path):
    """KERAS_BACKEND=tensorflow overrides a keras.json naming jax, and the smoke run completes."""
    out = tmp_path / "r.json"
    write_json(tmp_path / "kh" / "keras.json", '{"backend": "jax"}')
    proc = run(
        ["-m", "ewc", "run", "--profile", "smoke", "--no-progress", "--out", str(out)],
        base_env() | {"KERAS_BACKEND": "tensorflow", "KERAS_HOME": str(tmp_path / "kh")},
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(out.read_text())["config"]["profile"] == "smoke"
