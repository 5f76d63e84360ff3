"""Task permutations: bijections, block structure kept by content, reproducible from the seed."""

import numpy as np
import pytest

from ewc.errors import ConfigError
from ewc.tasks import apply_permutation, block_permutation, make_permutations, pad_images, pixel_permutation


@pytest.mark.parametrize("kind", ["pixel", "block"])
def test_first_task_is_identity_and_every_task_a_bijection(kind):
    perms = make_permutations(kind, 5, seed=0)
    assert perms.shape == (5, 784)
    np.testing.assert_array_equal(perms[0], np.arange(784))
    for p in perms:
        np.testing.assert_array_equal(np.sort(p), np.arange(784))
    assert len({p.tobytes() for p in perms}) == 5


@pytest.mark.parametrize("kind", ["pixel", "block"])
def test_reproducible_by_seed(kind):
    np.testing.assert_array_equal(make_permutations(kind, 4, seed=7), make_permutations(kind, 4, seed=7))
    assert not np.array_equal(make_permutations(kind, 4, seed=7), make_permutations(kind, 4, seed=8))


def test_permutations_are_pinned_across_machines():
    """PCG64 (numpy.random.default_rng) gives the same stream on every machine: values recorded once, here."""
    assert make_permutations("pixel", 2, seed=0)[1][:8].tolist() == [508, 638, 495, 713, 44, 233, 201, 388]
    # output block (0, 0) shows input block (2, 3), whose first row starts at pixel 14 * 28 + 21 = 413
    assert make_permutations("block", 2, seed=0)[1][:8].tolist() == [413, 414, 415, 416, 417, 418, 419, 0]
    # task 1 under permute_first, from its own stream: pixel, then block (output block (0, 0) shows input block (3, 3),
    # first row from pixel 21 * 28 + 21 = 609)
    first_pixel, first_block = (make_permutations(k, 2, seed=0, permute_first=True)[0] for k in ("pixel", "block"))
    assert first_pixel[:8].tolist() == [208, 672, 75, 643, 54, 616, 214, 353]
    assert first_block[:8].tolist() == [609, 610, 611, 612, 613, 614, 615, 210]


@pytest.mark.parametrize("block", [2, 4, 7, 14])
def test_block_permutation_moves_whole_blocks(block):
    image = np.arange(784, dtype=np.int64).reshape(1, 28, 28)  # every pixel unique: content identifies it
    perm = block_permutation(np.random.default_rng(3), block)
    out = apply_permutation(image, perm)[0]
    n = 28 // block

    def blocks(img):
        return [img[r * block : (r + 1) * block, c * block : (c + 1) * block] for r in range(n) for c in range(n)]

    source = {b.tobytes(): i for i, b in enumerate(blocks(image[0]))}
    moved = [source.get(b.tobytes()) for b in blocks(out)]
    assert None not in moved  # every output block is an input block, intact and unrotated
    assert sorted(moved) == list(range(n * n))  # ... and each input block appears once
    assert moved != list(range(n * n))


def test_blocks_of_one_pixel_are_the_pixel_permutation_and_the_default_block_is_7():
    """1 x 1 blocks shuffle pixels: the same draw from the same generator as a pixel permutation. Without a block
    size, the report's 7 x 7 blocks (a 4 x 4 grid)."""
    np.testing.assert_array_equal(
        block_permutation(np.random.default_rng(3), 1), pixel_permutation(np.random.default_rng(3))
    )
    np.testing.assert_array_equal(
        block_permutation(np.random.default_rng(3)), block_permutation(np.random.default_rng(3), 7)
    )


def test_unknown_permutation_is_refused_naming_the_choices():
    with pytest.raises(ConfigError, match="unknown permutation 'rotate'; choose from pixel, block"):
        make_permutations("rotate", 2, seed=0)


def test_pixel_permutation_moves_pixels_not_values():
    x = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
    perm = make_permutations("pixel", 2, seed=1)[1]
    y = apply_permutation(x, perm)
    np.testing.assert_array_equal(np.sort(y.reshape(3, -1)), np.sort(x.reshape(3, -1)))
    np.testing.assert_array_equal(y.reshape(3, -1)[:, 10], x.reshape(3, -1)[:, perm[10]])


def test_block_size_must_divide_28():
    with pytest.raises(ConfigError, match="divide 28"):
        make_permutations("block", 2, seed=0, block_size=5)


@pytest.mark.parametrize("kind", ["pixel", "block"])
def test_permute_first_permutes_task_one_and_leaves_the_others(kind):
    plain = make_permutations(kind, 4, seed=5)
    first = make_permutations(kind, 4, seed=5, permute_first=True)
    np.testing.assert_array_equal(first[1:], plain[1:])  # tasks 2..N as before
    np.testing.assert_array_equal(np.sort(first[0]), np.arange(784))  # a bijection ...
    assert not np.array_equal(first[0], np.arange(784))  # ... that moves pixels
    assert not any(np.array_equal(first[0], p) for p in plain[1:])  # a task of its own
    # independent of the number of tasks, so runs of different lengths share task 1
    np.testing.assert_array_equal(make_permutations(kind, 2, seed=5, permute_first=True)[0], first[0])


def test_padding_to_32_centres_the_image_in_zeros():
    x = np.random.default_rng(2).integers(1, 256, (3, 28, 28), dtype=np.uint8)  # no zeros inside
    padded = pad_images(x, 32)
    assert padded.shape == (3, 32, 32) and padded.dtype == np.uint8
    np.testing.assert_array_equal(padded[:, 2:30, 2:30], x)
    border = np.ones((32, 32), bool)
    border[2:30, 2:30] = False
    assert np.all(padded[:, border] == 0) and border.sum() == 32 * 32 - 28 * 28
    assert pad_images(x, 28) is x
    with pytest.raises(ConfigError, match="cannot pad 28x28 images to 31x31"):
        pad_images(x, 31)
    with pytest.raises(ConfigError, match="cannot pad 28x30 images to 32x32"):  # square images only
        pad_images(np.ones((1, 28, 30), np.uint8), 32)


@pytest.mark.parametrize("kind", ["pixel", "block"])
def test_permutations_of_32_by_32_images_cover_all_1024_pixels(kind):
    perms = make_permutations(kind, 3, seed=0, block_size=8, permute_first=True, side=32)
    assert perms.shape == (3, 1024)
    for p in perms:
        np.testing.assert_array_equal(np.sort(p), np.arange(1024))
    x = pad_images(np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8), 32)
    y = apply_permutation(x, perms[0])
    assert y.shape == (2, 32, 32)
    np.testing.assert_array_equal(y.reshape(2, -1)[:, 100], x.reshape(2, -1)[:, perms[0][100]])


@pytest.mark.parametrize("block", [2, 4, 8, 16])
def test_block_permutation_on_32_moves_whole_blocks(block):
    image = np.arange(1024, dtype=np.int64).reshape(32, 32)
    out = apply_permutation(image[None], block_permutation(np.random.default_rng(3), block, side=32))[0]
    n = 32 // block

    def blocks(img):
        return [
            img[r * block : (r + 1) * block, c * block : (c + 1) * block].tobytes() for r in range(n) for c in range(n)
        ]

    assert sorted(blocks(out)) == sorted(blocks(image)) and blocks(out) != blocks(image)


def test_block_size_must_divide_the_side():
    with pytest.raises(ConfigError, match="divide 32"):
        make_permutations("block", 2, seed=0, block_size=7, side=32)
