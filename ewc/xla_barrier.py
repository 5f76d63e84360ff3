"""XLA's optimization barrier: the one private TensorFlow API ewc uses, kept behind one function.

TensorFlow has no public optimization barrier; ``tensorflow.compiler.tf2xla.python.xla`` has one, but that module is
not public API and may move in a TensorFlow upgrade. Imported on first use, so a move shows as one error naming what
was looked for, not an ImportError when ewc is imported.
"""

from __future__ import annotations

import importlib

import tensorflow as tf

from ewc.errors import EwcError

MODULE = "tensorflow.compiler.tf2xla.python.xla"


@tf.autograph.experimental.do_not_convert  # called while a tf.function is traced: leave the import machinery alone
def optimization_barrier(tensor):
    """``tensor`` unchanged (same shape, dtype and values), as an XLA optimization barrier: XLA computes the value
    once, before the barrier, and every later reader reads it back instead of recomputing it from its inputs.

    Raises:
        EwcError: ``MODULE.optimization_barrier`` cannot be found in the installed TensorFlow.
    """
    try:
        barrier = _barrier()
    except (ImportError, AttributeError) as exc:
        raise EwcError(
            f"{MODULE}.optimization_barrier, a private TensorFlow API, is missing from TensorFlow "
            f"{_tensorflow_version()} ({type(exc).__name__}); install the TensorFlow pinned in "
            "requirements.txt, or find where it moved and update ewc/xla_barrier.py"
        ) from None
    (out,) = barrier(tensor)
    return out


def _barrier():
    return importlib.import_module(MODULE).optimization_barrier


def _tensorflow_version() -> str:
    try:
        import tensorflow as tf
    except ImportError:
        return "(not importable)"
    return tf.__version__
