"""Pooling kernels on raw (N, C, H, W) arrays: max and average over windows, forward and backward.

Every pooling op (max_pool2d, avg_pool2d and their adaptive forms) is described by its windows:
output row i reads input rows h_start[i] <= h < h_stop[i] in steps of h_step (the dilation), and
likewise for columns. ``sliding_windows`` and ``adaptive_windows`` build these small tables on the
host; the numba kernels here and the CuPy kernels in ``pooling_cuda`` compute the same results from
them, and the plain-NumPy ``reference_*`` functions below spell the semantics out for the tests.

Layouts: an input whose memory is NHWC (an NCHW-shaped strided view, "channels last") is pooled by
kernels whose innermost loop runs over channels; any other input as N*C planes. Outputs keep the
input's layout, as PyTorch's do.
"""
import collections
import functools

import numba
import numpy as np

from .. import backend
from .sized import sized_kernel

Windows = collections.namedtuple("Windows", "h_start h_stop h_step w_start w_stop w_step")


# ----------------------------------------------------------------------------- window tables
def pooled_size(size, kernel, stride, padding, dilation=1, ceil_mode=False):
    """PyTorch's output length. With ceil_mode a partial last window counts, but it must start inside
    the input or the left padding."""
    span = dilation * (kernel - 1) + 1
    out = (size + 2 * padding - span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _sliding_axis(size, kernel, stride, padding, dilation, ceil_mode):
    """First tap inside the input, stop (exclusive), and the window's length counting padding, per output."""
    origin = np.arange(pooled_size(size, kernel, stride, padding, dilation, ceil_mode), dtype=np.int64)
    origin = origin * stride - padding
    start = origin + (-np.minimum(origin, 0) + dilation - 1) // dilation * dilation  # skip taps in the left padding
    stop = np.minimum(origin + dilation * (kernel - 1) + 1, size)
    padded_length = np.minimum(origin + kernel, size + padding) - origin  # avg_pool's count_include_pad (dilation 1)
    return start, stop, padded_length


def _read_only(*arrays):
    for a in arrays:
        a.flags.writeable = False  # the tables are cached and shared between calls
    return arrays


@functools.lru_cache(maxsize=512)
def sliding_windows(input_hw, kernel, stride, padding, dilation, ceil_mode):
    """The windows of max_pool2d/avg_pool2d (tuples of ints per axis), and their lengths counting padding."""
    axes = [_read_only(*_sliding_axis(*args, ceil_mode)) for args in zip(input_hw, kernel, stride, padding, dilation)]
    (h_start, h_stop, h_padded), (w_start, w_stop, w_padded) = axes
    return Windows(h_start, h_stop, dilation[0], w_start, w_stop, dilation[1]), (h_padded, w_padded)


@functools.lru_cache(maxsize=512)
def adaptive_windows(input_hw, output_hw):
    """Adaptive pooling's bins: output i covers [floor(i*In/Out), ceil((i+1)*In/Out))."""
    tables = []
    for size, out in zip(input_hw, output_hw):
        i = np.arange(out, dtype=np.int64)
        tables += [*_read_only(i * size // out, -(-(i + 1) * size // out)), 1]
    return Windows(*tables)


def window_divisor(windows, padded_lengths=None, divisor_override=None):
    """The (OH, OW) number each window's sum is divided by: the override, the window's area counting
    padding (``padded_lengths``), or the number of input elements it covers."""
    if padded_lengths is not None:
        heights, widths = padded_lengths
    else:
        heights, widths = windows.h_stop - windows.h_start, windows.w_stop - windows.w_start
    divisor = np.maximum(np.outer(heights, widths), 1)  # an empty window sums to 0 and must not give 0/0
    return divisor if divisor_override is None else np.full_like(divisor, divisor_override)


# ----------------------------------------------------------------------------- layouts
def is_channels_last(x):
    """True for an (N, C, H, W)-shaped view of NHWC memory (and not also plain C-contiguous)."""
    return x.ndim == 4 and not x.flags.c_contiguous and x.transpose(0, 2, 3, 1).flags.c_contiguous


def _empty(shape, dtype, channels_last):
    """A new (N, C, H, W) array, C-contiguous or as a view of NHWC memory."""
    if not channels_last:
        return np.empty(shape, dtype)
    n, c, h, w = shape
    return np.empty((n, h, w, c), dtype).transpose(0, 3, 1, 2)


def _nhwc(x):
    return x.transpose(0, 2, 3, 1)


def _planes(x):
    """(N, C, H, W) as (N*C, H, W): a view when the strides allow it, else a copy."""
    n, c, h, w = x.shape
    return x.reshape(n * c, h, w)


def _bhwk(x, channels_last):
    """(N, C, H, W) as the (B, H, W, K) arrays that the average and scatter kernels take: (N, H, W, C)
    for channels last, (N*C, H, W, 1) planes otherwise. Always decided by the forward input's layout:
    a 1x1 output, for one, is C-contiguous in both."""
    return _nhwc(x) if channels_last else _planes(x)[..., None]


def _pixel_rows(x, channels_last):
    """The (B, H*W, K) form of ``_bhwk``, whose pixels the scatter kernel indexes by h*W + w."""
    b = _bhwk(x, channels_last)
    return b.reshape(b.shape[0], -1, b.shape[3])


def _cuda():
    from . import pooling_cuda
    return pooling_cuda


# ----------------------------------------------------------------------------- numba kernels
# Max: each window is scanned row by row as PyTorch does; a larger value or a NaN takes over, so the
# first maximum wins a tie and the last NaN wins over numbers. Written as selects, not branches: the
# comparisons of pooling are unpredictable.
@sized_kernel()
def _max_forward_planes(x, h_start, h_stop, h_step, w_start, w_stop, w_step, out, indices):
    planes, _, width = x.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for p in numba.prange(planes):
        for oh in range(out_h):
            for ow in range(out_w):
                out[p, oh, ow] = -np.inf
                indices[p, oh, ow] = h_start[oh] * width + w_start[ow]
            for ih in range(h_start[oh], h_stop[oh], h_step):
                for ow in range(out_w):
                    best, arg = out[p, oh, ow], indices[p, oh, ow]
                    for iw in range(w_start[ow], w_stop[ow], w_step):
                        v = x[p, ih, iw]
                        take = (v > best) | (v != v)
                        best = v if take else best
                        arg = ih * width + iw if take else arg
                    out[p, oh, ow], indices[p, oh, ow] = best, arg


@sized_kernel()
def _max_forward_nhwc(x, h_start, h_stop, h_step, w_start, w_stop, w_step, out, indices):
    batch, _, width, channels = x.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for n in numba.prange(batch):
        for oh in range(out_h):
            for ow in range(out_w):
                first = h_start[oh] * width + w_start[ow]
                for c in range(channels):
                    out[n, oh, ow, c] = -np.inf
                    indices[n, oh, ow, c] = first
                for ih in range(h_start[oh], h_stop[oh], h_step):
                    for iw in range(w_start[ow], w_stop[ow], w_step):
                        for c in range(channels):
                            v, best = x[n, ih, iw, c], out[n, oh, ow, c]
                            take = (v > best) | (v != v)
                            out[n, oh, ow, c] = v if take else best
                            indices[n, oh, ow, c] = ih * width + iw if take else indices[n, oh, ow, c]


@sized_kernel()
def _scatter_by_index(grad, indices, grad_input):
    """grad_input[b, indices[b, j, k], k] += grad[b, j, k]: the max-pool gradient to each window's winner."""
    for b in numba.prange(grad.shape[0]):
        for j in range(grad.shape[1]):
            for k in range(grad.shape[2]):
                grad_input[b, indices[b, j, k], k] += grad[b, j, k]


# Average: one kernel serves both layouts, on (B, H, W, K) arrays: (N, H, W, C) for channels last,
# (N*C, H, W, 1) for planes. Sums run in PyTorch's order (row by row).
@sized_kernel()
def _avg_forward(x, h_start, h_stop, h_step, w_start, w_stop, w_step, divisor, out):
    for b in numba.prange(x.shape[0]):
        for oh in range(out.shape[1]):
            for ow in range(out.shape[2]):
                for k in range(x.shape[3]):
                    out[b, oh, ow, k] = 0
                for ih in range(h_start[oh], h_stop[oh], h_step):
                    for iw in range(w_start[ow], w_stop[ow], w_step):
                        for k in range(x.shape[3]):
                            out[b, oh, ow, k] += x[b, ih, iw, k]
                for k in range(x.shape[3]):
                    out[b, oh, ow, k] /= divisor[oh, ow]


@sized_kernel()
def _avg_backward(grad, h_start, h_stop, h_step, w_start, w_stop, w_step, divisor, grad_input):
    for b in numba.prange(grad.shape[0]):
        for oh in range(grad.shape[1]):
            for ow in range(grad.shape[2]):
                for ih in range(h_start[oh], h_stop[oh], h_step):
                    for iw in range(w_start[ow], w_stop[ow], w_step):
                        for k in range(grad.shape[3]):
                            grad_input[b, ih, iw, k] += grad[b, oh, ow, k] / divisor[oh, ow]


# ----------------------------------------------------------------------------- entry points
def max_pool_forward(x, windows):
    """Max over each window of x (N, C, H, W): the output and, per output, the flat index h*W + w of
    the input element that won (PyTorch's indices, int64), both in x's layout."""
    if backend.is_cupy_array(x):
        return _cuda().max_pool_forward(x, windows)
    channels_last = is_channels_last(x)
    shape = x.shape[:2] + (len(windows.h_start), len(windows.w_start))
    out, indices = _empty(shape, x.dtype, channels_last), _empty(shape, np.int64, channels_last)
    if channels_last:
        _max_forward_nhwc(_nhwc(x), *windows, _nhwc(out), _nhwc(indices), elements=x.size)
    else:
        _max_forward_planes(_planes(x), *windows, _planes(out), _planes(indices), elements=x.size)
    return out, indices


def max_pool_backward(grad, indices, windows, input_shape, channels_last):
    """Route each output's gradient to the input element its window's maximum came from (``windows``: the
    forward's); the result is channels last if the forward input was."""
    if backend.is_cupy_array(grad):
        return _cuda().max_pool_backward(grad, indices, windows, input_shape)
    grad_input = _empty(input_shape, grad.dtype, channels_last)
    flat_input = _pixel_rows(grad_input, channels_last)  # a view: grad_input is new, in this layout
    flat_input[...] = 0
    _scatter_by_index(_pixel_rows(grad, channels_last), _pixel_rows(indices, channels_last), flat_input,
                      elements=grad_input.size)
    return grad_input


def avg_pool_forward(x, windows, divisor):
    """Sum of each window of x (N, C, H, W) divided by ``divisor`` (OH, OW), in x's layout."""
    if backend.is_cupy_array(x):
        return _cuda().avg_pool_forward(x, windows, divisor)
    channels_last = is_channels_last(x)
    out = _empty(x.shape[:2] + (len(windows.h_start), len(windows.w_start)), x.dtype, channels_last)
    _avg_forward(_bhwk(x, channels_last), *windows, divisor.astype(x.dtype), _bhwk(out, channels_last),
                 elements=x.size)
    return out


def avg_pool_backward(grad, windows, divisor, input_shape, channels_last):
    """Spread each output's gradient evenly (1/divisor) over its window; the result is channels last if
    the forward input was."""
    if backend.is_cupy_array(grad):
        return _cuda().avg_pool_backward(grad, windows, divisor, input_shape)
    grad_input = _empty(input_shape, grad.dtype, channels_last)
    grad_input[...] = 0
    _avg_backward(_bhwk(grad, channels_last), *windows, divisor.astype(grad.dtype), _bhwk(grad_input, channels_last),
                  elements=grad_input.size)
    return grad_input


# ----------------------------------------------------------------------------- NumPy reference (for tests)
def _window_positions(windows, oh, ow):
    rows = np.arange(windows.h_start[oh], windows.h_stop[oh], windows.h_step)
    cols = np.arange(windows.w_start[ow], windows.w_stop[ow], windows.w_step)
    return rows, cols


def reference_max_pool(x, windows):
    """Window by window in NumPy: the first maximum in row-major scan order, or the last NaN."""
    n, c, h, w = x.shape
    out_h, out_w = len(windows.h_start), len(windows.w_start)
    out = np.empty((n, c, out_h, out_w), x.dtype)
    indices = np.empty((n, c, out_h, out_w), np.int64)
    for oh in range(out_h):
        for ow in range(out_w):
            rows, cols = _window_positions(windows, oh, ow)
            flat = (rows[:, None] * w + cols[None, :]).reshape(-1)
            values = x[:, :, rows[:, None], cols[None, :]].reshape(n, c, -1)
            nan = np.isnan(values)
            last_nan = nan.shape[-1] - 1 - np.argmax(nan[..., ::-1], axis=-1)
            pick = np.where(nan.any(axis=-1), last_nan, np.argmax(values, axis=-1))
            indices[:, :, oh, ow] = flat[pick]
            out[:, :, oh, ow] = np.take_along_axis(values, pick[..., None], axis=-1)[..., 0]
    return out, indices


def reference_max_pool_backward(grad, indices, input_shape):
    n, c, h, w = input_shape
    grad_input = np.zeros((n * c, h * w), grad.dtype)
    planes = np.repeat(np.arange(n * c), indices[0, 0].size)
    np.add.at(grad_input, (planes, indices.reshape(-1)), grad.reshape(-1))
    return grad_input.reshape(input_shape)


def reference_avg_pool(x, windows, divisor):
    n, c = x.shape[:2]
    out = np.empty((n, c, len(windows.h_start), len(windows.w_start)), x.dtype)
    for oh in range(out.shape[2]):
        for ow in range(out.shape[3]):
            rows, cols = _window_positions(windows, oh, ow)
            out[:, :, oh, ow] = x[:, :, rows[:, None], cols[None, :]].sum(axis=(2, 3)) / divisor[oh, ow]
    return out


def reference_avg_pool_backward(grad, windows, divisor, input_shape):
    grad_input = np.zeros(input_shape, grad.dtype)
    for oh in range(grad.shape[2]):
        for ow in range(grad.shape[3]):
            rows, cols = _window_positions(windows, oh, ow)
            grad_input[:, :, rows[:, None], cols[None, :]] += (grad[:, :, oh, ow] / divisor[oh, ow])[..., None, None]
    return grad_input
