"""BatchNorm's passes over an (N, C, ...) array, channel by channel:

- ``channel_sums``: sum(p - a) and sum((p - a)(q - b)) per channel, in float64. With p = q = x and
  a = b = one sample of x, these give the batch mean and variance (shifting by a sample keeps
  E[x^2] - E[x]^2 from cancelling); with p = grad, q = x, b = mean, the two sums of the backward.
- ``channel_affine``: (x - shift) * scale + offset (+ grad * grad_scale) per channel: the
  normalisation in the forward, and the closed-form input gradient in the backward.

The ``reference_*`` functions below are both in plain array code (NumPy or CuPy): read them first. In
fast mode (``switch``) the numba kernels of ``batchnorm_numba`` compute the same in one read of their
inputs, keeping the input's memory layout, and CuPy arrays go to ``batchnorm_cuda``.
"""
import numpy as np

from .. import backend
from . import numba_kernels, switch


# ----------------------------------------------------------------------------- reference: read this first
def _per_channel(v, x, dtype):
    """A (C,) array as (1, C, 1, ...), which broadcasts over x's batch and spatial axes."""
    xp = backend.get_array_module(x)
    return xp.asarray(v, dtype).reshape((1, -1) + (1,) * (x.ndim - 2))


def reference_channel_sums(p, p_shift, q, q_shift):
    """Per channel: sum(p - p_shift) and sum((p - p_shift) * (q - q_shift)) over every axis but 1, in float64."""
    other_axes = (0,) + tuple(range(2, p.ndim))
    p_shifted = p.astype(np.float64) - _per_channel(p_shift, p, np.float64)
    q_shifted = q.astype(np.float64) - _per_channel(q_shift, q, np.float64)
    return p_shifted.sum(axis=other_axes), (p_shifted * q_shifted).sum(axis=other_axes)


def reference_channel_affine(x, shift, scale, offset, grad=None, grad_scale=None):
    """Per channel: (x - shift) * scale + offset, plus grad * grad_scale when grad is given, in x's dtype."""
    out = (x - _per_channel(shift, x, x.dtype)) * _per_channel(scale, x, x.dtype) + _per_channel(offset, x, x.dtype)
    if grad is not None:
        out += grad * _per_channel(grad_scale, x, x.dtype)
    return out


# ----------------------------------------------------------------------------- entry points
def _fast(array):
    """The fast kernels for ``array``: CUDA for CuPy arrays, numba otherwise."""
    if backend.is_cupy_array(array):
        from . import batchnorm_cuda
        return batchnorm_cuda
    return numba_kernels("batchnorm_numba")


def channel_sums(p, p_shift, q, q_shift):
    """Per channel (axis 1) of same-shaped p and q: sum(p - p_shift) and sum((p - p_shift) * (q - q_shift)),
    accumulated in float64; the shifts are (C,) arrays."""
    if switch.reference():
        return reference_channel_sums(p, p_shift, q, q_shift)
    return _fast(p).channel_sums(p, p_shift, q, q_shift)


def channel_affine(x, shift, scale, offset, grad=None, grad_scale=None):
    """Per channel: (x - shift) * scale + offset, plus grad * grad_scale when grad is given. The (C,)
    coefficients are cast to x's dtype; the result has x's shape and dtype (and, from the fast kernels,
    its memory layout)."""
    if switch.reference():
        return reference_channel_affine(x, shift, scale, offset, grad, grad_scale)
    return _fast(x).channel_affine(x, shift, scale, offset, grad, grad_scale)
