"""Atomic writes: a failing writer leaves the old file and no temporary behind."""

import os
import stat

import pytest

from ewc.files import atomic_write


def test_success_replaces_and_failure_keeps_the_old_file(tmp_path):
    path = tmp_path / "r.json"
    path.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(path, "w") as f:
            f.write("half")
            raise RuntimeError("killed mid-write")
    assert path.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]
    with atomic_write(path, "w") as f:
        f.write("new")
    assert path.read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["r.json"]


def test_written_files_get_the_permissions_open_gives(tmp_path):
    """Results are shared and committed: not mkstemp's private 0600, but 0666 less the umask, as ``open`` does."""
    old = os.umask(0o027)
    try:
        with atomic_write(tmp_path / "a.json", "w") as f:
            f.write("{}")
        (tmp_path / "b.json").write_text("{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == stat.S_IMODE((tmp_path / "b.json").stat().st_mode)
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o640
