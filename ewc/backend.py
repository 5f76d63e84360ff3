"""Which Keras backend this process would get, found without importing Keras: ewc needs TensorFlow's.

Keras picks its backend once, on first import, as ``keras/src/backend/config.py`` does: ``$KERAS_BACKEND`` if set
and not empty, else the ``"backend"`` entry of ``keras.json`` in ``$KERAS_HOME`` (default ``~/.keras``, or
``/tmp/.keras`` when the home directory is not writable), else TensorFlow; a ``keras.json`` that is not valid JSON is
ignored. The trainer, optimizer, Fisher and penalty are TensorFlow code, so any other backend would fail deep inside
Keras or TensorFlow; checking first turns that into one sentence naming the setting to change.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from ewc.errors import EwcError

REQUIRED = "tensorflow"


def keras_config_path(environ: Mapping[str, str] | None = None) -> Path:
    """The ``keras.json`` Keras reads: ``$KERAS_HOME/keras.json``, else ``~/.keras/keras.json`` (``/tmp/.keras``
    when the home directory is not writable)."""
    environ = os.environ if environ is None else environ
    if "KERAS_HOME" in environ:
        home = environ["KERAS_HOME"]
    else:
        base = os.path.expanduser("~")
        home = os.path.join(base if os.access(base, os.W_OK) else "/tmp", ".keras")
    return Path(os.path.expanduser(os.path.join(home, "keras.json")))


def requested_backend(environ: Mapping[str, str] | None = None) -> tuple[object, str]:
    """The backend Keras would load and where that choice comes from: ``(name, source)``, where ``source`` is
    ``"KERAS_BACKEND"``, the path of a ``keras.json``, or ``"default"``. ``name`` is whatever the setting holds
    (a ``keras.json`` may hold a non-string).

    Raises:
        EwcError: ``keras.json`` exists but cannot be read, or holds valid JSON that is not an object (Keras itself
            would fail on it with a traceback).
    """
    environ = os.environ if environ is None else environ
    if environ.get("KERAS_BACKEND"):  # set and not empty wins over keras.json, as in Keras
        return environ["KERAS_BACKEND"], "KERAS_BACKEND"
    path = keras_config_path(environ)
    if not os.path.exists(path):
        return REQUIRED, "default"
    try:
        with open(path) as f:
            config = json.load(f)
    except ValueError:  # not JSON (or not text): Keras ignores the file and uses its default
        return REQUIRED, "default"
    except OSError as exc:
        raise EwcError(
            f"cannot read Keras' settings file {path} ({exc.strerror or type(exc).__name__}); fix or delete it"
        ) from None
    if not isinstance(config, dict):
        raise EwcError(
            f"Keras' settings file {path} holds a JSON {type(config).__name__}, not an object; fix or delete it"
        )
    return (config["backend"], str(path)) if "backend" in config else (REQUIRED, "default")


def require_tensorflow_backend(environ: Mapping[str, str] | None = None) -> None:
    """Return if Keras runs (or, not yet imported, would run) on TensorFlow; otherwise raise EwcError with one
    sentence: the backend asked for, where, and what to set.

    Call it before ``import keras``: Keras cannot switch backends once imported, and importing it with a backend
    that is not installed fails inside Keras. If Keras is already imported, its actual backend is checked instead.
    """
    keras = sys.modules.get("keras")
    backend = getattr(getattr(keras, "config", None), "backend", None)
    if callable(backend):
        name = backend()
        if name != REQUIRED:
            raise EwcError(
                f"Keras was already imported with the {name!r} backend, but ewc needs {REQUIRED!r}; "
                f"restart Python with KERAS_BACKEND={REQUIRED}"
            )
        return
    name, source = requested_backend(environ)
    if name == REQUIRED:
        return
    if source == "KERAS_BACKEND":
        raise EwcError(
            f"KERAS_BACKEND asks Keras for the {name!r} backend, but ewc needs {REQUIRED!r}; "
            f"set KERAS_BACKEND={REQUIRED} or unset it"
        )
    raise EwcError(
        f"{source} asks Keras for the {name!r} backend, but ewc needs {REQUIRED!r}; set "
        f'"backend": "{REQUIRED}" there, or KERAS_BACKEND={REQUIRED} (which overrides it)'
    )
