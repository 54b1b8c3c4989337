"""Ops that move elements without changing them: reshape, permute, indexing, scatter, cat, stack, pad.

Their backward moves the gradient back the same way: reshape back, permute by the inverse
permutation, scatter-add into the indexed positions, gather from the scattered ones, split, crop
(and add the borders back).
"""
import numpy as np

from .. import backend
from ..autograd import Function, unbroadcast


class Reshape(Function):
    saves_arrays = False

    def forward(self, a, shape):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Permute(Function):
    saves_arrays = False

    def forward(self, a, axes):
        self.axes = axes
        return a.transpose(axes)

    def backward(self, grad):
        inverse = [0] * len(self.axes)
        for i, a in enumerate(self.axes):
            inverse[a] = i
        return grad.transpose(inverse)


class BroadcastTo(Function):
    saves_arrays = False

    def forward(self, a, shape):
        self.shape = a.shape
        return backend.get_array_module(a).broadcast_to(a, shape)

    def backward(self, grad):
        return unbroadcast(grad, self.shape)


def _is_advanced(index):
    """True when an index holds an array or list (NumPy's advanced indexing, which may repeat elements)."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(hasattr(p, "shape") and p.ndim > 0 or isinstance(p, list) for p in parts)


class GetItem(Function):
    def forward(self, a, index):
        self.shape, self.dtype, self.index = a.shape, a.dtype, index
        out = a[index]
        if isinstance(out, np.generic):  # NumPy's copy of one element: a 0-d view instead, as PyTorch's t[i, j]
            out = a[(index if isinstance(index, tuple) else (index,)) + (Ellipsis,)]
        return out

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        full = xp.zeros(self.shape, dtype=grad.dtype)
        if _is_advanced(self.index):
            # a repeated index collects every gradient it gave, in the order they come (on the GPU too)
            backend.scatter_add(full, self.index, grad)
        else:
            full[self.index] = grad
        return full


def along_axis(index, axis):
    """The advanced index that takes, at each position p of the integer array ``index``, the element at p with its
    ``axis`` coordinate replaced by index[p] (take_along_axis's addressing, for an ``index`` that may also be
    shorter than the array on the other axes): each other axis indexed by its own open range."""
    xp = backend.get_array_module(index)
    where = [xp.arange(n).reshape([n if a == i else 1 for a in range(index.ndim)]) for i, n in enumerate(index.shape)]
    where[axis] = index
    return tuple(where)


def check_gather_index(index, shape, axis, what):
    """PyTorch's checks of a gather/scatter integer ``index`` into an array of ``shape``: as many dimensions, no
    longer on the other axes, and every value a position on ``axis``."""
    if index.ndim != len(shape):
        raise ValueError(f"{what}(): index has {index.ndim} dimensions, the tensor {len(shape)} (shape {shape}); "
                         f"they must have the same number")
    if any(n > size for a, (n, size) in enumerate(zip(index.shape, shape)) if a != axis):
        raise ValueError(f"{what}(): index of shape {tuple(index.shape)} must be no larger than the tensor's "
                         f"{shape} apart from dimension {axis}")
    check_positions(index, shape[axis], axis, what)


def check_positions(index, size, axis, what):
    """Every value of ``index`` in [0, size): PyTorch's bounds check (NumPy would wrap negative values around)."""
    if not index.size:
        return
    lowest, highest = int(index.min()), int(index.max())
    if lowest < 0 or highest >= size:
        bad = lowest if lowest < 0 else highest
        raise IndexError(f"{what}(): index {bad} is out of bounds for dimension {axis} with size {size}")


class Scatter(Function):
    """``a`` with ``src``'s values (or the number ``src``) written along ``axis`` at ``index`` (PyTorch's scatter),
    or added there (``accumulate``: scatter_add). Of ``src`` only the part of ``index``'s shape is used."""

    def forward(self, a, src, index, axis, accumulate=False):
        self.where, out = along_axis(index, axis), a.copy()
        self.accumulate, self.src_shape = accumulate, getattr(src, "shape", ())
        self.used = tuple(slice(0, n) for n in index.shape)  # the part of src that is written
        values = src[self.used] if hasattr(src, "shape") else src
        if accumulate:
            backend.scatter_add(out, self.where, values)
        else:
            out[self.where] = values
        return out

    def backward(self, grad):
        grad_a = grad_src = None
        if self.needs_grad[0] and self.accumulate:
            grad_a = grad
        elif self.needs_grad[0]:  # the written positions lost a's values
            grad_a = grad.copy()
            grad_a[self.where] = 0
        if self.needs_grad[1]:  # each used src value went to one position: its gradient, gathered
            grad_src = backend.get_array_module(grad).zeros(self.src_shape, grad.dtype)
            grad_src[self.used] = grad[self.where]
        return grad_a, grad_src, None


class Cat(Function):
    saves_arrays = False

    def forward(self, *arrays, axis=0):
        xp = backend.get_array_module(*arrays)
        self.axis, self.sizes = axis, [a.shape[axis] for a in arrays]
        return xp.concatenate(arrays, axis=axis)

    def backward(self, grad):
        grads, start = [], 0
        for size, needed in zip(self.sizes, self.needs_grad):
            index = (slice(None),) * (self.axis % grad.ndim) + (slice(start, start + size),)
            grads.append(grad[index] if needed else None)
            start += size
        return tuple(grads)


class Stack(Function):
    saves_arrays = False

    def forward(self, *arrays, axis=0):
        xp = backend.get_array_module(*arrays)
        self.axis = axis
        return xp.stack(arrays, axis=axis)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        return tuple(xp.take(grad, i, axis=self.axis) if needed else None for i, needed in enumerate(self.needs_grad))


class Pad(Function):
    """``pad`` with PyTorch's argument order: (left, right) of the last axis first, then the one before."""

    def forward(self, a, pad, mode="constant", value=0.0):
        xp = backend.get_array_module(a)
        if len(pad) % 2 or len(pad) // 2 > a.ndim:
            raise ValueError(f"pad needs (left, right) pairs for at most {a.ndim} axes, got {tuple(pad)}")
        if any(p < 0 for p in pad):
            raise ValueError(f"pad sizes must be non-negative, got {tuple(pad)}")
        widths = [(0, 0)] * (a.ndim - len(pad) // 2) + [(pad[i], pad[i + 1]) for i in range(len(pad) - 2, -1, -2)]
        self.shape, self.widths, self.mode = a.shape, widths, mode
        if mode == "constant":
            return xp.pad(a, widths, mode="constant", constant_values=value)
        self.sources = _pad_sources(a.shape, widths, mode)
        out = a
        for axis, src in self.sources:
            out = xp.take(out, src if xp is np else backend.device_constant(src, a), axis=axis)
        return out

    def backward(self, grad):
        if self.mode == "constant":
            return grad[tuple(slice(lo, lo + n) for (lo, _), n in zip(self.widths, self.shape))]
        # Every padded element copied a source element, which gets its gradient: along each padded axis the middle
        # of the gradient is the sources' own, and each border position adds its slice to its source's, one after
        # the other. A fixed order, where a scatter-add with repeated indices sums in any order on the GPU.
        for axis, src in reversed(self.sources):
            lo, size = self.widths[axis][0], self.shape[axis]
            back = grad[along(axis, slice(lo, lo + size))].copy()
            for position in [*range(lo), *range(lo + size, len(src))]:
                back[along(axis, int(src[position]))] += grad[along(axis, position)]
            grad = back
        return grad


def along(axis, index):
    """An index that picks ``index`` on ``axis`` and everything on the axes before it."""
    return (slice(None),) * axis + (index,)


_NUMPY_PAD_MODES = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_sources(shape, widths, mode):
    """For each padded axis, the index of the input element each output position copies (NumPy arrays)."""
    if mode not in _NUMPY_PAD_MODES:
        raise ValueError(f"pad mode must be 'constant', 'reflect', 'replicate' or 'circular', got {mode!r}")
    sources = []
    for axis, (lo, hi) in enumerate(widths):
        if lo or hi:
            if mode == "reflect" and max(lo, hi) >= shape[axis]:
                raise ValueError(f"reflect padding {max(lo, hi)} must be smaller than the axis size {shape[axis]}")
            src = np.pad(np.arange(shape[axis]), (lo, hi), mode=_NUMPY_PAD_MODES[mode])
            sources.append((axis, src))
    return sources


def triangle(like, diagonal, lower):
    """A bool mask of the last two axes of ``like``'s shape, on its device: True on and below the ``diagonal``-th
    diagonal (``lower``: tril's mask), or on and above it (triu's). Diagonal 0 is the main one, positive ones above."""
    rows, cols = like.shape[-2:]
    xp = backend.get_array_module(like)
    with backend.on_device_of(like):
        below = xp.tri(rows, cols, diagonal if lower else diagonal - 1, dtype=bool)
    return below if lower else ~below
