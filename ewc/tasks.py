"""Task generators: task 1 is the original images (or, with ``permute_first``, a permutation of them too); tasks 2..N
are fixed pixel or block permutations.

Images are ``side`` x ``side``: MNIST's 28, or 32 after ``pad_images`` (van de Ven's protocol). A permutation is an
index array ``perm`` of shape (side^2,) applied to flattened images as ``x.reshape(len(x), -1)[:, perm]``.
Permutations come from ``numpy.random.default_rng`` (PCG64), which gives the same numbers on every machine.
"""

from __future__ import annotations

import numpy as np

from ewc.config import PERMUTATIONS as KINDS
from ewc.errors import ConfigError

SIDE = 28  # MNIST's images


def pixel_permutation(rng: np.random.Generator, side: int = SIDE) -> np.ndarray:
    """All side^2 pixels shuffled: the report's Figure 2. Returns int64 (side^2,)."""
    return rng.permutation(side * side)


def block_permutation(rng: np.random.Generator, block_size: int = 7, side: int = SIDE) -> np.ndarray:
    """The image cut into ``block_size`` x ``block_size`` blocks whose positions are shuffled, each block kept intact
    (the report's Figure 6). Returns int64 (side^2,): output pixel ``p`` takes input pixel ``perm[p]``."""
    if block_size < 1 or side % block_size:
        raise ConfigError(f"block size must divide {side}, got {block_size}")
    n = side // block_size
    block_order = rng.permutation(n * n)  # output block b shows input block block_order[b]
    grid = np.arange(side * side).reshape(n, block_size, n, block_size)  # (block row, row, block col, col)
    blocks = grid.transpose(0, 2, 1, 3).reshape(n * n, block_size, block_size)
    out = blocks[block_order].reshape(n, n, block_size, block_size).transpose(0, 2, 1, 3)
    return out.reshape(side * side)


def make_permutations(
    kind: str, n_tasks: int, seed: int, block_size: int = 7, permute_first: bool = False, side: int = SIDE
) -> np.ndarray:
    """Index arrays for ``n_tasks`` tasks, int64 (n_tasks, side^2).

    Row 0 is the identity (the original MNIST) unless ``permute_first``; then it is drawn from a stream of its own,
    so that rows 1.. are the same either way and task 1 does not depend on the number of tasks (runs of different
    lengths can share a trained task 1).
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown permutation {kind!r}; choose from {', '.join(KINDS)}")

    def draw(rng):
        return pixel_permutation(rng, side) if kind == "pixel" else block_permutation(rng, block_size, side)

    rng = np.random.default_rng([seed, 1])  # its own stream, independent of model initialisation
    first = draw(np.random.default_rng([seed, 4])) if permute_first else np.arange(side * side)
    perms = [first] + [draw(rng) for _ in range(n_tasks - 1)]
    return np.stack(perms).astype(np.int64)


def pad_images(x: np.ndarray, side: int) -> np.ndarray:
    """Images ``x`` (N, 28, 28) zero-padded equally on every side to (N, side, side); ``x`` itself when side is 28."""
    margin = (side - x.shape[1]) // 2
    if margin < 0 or x.shape[1] + 2 * margin != side or x.shape[1] != x.shape[2]:
        raise ConfigError(f"cannot pad {x.shape[1]}x{x.shape[2]} images to {side}x{side}")
    if margin == 0:
        return x
    return np.pad(x, ((0, 0), (margin, margin), (margin, margin)))


def apply_permutation(x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Permute images ``x`` (N, S, S) by ``perm`` (S^2,); returns a new (N, S, S) array of the same dtype."""
    return x.reshape(len(x), -1)[:, perm].reshape(x.shape)
