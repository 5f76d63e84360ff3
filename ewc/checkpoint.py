"""Snapshots of a run between tasks: weights (with dropout RNG state), Adam state, consolidation state and the
results so far, in one ``.npz`` written atomically. Used to resume killed runs and to share an identical task 1
between experiments."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path

import numpy as np

from ewc.config import normalize_stored
from ewc.errors import ConfigError
from ewc.files import atomic_write

FORMAT = "ewc-checkpoint/3"  # 3: Adam moments as one complex64 m + i v per variable; 2: as two float32; 1: Keras Adam


def save(path: str | os.PathLike, trainer, meta: dict, consolidation: bool = True) -> None:
    """Write ``trainer``'s state and the JSON-able ``meta`` to ``path`` (temp file + rename). Without
    ``consolidation`` the penalty state is left out (a task-1 snapshot, shared by runs of different modes).

    The file is what ``np.savez`` writes, but each variable is copied out of TensorFlow only when its turn comes and
    dropped once written, so a snapshot costs one variable's memory at a time rather than the whole state's (for
    EWC on every previous task of the CNN, four tasks' Fisher diagonals and anchors: hundreds of MB at the run's
    peak)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c = trainer.consolidation
    variables = [(f"model_{i}", v) for i, v in enumerate(trainer.model.variables)]
    variables += [(f"optimizer_{i}", v) for i, v in enumerate(trainer.optimizer.variables)]
    if consolidation:
        variables += [(f"importance_{i}", v) for i, v in enumerate(c.importance)]
        variables += [(f"anchor_{i}", v) for i, v in enumerate(c.anchor)]
    meta = {"format": FORMAT, "tasks_consolidated": c.tasks_consolidated, **meta}
    with atomic_write(path) as f, zipfile.ZipFile(f, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, variable in variables:
            _write_member(z, name, variable.numpy())
        _write_member(z, "meta", np.frombuffer(json.dumps(meta).encode(), np.uint8))


def _write_member(z: zipfile.ZipFile, name: str, array: np.ndarray) -> None:
    """One ``name.npy`` member of an ``.npz``, as ``np.savez`` writes it."""
    with z.open(f"{name}.npy", mode="w", force_zip64=True) as member:
        np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def read_meta(path: str | os.PathLike) -> dict:
    """The JSON metadata of a snapshot; ConfigError if it is unreadable."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes())
    except Exception as exc:
        raise ConfigError(f"checkpoint {path} is unreadable ({type(exc).__name__}); rerun with --fresh") from None
    if meta.get("format") != FORMAT:
        found = meta.get("format")
        what = (
            f"was written by another version of ewc ({found})"
            if str(found).startswith("ewc-checkpoint/")
            else "is not an ewc checkpoint"
        )
        raise ConfigError(f"{path} {what}; rerun with --fresh")
    return meta


def checkpoint_path(out: str | os.PathLike) -> Path:
    """Where a run writing results to ``out`` keeps its snapshot between tasks: ``out.ckpt.npz``."""
    return Path(f"{out}.ckpt.npz")


def check_resumable(path: str | os.PathLike, config) -> dict:
    """The metadata of a snapshot that a run of ``config`` (a RunConfig) may resume; ConfigError if the file is
    unreadable, from another format, or from a run with other parameters (naming them). Needs no TensorFlow."""
    meta = read_meta(path)
    stored = normalize_stored(meta["config"])  # written before later fields existed: their defaults
    if stored != config.to_dict():
        changed = sorted(k for k, v in config.to_dict().items() if stored.get(k) != v)
        raise ConfigError(
            f"checkpoint {path} is from a run with other parameters ({', '.join(changed)}); "
            "rerun with --fresh to start over"
        )
    return meta


def restore(path: str | os.PathLike, trainer) -> dict:
    """Load a snapshot into ``trainer`` (built from the same config); returns its metadata."""
    meta = read_meta(path)
    with np.load(path, allow_pickle=False) as npz:
        for prefix, variables in (("model", trainer.model.variables), ("optimizer", trainer.optimizer.variables)):
            for i, v in enumerate(variables):
                v.assign(npz[f"{prefix}_{i}"])
        n = len(trainer.consolidation.importance)
        if "importance_0" not in npz.files:
            return meta
        trainer.consolidation.load_state(
            {
                "importance": [npz[f"importance_{i}"] for i in range(n)],
                "anchor": [npz[f"anchor_{i}"] for i in range(n)],
                "tasks_consolidated": meta["tasks_consolidated"],
            }
        )
    return meta


def key(values: dict) -> str:
    """A short stable hash of JSON-able ``values`` (for cache file names)."""
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]
