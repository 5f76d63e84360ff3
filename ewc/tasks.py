"""Task generators: task 1 is the original images; tasks 2..N are fixed pixel or block permutations.

A permutation is an index array ``perm`` of shape (784,) applied to flattened images as ``x.reshape(-1, 784)[:, perm]``.
Permutations come from ``numpy.random.default_rng(seed)`` (PCG64), which gives the same numbers on every machine.
"""

from __future__ import annotations

import numpy as np

from ewc.config import PERMUTATIONS as KINDS
from ewc.errors import ConfigError

SIDE = 28
PIXELS = SIDE * SIDE


def pixel_permutation(rng: np.random.Generator) -> np.ndarray:
    """All 784 pixels shuffled: the report's Figure 2. Returns int64 (784,)."""
    return rng.permutation(PIXELS)


def block_permutation(rng: np.random.Generator, block_size: int = 7) -> np.ndarray:
    """The image cut into ``block_size`` x ``block_size`` blocks whose positions are shuffled, each block kept intact
    (the report's Figure 6). Returns int64 (784,): output pixel ``p`` takes input pixel ``perm[p]``."""
    if block_size < 1 or SIDE % block_size:
        raise ConfigError(f"block size must divide {SIDE}, got {block_size}")
    n = SIDE // block_size
    block_order = rng.permutation(n * n)  # output block b shows input block block_order[b]
    grid = np.arange(PIXELS).reshape(n, block_size, n, block_size)  # (block row, row, block col, col)
    blocks = grid.transpose(0, 2, 1, 3).reshape(n * n, block_size, block_size)
    out = blocks[block_order].reshape(n, n, block_size, block_size).transpose(0, 2, 1, 3)
    return out.reshape(PIXELS)


def make_permutations(kind: str, n_tasks: int, seed: int, block_size: int = 7) -> np.ndarray:
    """Index arrays for ``n_tasks`` tasks, int64 (n_tasks, 784); row 0 is the identity (the original MNIST)."""
    if kind not in KINDS:
        raise ConfigError(f"unknown permutation {kind!r}; choose from {', '.join(KINDS)}")
    rng = np.random.default_rng([seed, 1])  # its own stream, independent of model initialisation
    draw = pixel_permutation if kind == "pixel" else (lambda r: block_permutation(r, block_size))
    perms = [np.arange(PIXELS)] + [draw(rng) for _ in range(n_tasks - 1)]
    return np.stack(perms).astype(np.int64)


def apply_permutation(x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Permute images ``x`` (N, 28, 28) by ``perm`` (784,); returns a new (N, 28, 28) array of the same dtype."""
    return x.reshape(len(x), PIXELS)[:, perm].reshape(x.shape)
