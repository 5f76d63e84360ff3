"""ewc.xla_barrier: values pass through a compiled optimization barrier unchanged, the barrier is really in the
compiled program, and a TensorFlow that moved the private API gives one clear error."""

import importlib
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from helpers import ROOT

from ewc.errors import EwcError
from ewc.xla_barrier import MODULE, optimization_barrier


@tf.function(jit_compile=True)
def barrier_of_sum(a, b):
    return optimization_barrier(a + b)


@pytest.mark.parametrize("dtype", [np.float32, np.complex64])
def test_values_pass_through_unchanged_when_compiled(dtype):
    rng = np.random.default_rng(0)
    a, b = (
        rng.normal(size=(3, 4, 5)) + (1j * rng.normal(size=(3, 4, 5)) if dtype == np.complex64 else 0) for _ in range(2)
    )
    a, b = a.astype(dtype), b.astype(dtype)
    out = barrier_of_sum(tf.constant(a), tf.constant(b)).numpy()
    assert out.dtype == dtype and out.shape == (3, 4, 5)
    np.testing.assert_array_equal(out, a + b)  # bit for bit: a barrier computes nothing


def test_the_barrier_is_in_the_compiled_program():
    a = tf.constant([1.0, 2.0])
    hlo = barrier_of_sum.experimental_get_compiler_ir(a, a)(stage="hlo")
    assert " opt-barrier(" in hlo  # an identity would pass the value test but leave XLA free to recompute


def test_missing_module_is_one_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, MODULE, None)  # how Python reports a module that cannot be imported
    with pytest.raises(EwcError) as info:
        optimization_barrier(tf.constant([1.0]))
    message = str(info.value)
    assert "\n" not in message
    assert f"{MODULE}.optimization_barrier" in message and f"TensorFlow {tf.__version__}" in message
    assert "ModuleNotFoundError" in message


def test_missing_function_is_one_clear_error(monkeypatch):
    monkeypatch.delattr(importlib.import_module(MODULE), "optimization_barrier")
    with pytest.raises(EwcError, match=f"{MODULE}.optimization_barrier.*TensorFlow {tf.__version__}.*AttributeError"):
        optimization_barrier(tf.constant([1.0]))


@pytest.mark.slow
def test_importing_the_optimizer_does_not_need_the_private_module():
    """The private import happens on first use, so ewc.optimizer still imports when TensorFlow moved it."""
    code = (
        "import sys, tensorflow\n"  # TensorFlow imports the module itself: block it only afterwards
        f"sys.modules[{MODULE!r}] = None\nimport ewc.optimizer\nprint('imported')"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert proc.returncode == 0 and proc.stdout.strip() == "imported", proc.stderr
