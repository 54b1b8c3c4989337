"""kernels.big_arrays: big arrays reuse the memory of arrays nothing uses any more, and never that of one in use."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar.kernels import big_arrays
from minitorch_cifar.models import resnet10


PAGE = 4096  # regions start on page boundaries


@pytest.fixture
def every_array_big(monkeypatch):
    """Every array is big (fresh blocks, let go of afterwards)."""
    monkeypatch.setattr(big_arrays, "MIN_BYTES", 0)
    monkeypatch.setattr(big_arrays, "_blocks", [])
    monkeypatch.setattr(big_arrays, "_most_in_use", 0)


def address(a):
    return a.__array_interface__["data"][0]


def pages(count):
    """A float32 array of ``count`` pages."""
    return big_arrays.empty((count * PAGE // 4,), np.float32)


def test_memory_is_reused_only_once_no_view_holds_it(every_array_big):
    a = big_arrays.empty((4, 5), np.float32)
    view = a.T[1:]
    first = address(a)
    del a
    b = big_arrays.empty((20,), np.float32)  # the view still holds the first region
    assert address(b) != first and not np.shares_memory(b, view)
    del view
    c = big_arrays.empty((2, 10), np.int32)
    assert address(c) == first and c.shape == (2, 10) and c.dtype == np.int32


def test_a_free_block_serves_smaller_arrays_side_by_side(every_array_big):
    first = address(pages(3))  # gone at once: its block is free
    a, b = pages(1), pages(2)
    assert (address(a), address(b)) == (first, first + PAGE)
    assert len(big_arrays._blocks) == 1
    c = pages(1)  # no gap left: a new block
    assert len(big_arrays._blocks) == 2 and not np.shares_memory(c, a) and not np.shares_memory(c, b)


def test_arrays_in_use_never_share_memory(every_array_big):
    """Arrays of many sizes made and dropped in turn, each filled with its own number: none overwrites another."""
    rng = np.random.default_rng(0)
    alive = {}
    for step in range(200):
        if alive and rng.random() < 0.4:
            del alive[rng.choice(list(alive))]
        a = big_arrays.empty((int(rng.integers(1, 3 * PAGE)),), np.float32)
        a[:] = step
        alive[step] = a
        for number, array in alive.items():
            assert (array == number).all()


def test_blocks_never_hold_more_than_arrays_used_at_once(every_array_big):
    """A new block first lets free ones go while all of them would take more memory than arrays have used at one
    time: arrays of 2, 2, 3 and 4 pages (5 in use at most, then 7)."""
    a, b = pages(2), pages(2)
    del b
    c = pages(3)  # a and c use 5: b's free block goes
    assert sorted(len(block.memory) for block in big_arrays._blocks) == [2 * PAGE, 3 * PAGE]
    del a
    d = pages(4)  # a's free block (2) + c (3) + 4 > 7 = c and d in use: a's block goes
    assert sorted(len(block.memory) for block in big_arrays._blocks) == [3 * PAGE, 4 * PAGE]
    assert not np.shares_memory(c, d)


@pytest.mark.parametrize("big", [True, False])
def test_empty_like_keeps_the_order_of_the_axes_in_memory(big, monkeypatch):
    monkeypatch.setattr(big_arrays, "MIN_BYTES", 0 if big else 1 << 40)
    channels_last = np.zeros((2, 3, 4, 5), np.float32).transpose(0, 3, 1, 2)
    for a in (channels_last, np.zeros((3, 4)), np.zeros((3, 4)).T, np.zeros((3, 4))[:, ::2]):
        like = big_arrays.empty_like(a)
        assert like.shape == a.shape and like.dtype == a.dtype
        assert np.argsort([-s for s in like.strides]).tolist() == np.argsort([-abs(s) for s in a.strides]).tolist()
        assert like.flags.c_contiguous or like.transpose(np.argsort([-s for s in like.strides])).flags.c_contiguous


def test_empty_in_a_given_order_of_axes(every_array_big):
    a = big_arrays.empty((2, 3, 4, 5), np.float32, order=(0, 2, 3, 1))  # (N, C, H, W) channels last
    assert a.shape == (2, 3, 4, 5) and a.transpose(0, 2, 3, 1).flags.c_contiguous


def test_small_arrays_own_their_memory(monkeypatch):
    """Below MIN_BYTES, arrays are NumPy's own (autograd keeps a gradient that owns its memory without a copy)."""
    monkeypatch.setattr(big_arrays, "MIN_BYTES", 1 << 40)
    assert big_arrays.empty((3, 4), np.float32).base is None
    assert big_arrays.empty_like(np.zeros((3, 4))).base is None


def test_release_keeps_the_blocks_in_use(every_array_big):
    kept = big_arrays.empty((8,), np.float64)
    freed = big_arrays.empty((8,), np.float64)
    del freed
    big_arrays.release()
    assert len(big_arrays._blocks) == 1
    kept[:] = 1
    assert address(big_arrays.empty((8,), np.float64)) != address(kept)


def test_training_steps_in_reused_memory_are_unchanged(monkeypatch):
    """Two SGD steps of resnet10 on small images (convolutions, BatchNorm, ReLU, pooling, residual additions) give the
    same weights, bit for bit, with every array in reused memory as with none."""
    results = []
    for min_bytes in (1 << 40, 0):
        monkeypatch.setattr(big_arrays, "MIN_BYTES", min_bytes)
        monkeypatch.setattr(big_arrays, "_blocks", [])
        monkeypatch.setattr(big_arrays, "_most_in_use", 0)
        mt.manual_seed(0)
        model = resnet10()
        optimizer = mt.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        rng = np.random.default_rng(0)
        for _ in range(2):
            x = mt.tensor(rng.standard_normal((4, 3, 16, 16)).astype(np.float32))
            y = mt.tensor(rng.integers(0, 10, 4))
            optimizer.zero_grad()
            mt.nn.functional.cross_entropy(model(x), y).backward()
            optimizer.step()
        results.append([p.detach().numpy().copy() for p in model.parameters()])
    for before, after in zip(*results):
        np.testing.assert_array_equal(before, after)
