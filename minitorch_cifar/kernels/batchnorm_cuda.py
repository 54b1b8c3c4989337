"""The BatchNorm passes of ``batchnorm`` for CuPy arrays: the channel sums (one reduction computing both, in two
deterministic stages) and the affine map (one elementwise kernel); and the per-channel coefficient math of
``ops.norm`` (statistics, running averages, backward coefficients) as one kernel over the C channels each way,
where array expressions would launch about ten tiny kernels.

The per-channel (C,) coefficients are reshaped to (1, C, 1, ...) and broadcast by CuPy.
"""
import functools

from .. import backend
from .batchnorm import affine_dtype


# The batch statistics and running averages of ops.norm.BatchNorm.forward, per channel. Rounding follows the
# array code: (1 - momentum) is rounded to the running statistics' dtype and multiplied there, as NumPy does
# with a Python float; the rest is float64. NaN survives the clamp of the variance, as in xp.maximum.
_STATISTICS = """
    mean = sample + sum_shifted / count;
    const double shifted_mean = sum_shifted / count;
    double var = sum_squares / count - shifted_mean * shifted_mean;
    var = (var > 0.0 || var != var) ? var : 0.0;
    if (track) {
        running_mean[i] = (R)((double)((R)(1.0 - momentum) * running_mean[i]) + momentum * mean);
        running_var[i] = (R)((double)((R)(1.0 - momentum) * running_var[i]) + momentum * var * unbiased);
    }
    invstd = 1.0 / sqrt(var + eps);
    scale = has_weight ? invstd * (double)weight[i] : invstd;
"""

# dL/dweight, dL/dbias and the coefficients b, c of dL/dx = (x - mean) * b + c + g * scale (see ops.norm)
_BACKWARD = """
    grad_weight = (T)(sum_gx * invstd);
    grad_bias = (T)sum_g;
    b = -scale * (invstd * invstd) * sum_gx / count;
    c = -scale * sum_g / count;
"""


@functools.cache
def _coefficient_kernels():
    cp = backend.cupy()
    statistics = cp.ElementwiseKernel(
        "float64 sample, float64 sum_shifted, float64 sum_squares, raw W weight, float64 count, float64 momentum, "
        "float64 unbiased, float64 eps, bool has_weight, bool track",
        "float64 mean, float64 invstd, float64 scale, raw R running_mean, raw R running_var",
        _STATISTICS, "minitorch_batch_norm_statistics")
    backward = cp.ElementwiseKernel(
        "float64 sum_g, float64 sum_gx, float64 invstd, float64 scale, float64 count",
        "T grad_weight, T grad_bias, float64 b, float64 c", _BACKWARD, "minitorch_batch_norm_coefficients")
    return statistics, backward


def batch_statistics(sample, sum_shifted, sum_squares, count, weight, running_mean, running_var, momentum, eps):
    """(mean, invstd, scale) per channel from ``channel_sums``' shifted sums, updating the running statistics
    in place when given (``momentum`` a number or a device scalar); one kernel."""
    cp = backend.cupy()
    channels = sample.shape[0]
    mean, invstd, scale = (cp.empty(channels, cp.float64) for _ in range(3))
    track = running_mean is not None
    nothing = cp.empty(0, cp.float32)
    _coefficient_kernels()[0](
        sample, sum_shifted, sum_squares, nothing if weight is None else weight, float(count), momentum,
        count / (count - 1), float(eps), weight is not None, track, mean, invstd, scale,
        running_mean if track else nothing, running_var if track else nothing)
    return mean, invstd, scale


def backward_coefficients(sum_g, sum_gx, invstd, scale, count, dtype):
    """(grad_weight, grad_bias, b, c) per channel; one kernel."""
    cp = backend.cupy()
    channels = sum_g.shape[0]
    outputs = (cp.empty(channels, dtype), cp.empty(channels, dtype), cp.empty(channels, cp.float64),
               cp.empty(channels, cp.float64))
    _coefficient_kernels()[1](sum_g, sum_gx, invstd, scale, float(count), *outputs)
    return outputs


@functools.cache
def _kernels():
    cp = backend.cupy()
    # both sums in one pass: sum(p - a) in the real part of a complex128 accumulator, sum((p - a)(q - b)) in
    # the imaginary part
    sums = cp.ReductionKernel(
        "T p, float64 p_shift, T q, float64 q_shift", "complex128 total",
        "complex<double>((double)p - p_shift, ((double)p - p_shift) * ((double)q - q_shift))", "a + b",
        "total = a", "complex<double>(0, 0)", "minitorch_channel_sums")
    # computed in C: x's dtype T, or float32 for float16 (batchnorm.affine_dtype)
    affine = cp.ElementwiseKernel(
        "T x, C shift, C scale, C offset, T grad, C grad_scale", "T out",
        "out = (T)(((C)x - shift) * scale + offset + (C)grad * grad_scale)", "minitorch_channel_affine")
    return sums, affine


def _per_channel(values, like, dtype):
    """(C,) values as a (1, C, 1, ...) array that broadcasts against ``like``."""
    return backend.cupy().asarray(values, dtype=dtype).reshape((1, -1) + (1,) * (like.ndim - 2))


def channel_sums(p, p_shift, q, q_shift):
    """Two stages, both deterministic: over each image's pixels to (N, C) partial sums, then over the N images.
    One reduction straight to C sums would run on only about C/32 thread blocks for a channels-last input
    (CuPy gives a block 32 outputs when the kept axis is contiguous): 2 of an H200's 132 SMs for 64 channels."""
    cp = backend.cupy()
    sums = _kernels()[0]
    p_shift, q_shift = _per_channel(p_shift, p, cp.float64), _per_channel(q_shift, p, cp.float64)
    spatial = tuple(range(2, p.ndim))
    partial = sums(p, p_shift, q, q_shift, axis=spatial) if spatial else sums(p, p_shift, q, q_shift, axis=(0,))
    total = partial.sum(axis=0) if spatial else partial
    return total.real, total.imag


def channel_affine(x, shift, scale, offset, grad=None, grad_scale=None):
    """``batchnorm.channel_affine`` in one kernel, computed in ``affine_dtype(x.dtype)``; the result is C-contiguous
    (CuPy's elementwise kernels keep no other layout)."""
    cp = backend.cupy()
    dtype = affine_dtype(x.dtype)
    coefficients = [_per_channel(v, x, dtype) for v in (shift, scale, offset)]
    if grad is None:
        grad, grad_scale = cp.zeros((), x.dtype), cp.zeros((), dtype)
    else:
        grad_scale = _per_channel(grad_scale, x, dtype)
    return _kernels()[1](x, *coefficients, grad, grad_scale)
