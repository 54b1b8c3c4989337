"""BatchNorm's passes over an (N, C, ...) array, channel by channel:

- ``channel_sums``: sum(p - a) and sum((p - a)(q - b)) per channel, in float64. With p = q = x and
  a = b = one sample of x, these give the batch mean and variance (shifting by a sample keeps
  E[x^2] - E[x]^2 from cancelling); with p = grad, q = x, b = mean, the two sums of the backward.
- ``channel_affine``: (x - shift) * scale + offset (+ grad * grad_scale) per channel: the
  normalisation in the forward, and the closed-form input gradient in the backward; float16 is
  computed in float32, as PyTorch does.

The ``reference_*`` functions below are both in plain array code (NumPy or CuPy): read them first. In
fast mode (``switch``) the numba kernels of ``batchnorm_numba`` compute the same in one read of their
inputs, keeping the input's memory layout, and CuPy arrays go to ``batchnorm_cuda``. numba compiles no
float16, so float16 NumPy arrays take the reference.
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


def affine_dtype(dtype):
    """The dtype ``channel_affine`` computes in for x of ``dtype``: x's own, float32 for float16."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype


def reference_channel_affine(x, shift, scale, offset, grad=None, grad_scale=None):
    """Per channel: (x - shift) * scale + offset, plus grad * grad_scale when grad is given, computed in
    ``affine_dtype(x.dtype)`` and returned in x's dtype."""
    dtype = affine_dtype(x.dtype)
    out = (x.astype(dtype, copy=False) - _per_channel(shift, x, dtype)) * _per_channel(scale, x, dtype) \
        + _per_channel(offset, x, dtype)
    if grad is not None:
        out += grad.astype(dtype, copy=False) * _per_channel(grad_scale, x, dtype)
    return out.astype(x.dtype, copy=False)


# ----------------------------------------------------------------------------- entry points
def _fast(array):
    """The fast kernels for ``array``: CUDA for CuPy arrays, numba otherwise; None for float16 NumPy arrays."""
    if backend.is_cupy_array(array):
        from . import batchnorm_cuda
        return batchnorm_cuda
    return None if array.dtype == np.float16 else numba_kernels("batchnorm_numba")


def channel_sums(p, p_shift, q, q_shift):
    """Per channel (axis 1) of same-shaped p and q: sum(p - p_shift) and sum((p - p_shift) * (q - q_shift)),
    accumulated in float64; the shifts are (C,) arrays."""
    kernels = None if switch.reference() else _fast(p)
    if kernels is None:
        return reference_channel_sums(p, p_shift, q, q_shift)
    return kernels.channel_sums(p, p_shift, q, q_shift)


def channel_affine(x, shift, scale, offset, grad=None, grad_scale=None):
    """Per channel: (x - shift) * scale + offset, plus grad * grad_scale when grad is given, computed in
    ``affine_dtype(x.dtype)`` (the (C,) coefficients cast to it). The result has x's shape and dtype; the numba
    kernels also keep x's memory layout, CuPy's are C-contiguous."""
    kernels = None if switch.reference() else _fast(x)
    if kernels is None:
        return reference_channel_affine(x, shift, scale, offset, grad, grad_scale)
    return kernels.channel_affine(x, shift, scale, offset, grad, grad_scale)
