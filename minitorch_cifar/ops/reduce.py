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


def sort_order(a, axis, descending=False):
    """The indices that sort ``a`` along ``axis``, ties in their original order (a stable sort). Descending, the
    reversed array is sorted ascending and the order read backwards: NaN first, as in PyTorch, and bool and unsigned
    arrays (which have no negation) sort too."""
    xp = backend.get_array_module(a)
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    n = a.shape[axis]
    return (n - 1) - xp.flip(xp.argsort(xp.flip(a, axis), axis=axis, kind="stable"), axis)


def _flipped_cumsum(a, axis):
    """The sums from each position to the end along ``axis``."""
    xp = backend.get_array_module(a)
    return xp.flip(xp.cumsum(xp.flip(a, axis), axis=axis), axis)


class CumSum(Function):
    saves_arrays = False

    def forward(self, a, axis):
        self.axis = axis
        return backend.get_array_module(a).cumsum(a, axis=axis)

    def backward(self, grad):
        return _flipped_cumsum(grad, self.axis)  # out_j = sum_{i <= j} a_i: a_i gets the gradients of all j >= i


class Prod(Function):
    """The product along one axis. Its gradient, the product of the other elements, comes from the products before
    and after each element (exclusive cumulative products), not from out / a: right where an element is 0."""

    def forward(self, a, axis, keepdims=False):
        if True in self.needs_grad:
            self.a, self.axis, self.keepdims = a, axis, keepdims
        return a.prod(axis=axis, keepdims=keepdims)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        before = _products_before(self.a, self.axis)
        after = xp.flip(_products_before(xp.flip(self.a, self.axis), self.axis), self.axis)
        return expand_reduced(grad, (self.axis,), self.keepdims) * before * after


def _products_before(a, axis):
    """The product of the elements before each position along ``axis`` (1 at the first)."""
    xp = backend.get_array_module(a)
    head = (slice(None),) * axis
    shifted = xp.concatenate([xp.ones_like(a[head + (slice(None, 1),)]), a[head + (slice(None, -1),)]], axis)
    return xp.cumprod(shifted, axis=axis)


class LogSumExp(Function):
    """log(sum(exp(a))) over axes, computed as m + log(sum(exp(a - m))) with m the largest element (no overflow);
    its gradient is softmax(a) times the upstream gradient."""

    def forward(self, a, axis=None, keepdims=False):
        xp = backend.get_array_module(a)
        self.axes, self.keepdims = normalize_axes(axis, a.ndim), keepdims
        largest = a.max(axis=self.axes, keepdims=True)
        largest = xp.where(xp.isinf(largest), 0, largest)  # all -inf (or an inf): no inf - inf
        with np.errstate(divide="ignore"):  # log(0) = -inf where every element is -inf, as PyTorch
            out = xp.log(xp.exp(a - largest).sum(axis=self.axes, keepdims=True)) + largest
        if True in self.needs_grad:
            self.a, self.out = a, out
        return out if keepdims else out.reshape([n for i, n in enumerate(a.shape) if i not in self.axes])

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        with np.errstate(invalid="ignore"):  # -inf - -inf: NaN where every element is -inf, as PyTorch
            return expand_reduced(grad, self.axes, self.keepdims) * xp.exp(self.a - self.out)


def unique(a, return_inverse, return_counts, axis=None):
    """[the distinct values (slices along ``axis``), sorted] + [each element's (slice's) position among them] +
    [how often each occurs], the last two on request (PyTorch's ``unique``)."""
    values, inverse, counts = backend.get_array_module(a).unique(a, return_inverse=True, return_counts=True, axis=axis)
    inverse = inverse.reshape(a.shape if axis is None else -1)
    return [values] + [inverse] * return_inverse + [counts] * return_counts


def bincount(a, weights=None, minlength=0):
    """How often each of 0, 1, ... occurs in the 1-d non-negative integer array ``a`` (or the sum of the ``weights``
    at its occurrences: in the weights' float dtype, float64 for integer weights, as PyTorch)."""
    if a.ndim != 1 or a.dtype.kind not in "iu" or (a.size and int(a.min()) < 0):
        raise ValueError(f"bincount only supports 1-d non-negative integral inputs (got shape {a.shape}, dtype "
                         f"{a.dtype})")
    counts = backend.get_array_module(a).bincount(a, weights=weights, minlength=minlength)
    return counts if weights is None or weights.dtype.kind != "f" else counts.astype(weights.dtype)
