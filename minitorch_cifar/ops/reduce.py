"""Reductions over axes (sum, mean, amax/amin, var), gathers along an axis, and softmax/log-softmax.

A reduction's backward spreads each output's gradient back over the elements it reduced: the
gradient is first given back its reduced axes (``expand_reduced``) and then broadcast (``spread``).
"""
import math

import numpy as np

from .. import backend
from ..autograd import Function


def normalize_axes(axis, ndim):
    """``None`` (all axes), an int or a tuple of ints, as a sorted tuple of non-negative axes."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    out = []
    for a in axes:
        if not -ndim <= a < max(ndim, 1):
            raise IndexError(f"axis {a} is out of range for a tensor with {ndim} dimensions")
        out.append(a % max(ndim, 1))
    return tuple(sorted(set(out)))


def expand_reduced(grad, axes, keepdims):
    """Put back the reduced axes (as size 1) into a gradient that lost them."""
    if keepdims or not axes:
        return grad
    xp = backend.get_array_module(grad)
    return xp.expand_dims(grad, axes)


SMALL = 4096  # elements below which NumPy fills a new array several times faster than it makes a broadcast view


def spread(grad, shape):
    """``grad`` (its reduced axes back as size 1) broadcast to ``shape``: a read-only view, or a new array where that
    is cheaper (small, on the CPU)."""
    xp = backend.get_array_module(grad)
    if xp is not np or math.prod(shape) >= SMALL:
        return xp.broadcast_to(grad, shape)
    out = np.empty(shape, grad.dtype)
    out[...] = grad
    return out


def _count(shape, axes):
    n = 1
    for a in axes:
        n *= shape[a]
    return n


class Sum(Function):
    saves_arrays = False

    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = a.shape, normalize_axes(axis, a.ndim), keepdims
        return a.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, grad):
        return spread(expand_reduced(grad, self.axes, self.keepdims), self.shape)


class Mean(Function):
    saves_arrays = False

    def forward(self, a, axis=None, keepdims=False):
        self.shape, self.axes, self.keepdims = a.shape, normalize_axes(axis, a.ndim), keepdims
        return a.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, grad):
        return spread(expand_reduced(grad, self.axes, self.keepdims) / _count(self.shape, self.axes), self.shape)


class Var(Function):
    """Variance over axes with ``correction`` (1 = unbiased, Bessel's correction; 0 = biased)."""

    def forward(self, a, axis=None, correction=1, keepdims=False):
        self.axes, self.keepdims = normalize_axes(axis, a.ndim), keepdims
        self.centered = a - a.mean(axis=self.axes, keepdims=True)
        self.dof = max(_count(a.shape, self.axes) - correction, 0)
        return (self.centered * self.centered).sum(axis=self.axes, keepdims=keepdims) / self.dof

    def backward(self, grad):
        # d/da_i of sum_j (a_j - mean)^2 / dof = 2 (a_i - mean) / dof  (the mean's own term sums to 0)
        return expand_reduced(grad, self.axes, self.keepdims) * self.centered * (2 / self.dof)


class Extreme(Function):
    """amax / amin over axes; the gradient is shared evenly among tied extremes, as torch.amax."""

    def forward(self, a, axis=None, keepdims=False, largest=True):
        self.axes, self.keepdims = normalize_axes(axis, a.ndim), keepdims
        if a.size == 0:
            raise ValueError("max/min of an empty tensor is undefined")
        kept = a.max(axis=self.axes, keepdims=True) if largest else a.min(axis=self.axes, keepdims=True)
        self.mask = a == kept
        return kept if keepdims else kept.reshape([n for i, n in enumerate(a.shape) if i not in self.axes])

    def backward(self, grad):
        grad = expand_reduced(grad, self.axes, self.keepdims)
        return grad * self.mask / self.mask.sum(axis=self.axes, keepdims=True)


class TakeAlongAxis(Function):
    """``take_along_axis(a, index, axis)`` with an index of size 1 on ``axis`` (one pick per row)."""

    def forward(self, a, index, axis):
        xp = backend.get_array_module(a)
        self.shape, self.index, self.axis = a.shape, index, axis
        return xp.take_along_axis(a, index, axis=axis)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        positions = xp.arange(self.shape[self.axis]).reshape([-1 if i == self.axis else 1 for i in range(len(self.shape))])
        return (positions == self.index) * grad, None


class Softmax(Function):
    def forward(self, a, axis=-1):
        xp = backend.get_array_module(a)
        e = xp.exp(a - a.max(axis=axis, keepdims=True))
        self.out, self.axis = e / e.sum(axis=axis, keepdims=True), axis
        return self.out

    def backward(self, grad):
        # dL/da = s * (g - sum(g s))  (the Jacobian diag(s) - s s^T applied to g)
        s = self.out
        return s * (grad - (grad * s).sum(axis=self.axis, keepdims=True))


def log_softmax_array(a, axis):
    """log(softmax(a)) computed stably: a - max - log(sum(exp(a - max)))."""
    xp = backend.get_array_module(a)
    shifted = a - a.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


class LogSoftmax(Function):
    def forward(self, a, axis=-1):
        self.out, self.axis = log_softmax_array(a, axis), axis
        return self.out

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        # dL/da = g - softmax * sum(g)
        return grad - xp.exp(self.out) * grad.sum(axis=self.axis, keepdims=True)
