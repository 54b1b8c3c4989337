"""The BatchNorm passes of ``batchnorm`` for CuPy arrays: one reduction kernel and one elementwise kernel.

The per-channel (C,) coefficients are reshaped to (1, C, 1, ...) and broadcast by CuPy.
"""
import functools

from .. import backend


@functools.cache
def _kernels():
    cp = backend.cupy()
    sum_product = cp.ReductionKernel(
        "T p, float64 p_shift, T q, float64 q_shift", "float64 total",
        "((double)p - p_shift) * ((double)q - q_shift)", "a + b", "total = a", "0",
        "minitorch_channel_sum_product")
    affine = cp.ElementwiseKernel(
        "T x, T shift, T scale, T offset, T grad, T grad_scale", "T out",
        "out = (x - shift) * scale + offset + grad * grad_scale", "minitorch_channel_affine")
    return sum_product, affine


def _per_channel(values, like, dtype):
    """(C,) values as a (1, C, 1, ...) array that broadcasts against ``like``."""
    return backend.cupy().asarray(values, dtype=dtype).reshape((1, -1) + (1,) * (like.ndim - 2))


def channel_sums(p, p_shift, q, q_shift):
    cp = backend.cupy()
    sum_product = _kernels()[0]
    axes = (0,) + tuple(range(2, p.ndim))
    p_shift = _per_channel(p_shift, p, cp.float64)
    one, zero = cp.ones((), p.dtype), cp.zeros((), cp.float64)
    return (sum_product(p, p_shift, one, zero, axis=axes),
            sum_product(p, p_shift, q, _per_channel(q_shift, p, cp.float64), axis=axes))


def channel_affine(x, shift, scale, offset, grad=None, grad_scale=None):
    cp = backend.cupy()
    coefficients = [_per_channel(v, x, x.dtype) for v in (shift, scale, offset)]
    if grad is None:
        grad, grad_scale = cp.zeros((), x.dtype), cp.zeros((), x.dtype)
    else:
        grad_scale = _per_channel(grad_scale, x, x.dtype)
    return _kernels()[1](x, *coefficients, grad, grad_scale)
