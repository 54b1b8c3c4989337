"""Ops that move elements without changing them: reshape, permute, indexing, cat, stack, pad.

Their backward moves the gradient back the same way: reshape back, permute by the inverse
permutation, scatter-add into the indexed positions, split, crop (and add the borders back).
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
            back = grad[_along(axis, slice(lo, lo + size))].copy()
            for position in [*range(lo), *range(lo + size, len(src))]:
                back[_along(axis, int(src[position]))] += grad[_along(axis, position)]
            grad = back
        return grad


def _along(axis, index):
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
