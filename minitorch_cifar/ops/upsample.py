"""Resizing of (N, C, H, W) images as torch.nn.functional.interpolate: 'nearest' (PyTorch's legacy nearest),
'nearest-exact' and 'bilinear' (align_corners False or True).

Every mode reads each output row from one input row (nearest) or two (bilinear, weights 1 - t and t), and each output
column likewise, with PyTorch's source-index formulas (``nearest_sources``, ``linear_sources``). Along one axis that is
a matrix A of shape (out, in), and the resize is separable: per image and channel

    y = A_H x A_W^T,    so    dx = A_H^T dy A_W

Forward: nearest copies the source rows and columns (an exact copy, of inf and NaN too), bilinear multiplies by the
matrices. Backward: two matrix products, which add each output's gradient into its sources, with the same weights,
in a fixed order on the CPU and the GPU alike. (Through the products an inf or NaN input of bilinear makes its whole
image's output NaN, where PyTorch's stays near it. The other fixed-order way, ``backend.scatter_add``, took 0.2 s per
axis with np.add.at on a batch of 128 64-channel 32x32 gradients, where each product takes 6-10 ms.)
"""
import math

import numpy as np

from .. import backend
from ..autograd import Function

MODES = ("nearest", "nearest-exact", "bilinear")


def nearest_sources(in_size, out_size, scale, exact):
    """The input index each output index copies, as PyTorch computes it, in float32: floor(dst * s) (legacy
    'nearest', where out = 2 * in gives dst // 2) or floor((dst + 0.5) * s) ('nearest-exact'), s = 1 / scale_factor
    where one was given, else in / out; at most in - 1."""
    dst = np.arange(out_size)
    if not exact and out_size in (in_size, 2 * in_size):
        return dst * in_size // out_size
    s = np.float32(1.0 / scale) if scale else np.float32(in_size) / np.float32(out_size)
    src = ((dst + 0.5) * np.float64(s)).astype(np.float32) if exact else dst.astype(np.float32) * s
    return np.minimum(np.floor(src).astype(np.int64), in_size - 1)


def linear_sources(in_size, out_size, scale, align_corners, dtype):
    """(i0, i1, w0, w1): output index o reads w0[o] x[i0[o]] + w1[o] x[i1[o]], with PyTorch's formulas computed in
    ``dtype``: source s = o (in - 1) / (out - 1) with align_corners, else max(0, (o + 0.5) / scale - 0.5), the scale
    scale_factor where one was given, else out / in; i0 = floor(s), i1 = i0 + 1 (but at the last index), w1 = s - i0."""
    dst = np.arange(out_size)
    if out_size == in_size:  # a copy, whatever the scale factor
        return dst, dst, np.ones(out_size, dtype), np.zeros(out_size, dtype)
    if align_corners:
        ratio = dtype.type(in_size - 1) / dtype.type(out_size - 1) if out_size > 1 else dtype.type(0)
        src = ratio * dst.astype(dtype)
    else:
        ratio = dtype.type(1.0 / scale) if scale else dtype.type(in_size) / dtype.type(out_size)
        src = np.maximum(ratio * (dst.astype(dtype) + dtype.type(0.5)) - dtype.type(0.5), dtype.type(0))
    i0 = np.minimum(np.floor(src).astype(np.int64), in_size - 1)
    w1 = np.clip(src - i0.astype(dtype), 0, 1).astype(dtype)
    return i0, i0 + (i0 < in_size - 1), (1 - w1).astype(dtype), w1


def axis_matrix(in_size, taps, dtype):
    """The (out, in) matrix A of one axis: A[o, i[o]] += w[o] for each tap (i, w)."""
    matrix = np.zeros((len(taps[0][0]), in_size), dtype)
    for index, weight in taps:
        np.add.at(matrix, (np.arange(len(index)), index), weight)
    return matrix


def _on_device_of(x, host_array):
    """``host_array`` where x lives: itself on the CPU, a cached copy on x's GPU."""
    return backend.device_constant(host_array, like=x) if backend.is_cupy_array(x) else host_array


class Resample(Function):
    """y = A_H x A_W^T of every image and channel of x (N, C, H, W), for the (out, in) matrices ``rows`` and ``cols``;
    with ``sources`` (nearest: each axis's source indices) forward copies those rows and columns instead."""
    saves_arrays = False  # it keeps the constant matrices only

    def forward(self, x, rows, cols, sources=None):
        xp = backend.get_array_module(x)
        self.rows, self.cols = _on_device_of(x, rows), _on_device_of(x, cols)
        if sources is not None:
            source_rows, source_cols = (_on_device_of(x, s) for s in sources)
            return xp.take(xp.take(x, source_rows, axis=2), source_cols, axis=3)
        return backend.matmul(self.rows, backend.matmul(x, self.cols.T))

    def backward(self, grad):
        return backend.matmul(self.rows.T, backend.matmul(grad, self.cols))  # dx = A_H^T dy A_W


def _per_axis(value, what, input):
    """``value`` (a number or a pair) as a pair, with PyTorch's error for a sequence of another length."""
    if not isinstance(value, (list, tuple)):
        return value, value
    if len(value) != 2:
        raise ValueError(f"Input and {what} must have the same number of spatial dimensions, but got input with "
                         f"spatial dimensions of {list(input.shape[2:])} and {what} of {value}. Please provide input "
                         f"tensor in (N, C, H, W) format and {what} in (H, W) format.")
    return tuple(value)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resize (N, C, H, W) input to ``size`` or by ``scale_factor`` (output size floor(H * scale_factor)), as
    torch.nn.functional.interpolate: modes 'nearest', 'nearest-exact' and 'bilinear' (``align_corners``: the corner
    pixels' centres of input and output coincide). A scale_factor also sets the source-index scale, unless
    ``recompute_scale_factor`` asks for in / out."""
    if mode not in MODES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported here; use one of {MODES}")
    if mode != "bilinear" and align_corners is not None:
        raise ValueError("align_corners option can only be set with the interpolating modes: linear | bilinear | "
                         "bicubic | trilinear")
    if input.ndim in (3, 5):
        raise NotImplementedError(f"interpolate: only 4-d input (N, C, H, W) is supported here (2-d resizing), got "
                                  f"shape {input.shape}")
    if input.ndim != 4:
        raise ValueError(f"interpolate: expected input of shape (N, C, H, W), got {input.shape}")
    if mode == "bilinear" and input.dtype.kind != "f":
        raise TypeError(f"interpolate: mode 'bilinear' needs a floating-point input, got dtype {input.dtype}")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported here")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    in_hw = input.shape[2:]
    if size is not None:
        out_hw, scales = _per_axis(size, "output size", input), (None, None)
        if not all(isinstance(n, (int, np.integer)) for n in out_hw):
            raise TypeError(f"interpolate: size must be an int or a pair of ints, got {size!r}")
    else:
        scales = _per_axis(scale_factor, "scale_factor", input)
        out_hw = tuple(math.floor(n * s) for n, s in zip(in_hw, scales))
        if recompute_scale_factor:
            scales = (None, None)
    if min(in_hw) < 1 or min(out_hw) < 1:
        raise ValueError(f"interpolate: input and output sizes should be greater than 0, but got input (H: {in_hw[0]}, "
                         f"W: {in_hw[1]}) output (H: {out_hw[0]}, W: {out_hw[1]})")
    dtype = np.dtype(input.dtype) if input.dtype.kind == "f" else np.dtype(np.float32)
    if mode == "bilinear":
        taps = [linear_sources(n, m, s, align_corners, np.result_type(dtype, np.float32))
                for n, m, s in zip(in_hw, out_hw, scales)]
        rows, cols = (axis_matrix(n, [(i0, w0), (i1, w1)], dtype) for n, (i0, i1, w0, w1) in zip(in_hw, taps))
        return Resample.apply(input, rows=rows, cols=cols)
    sources = [nearest_sources(n, m, s, mode == "nearest-exact") for n, m, s in zip(in_hw, out_hw, scales)]
    rows, cols = (axis_matrix(n, [(i, 1)], dtype) for n, i in zip(in_hw, sources))
    return Resample.apply(input, rows=rows, cols=cols, sources=sources)
