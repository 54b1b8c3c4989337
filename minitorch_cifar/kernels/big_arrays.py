"""New big NumPy arrays that reuse the memory of earlier ones which no array uses any more.

A fresh big array costs more than writing it: glibc's malloc (Linux) maps each request of 32 MiB or more on new
pages and hands them back to the system when it is freed, and returns the top of its heap to the system when
much of it is free, so the arrays of a training step keep landing on new pages that the kernel must find, map
and zero as they are first written (NumPy asks for huge pages there, which the kernel may compact memory to
find). A ResNet step at batch 128 makes many such arrays: its 128 x 64 x 32 x 32 float32 activations and their
gradients are exactly 32 MiB. On the 2-core EPYC, resnet10's step spent 52-69 ms of its ~260 in the kernel and
resnet9's 125 of ~750, nearly all of it in the convolution, BatchNorm, ReLU and pooling ops creating arrays.

NumPy's allocator cannot be replaced from Python, so those ops take their big outputs (MIN_BYTES = 1 MiB and
more) from here: blocks of memory, each new array carved from the first gap big enough in any of them (page
aligned), so that a block made for one size serves arrays of any other, several at a time. A carved region is
free again when nothing refers to NumPy's memoryview of it, which the array and every view of it keep. Before a
new block is made, free blocks are let go, the biggest first, until all of them take no more than arrays have
used at one time: the blocks never hold more than a step's own peak.

Measured on that machine, 2 threads, each model alone in its process, page faults and the kernel's (system) time
per step over both threads. A first version kept a list of buffers per byte size, each serving that size only,
from 16 MiB on: resnet10 0 faults; resnet9 about 8,000 and 83-105 ms, as the mix of sizes a step needs changes
from forward to backward and the bound made it let go of buffers of one size to make those of another, step
after step; cnn3, whose 8 and 4 MiB arrays went to malloc, 3,000-5,600 and 12-30 ms. The same list from 4 MiB on
traded its buffers even more (resnet10 4,200 faults and 32-55 ms). Carving blocks, from 4 MiB on: resnet9 no
page faults and 4 ms, its step 760-780 -> 684-697 ms; cnn3 2,250 faults (its arrays under 4 MiB) and 3-8 ms, its
step 140-155 -> 130-132; resnet10 1,000-1,500 faults and 5-11 ms. From 1 MiB on, those went too: cnn3 2 faults,
0.5-2.4 ms and 130-134 ms against 137-140 from 4 MiB in alternating runs, resnet10 2 faults, its step unchanged.
As arrays of one size fill the gaps others left, the peak of a step (``bench_models.py --memory``) went down too:
cnn2 100 -> 68-72 MiB, cnn3 154 -> 113-118, resnet10 216 -> 190-193, resnet9 516 -> 434-439 (from 4 MiB and from
1 MiB on: the same within 5 MiB). A linear layer's weight gradient stays out of here (``workers.matmul``):
autograd keeps an array that owns its memory as the weight's .grad, and copies any other.
``release`` lets all free blocks go.
"""
import math
import sys
import threading

import numpy as np

MIN_BYTES = 1 << 20  # see the module docstring
_ALIGN = 4096  # regions start on page boundaries

_lock = threading.Lock()  # two threads must not take the same free region
_most_in_use = 0  # the most bytes of regions that arrays have used at one time


class _Block:
    """One buffer and the regions carved from it, by offset: [offset, bytes taken, NumPy's memoryview of it]."""

    def __init__(self, nbytes):
        self.memory = memoryview(np.empty(nbytes, np.uint8))
        self.regions = []

    def forget_free(self):
        self.regions = [region for region in self.regions if _references(region, 2) > _FREE]

    def gap(self, nbytes):
        """(offset, index in ``regions``) of the first gap of ``nbytes`` or more, or None."""
        start = 0
        for index, (offset, taken, _) in enumerate(self.regions):
            if offset - start >= nbytes:
                return start, index
            start = offset + taken
        return (start, len(self.regions)) if len(self.memory) - start >= nbytes else None


_blocks = []


def _references(container, index):
    return sys.getrefcount(container[index])


_FREE = _references([object()], 0)  # what ``_references`` counts for an object only a list holds


def empty(shape, dtype, order=None):
    """np.empty(shape, dtype); from MIN_BYTES on, in reused memory. ``order``: the axes from outermost to
    innermost in memory (default: C order), so that, say, an (N, C, H, W) array can be channels last."""
    dtype = np.dtype(dtype)
    in_memory = shape if order is None else [shape[axis] for axis in order]
    nbytes = math.prod(in_memory) * dtype.itemsize
    if nbytes < MIN_BYTES:
        memory = np.empty(in_memory, dtype)  # owns its memory, as NumPy's (autograd keeps such a gradient uncopied)
    else:
        taken = -(-nbytes // _ALIGN) * _ALIGN
        with _lock:
            block, offset, index = _place(taken)
            region = np.frombuffer(block.memory[offset:offset + nbytes], np.uint8)
            block.regions.insert(index, [offset, taken, region.base])  # every view of the array holds region.base
            memory = region.view(dtype).reshape(in_memory)
    return memory if order is None else memory.transpose(sorted(range(len(order)), key=order.__getitem__))


def empty_like(a):
    """np.empty_like(a) (same shape, dtype and order of the axes in memory); from MIN_BYTES on, in reused memory."""
    if a.nbytes < MIN_BYTES:
        return np.empty_like(a)
    return empty(a.shape, a.dtype, sorted(range(a.ndim), key=lambda axis: -abs(a.strides[axis])))


def _place(taken):
    """(block, offset, index) where a region of ``taken`` bytes goes: the first gap that fits, else a new block."""
    for block in _blocks:
        block.forget_free()
    for block in _blocks:
        gap = block.gap(taken)
        if gap is not None:
            return (block,) + gap
    _make_room(taken)
    _blocks.append(_Block(taken))
    return _blocks[-1], 0, 0


def _make_room(taken):
    """Before a new block of ``taken`` bytes: let go of free blocks, the biggest first, until all the blocks together
    take no more memory than arrays have used at one time (this one included), so that holding on to free memory
    does not raise the process's peak."""
    global _most_in_use
    held = sum(len(block.memory) for block in _blocks)
    in_use = sum(region[1] for block in _blocks for region in block.regions)
    _most_in_use = max(_most_in_use, in_use + taken)
    for block in sorted((block for block in _blocks if not block.regions), key=lambda block: -len(block.memory)):
        if held + taken <= _most_in_use:
            break
        _blocks.remove(block)
        held -= len(block.memory)


def release():
    """Let go of the free blocks (those with a region in use stay until their arrays are gone)."""
    with _lock:
        for block in _blocks:
            block.forget_free()
        _blocks[:] = [block for block in _blocks if block.regions]
