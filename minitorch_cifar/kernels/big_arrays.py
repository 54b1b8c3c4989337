"""New big NumPy arrays that reuse the memory of earlier ones which no array uses any more.

A fresh big array costs more than writing it: glibc's malloc (Linux) maps each request of 32 MiB or more on new
pages and hands them back to the system when it is freed, and returns the top of its heap to the system when
much of it is free, so the arrays of a training step keep landing on new pages that the kernel must find, map
and zero as they are first written (NumPy asks for huge pages there, which the kernel may compact memory to
find). A ResNet step at batch 128 makes many such arrays: its 128 x 64 x 32 x 32 float32 activations and their
gradients are exactly 32 MiB. On the 2-core EPYC, resnet10's step spent 52-69 ms of its ~260 in the kernel and
resnet9's 125 of ~750, nearly all of it in the convolution, BatchNorm, ReLU and pooling ops creating arrays.

NumPy's allocator cannot be replaced from Python, so those ops take their big outputs (MIN_BYTES = 16 MiB and
more) from here: a list of buffers per byte size, a buffer being free again when nothing but the list refers to
it (every view of an array keeps its buffer referenced). A buffer kept for one size is memory that another size
cannot use, so before making a new one the cache lets free ones go until all of them take no more than the arrays
have used at one time: it never holds more than a step's own peak. Measured on that machine, 2 threads, several
runs each: resnet10's kernel time went from 52-69 to 12-40 ms a step (its step from about 260 to 220-270 ms, by how
busy the host was), resnet9's from 86-138 to 64-143, as the bound makes it let go of and remake more buffers there
(without the bound: 14-23 ms, but a peak about 90 MiB higher, at PyTorch's). The peaks stayed within noise. From 4
MiB on it gained no more, and arrays it served as gradients are views that autograd copies into .grad (mlp_final's
peak: 13 to 25 MiB).
``release`` lets all free buffers go.
"""
import math
import sys
import threading

import numpy as np

MIN_BYTES = 16 << 20  # see the module docstring

_buffers = {}  # byte size -> the byte buffers of that size, in use or free
_lock = threading.Lock()  # two threads must not take the same free buffer
_most_in_use = 0  # the most bytes of buffers that arrays have used at one time


def _references(buffers, index):
    return sys.getrefcount(buffers[index])


def _references_when_free():
    """What ``_references`` counts for a buffer that only the list holds (interpreters differ in how they count)."""
    return _references([np.empty(1, np.uint8)], 0)


_FREE = _references_when_free()


def empty(shape, dtype, order=None):
    """np.empty(shape, dtype); from MIN_BYTES on, in reused memory. ``order``: the axes from outermost to
    innermost in memory (default: C order), so that, say, an (N, C, H, W) array can be channels last."""
    dtype = np.dtype(dtype)
    in_memory = shape if order is None else [shape[axis] for axis in order]
    nbytes = math.prod(in_memory) * dtype.itemsize
    if nbytes < MIN_BYTES:
        memory = np.empty(in_memory, dtype)  # owns its memory, as NumPy's (autograd keeps such a gradient uncopied)
    else:
        with _lock:
            buffers = _buffers.setdefault(nbytes, [])
            free = _free_indices(buffers)
            if not free:
                _make_room(nbytes)
                buffers.append(np.empty(nbytes, np.uint8))
            memory = buffers[free[0] if free else -1].view(dtype).reshape(in_memory)
    return memory if order is None else memory.transpose(sorted(range(len(order)), key=order.__getitem__))


def empty_like(a):
    """np.empty_like(a) (same shape, dtype and order of the axes in memory); from MIN_BYTES on, in reused memory."""
    if a.nbytes < MIN_BYTES:
        return np.empty_like(a)
    return empty(a.shape, a.dtype, sorted(range(a.ndim), key=lambda axis: -abs(a.strides[axis])))


def _free_indices(buffers):
    return [i for i in range(len(buffers)) if _references(buffers, i) == _FREE]


def _make_room(nbytes):
    """Before a new buffer of ``nbytes``: let go of free buffers, the biggest first, until all the buffers together
    take no more memory than arrays have used at one time (this one included), so that holding on to free
    memory does not raise the process's peak."""
    global _most_in_use
    free = sorted(((size, buffers, i) for size, buffers in _buffers.items() for i in _free_indices(buffers)),
                  key=lambda entry: -entry[0])
    held = sum(size * len(buffers) for size, buffers in _buffers.items())
    _most_in_use = max(_most_in_use, held - sum(size for size, _, _ in free) + nbytes)
    for size, buffers, i in free:
        if held + nbytes <= _most_in_use:
            break
        buffers[i] = None
        held -= size
    for buffers in _buffers.values():
        buffers[:] = [b for b in buffers if b is not None]


def release():
    """Let go of the free buffers (those in use stay until their arrays are gone)."""
    with _lock:
        for buffers in _buffers.values():
            for i in reversed(_free_indices(buffers)):
                del buffers[i]
