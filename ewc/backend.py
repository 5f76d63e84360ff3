"""ewc's code is TensorFlow code: make Keras load TensorFlow's backend, and refuse in one sentence where it cannot.

Keras picks its backend once, on first import, and ``$KERAS_BACKEND`` overrides its ``keras.json``. So the package
sets ``KERAS_BACKEND=tensorflow`` before any of its modules imports Keras (a ``keras.json`` naming another backend no
longer matters), and refuses only what it cannot change: a Keras already imported with another backend, or an
environment that explicitly asks for one (the person running it meant something else; say so rather than override).
"""

from __future__ import annotations

import os
import sys

from ewc.errors import EwcError

REQUIRED = "tensorflow"


def require_tensorflow_backend() -> None:
    """Make Keras (if not imported yet) load the TensorFlow backend; call it before ``import keras``.

    Raises:
        EwcError: Keras was already imported with another backend, or ``$KERAS_BACKEND`` names another one.
    """
    keras = sys.modules.get("keras")
    backend = getattr(getattr(keras, "config", None), "backend", None)
    if callable(backend):
        if backend() != REQUIRED:
            raise EwcError(
                f"Keras was already imported with the {backend()!r} backend, but ewc needs {REQUIRED!r}; "
                f"restart Python with KERAS_BACKEND={REQUIRED}"
            )
        return
    asked = os.environ.get("KERAS_BACKEND")
    if asked and asked != REQUIRED:
        raise EwcError(
            f"KERAS_BACKEND asks Keras for the {asked!r} backend, but ewc needs {REQUIRED!r}; "
            f"set KERAS_BACKEND={REQUIRED} or unset it"
        )
    os.environ["KERAS_BACKEND"] = REQUIRED
