"""Pooling on raw (N, C, H, W) arrays: max and average over windows, forward and backward.

Every pooling op (max_pool2d, avg_pool2d and their adaptive forms) is described by its windows:
output row i reads input rows h_start[i] <= h < h_stop[i] in steps of h_step (the dilation), and
likewise for columns. ``sliding_windows`` and ``adaptive_windows`` build these small tables on the
host. The ``reference_*`` functions below compute each op from them in plain array code (NumPy or
CuPy): read them first. In fast mode (``switch``) the numba kernels of ``pooling_numba`` and the CUDA
kernels of ``pooling_cuda`` compute the same results in one pass over memory each, keeping the input's
memory layout (channels last stays channels last, as in PyTorch).
"""
import collections
import functools

import numpy as np

from .. import backend
from . import numba_kernels, switch


class Windows(collections.namedtuple("Windows", "h_start h_stop h_step w_start w_stop w_step")):
    """Output row i reads input rows h_start[i] <= h < h_stop[i] in steps of h_step, and likewise for columns."""

    @functools.cached_property
    def halving(self):
        """True when output (i, j) reads exactly the 2x2 input pixels from (2i, 2j): MaxPool2d(2), the pooling of
        every CIFAR-10 model here, which the numba kernels run with the window's four taps written out."""
        return self.h_step == self.w_step == 1 and all(
            np.array_equal(start, 2 * np.arange(len(start))) and np.array_equal(stop, start + 2)
            for start, stop in [(self.h_start, self.h_stop), (self.w_start, self.w_stop)])


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


def is_channels_last(x):
    """True for an (N, C, H, W)-shaped view of NHWC memory (and not also plain C-contiguous)."""
    return x.ndim == 4 and not x.flags.c_contiguous and x.transpose(0, 2, 3, 1).flags.c_contiguous


# ----------------------------------------------------------------------------- reference: read this first
def _window_positions(windows, oh, ow):
    """The input rows and columns that output (oh, ow) reads."""
    rows = np.arange(windows.h_start[oh], windows.h_stop[oh], windows.h_step)
    cols = np.arange(windows.w_start[ow], windows.w_stop[ow], windows.w_step)
    return rows, cols


def reference_max_pool(x, windows):
    """Window by window, for the whole batch and every channel at once: the maximum, and its flat position
    h * W + w (PyTorch's indices). PyTorch scans a window row by row and takes a larger value or a NaN, so
    the first maximum wins a tie and the last NaN wins over numbers: argmax picks the first maximum, and
    the NaN case is looked up separately."""
    xp = backend.get_array_module(x)
    n, c, h, w = x.shape
    out_h, out_w = len(windows.h_start), len(windows.w_start)
    out = xp.empty((n, c, out_h, out_w), x.dtype)
    indices = xp.empty((n, c, out_h, out_w), np.int64)
    for oh in range(out_h):
        for ow in range(out_w):
            rows, cols = _window_positions(windows, oh, ow)
            flat = xp.asarray((rows[:, None] * w + cols[None, :]).reshape(-1))  # each tap's h * W + w
            values = x[:, :, xp.asarray(rows)[:, None], xp.asarray(cols)[None, :]].reshape(n, c, -1)  # (N, C, taps)
            nan = xp.isnan(values)
            last_nan = nan.shape[-1] - 1 - xp.argmax(nan[..., ::-1], axis=-1)
            pick = xp.where(nan.any(axis=-1), last_nan, xp.argmax(values, axis=-1))
            indices[:, :, oh, ow] = flat[pick]
            out[:, :, oh, ow] = xp.take_along_axis(values, pick[..., None], axis=-1)[..., 0]
    return out, indices


def reference_max_pool_backward(grad, indices, input_shape):
    """Each output's gradient goes to the one input element its window's maximum came from (the index the
    forward recorded: the element PyTorch picks); where windows overlap, an element that won several
    windows receives the sum of their gradients."""
    xp = backend.get_array_module(grad)
    n, c, h, w = input_shape
    grad_input = xp.zeros((n * c, h * w), grad.dtype)  # one row per (image, channel) plane
    planes = xp.repeat(xp.arange(n * c), indices.shape[2] * indices.shape[3])
    backend.scatter_add(grad_input, (planes, indices.reshape(-1)), grad.reshape(-1))
    return grad_input.reshape(input_shape)


def reference_avg_pool(x, windows, divisor):
    """Window by window: the sum of its elements divided by ``divisor[oh, ow]``."""
    n, c = x.shape[:2]
    xp = backend.get_array_module(x)
    out = xp.empty((n, c, len(windows.h_start), len(windows.w_start)), x.dtype)
    for oh in range(out.shape[2]):
        for ow in range(out.shape[3]):
            rows, cols = _window_positions(windows, oh, ow)
            window = x[:, :, xp.asarray(rows)[:, None], xp.asarray(cols)[None, :]]
            out[:, :, oh, ow] = window.sum(axis=(2, 3)) / divisor[oh, ow]
    return out


def reference_avg_pool_backward(grad, windows, divisor, input_shape):
    """Each output's gradient, divided by ``divisor[oh, ow]``, is added to every element of its window."""
    xp = backend.get_array_module(grad)
    grad_input = xp.zeros(input_shape, grad.dtype)
    for oh in range(grad.shape[2]):
        for ow in range(grad.shape[3]):
            rows, cols = _window_positions(windows, oh, ow)
            share = grad[:, :, oh, ow] / divisor[oh, ow]
            grad_input[:, :, xp.asarray(rows)[:, None], xp.asarray(cols)[None, :]] += share[..., None, None]
    return grad_input


# ----------------------------------------------------------------------------- entry points
def _numba():
    return numba_kernels("pooling_numba")


def _cuda():
    from . import pooling_cuda
    return pooling_cuda


def max_pool_forward(x, windows):
    """Max over each window of x (N, C, H, W): the output and, per output, the flat index h*W + w of
    the input element that won (PyTorch's indices: int64, or int32 from the numba kernels where they fit). The
    fast kernels keep x's layout."""
    if switch.reference():
        return reference_max_pool(x, windows)
    if backend.is_cupy_array(x):
        return _cuda().max_pool_forward(x, windows)
    return _numba().max_pool_forward(x, windows)


def max_pool_backward(grad, indices, windows, input_shape, channels_last):
    """Route each output's gradient to the input element its window's maximum came from (``windows``: the
    forward's, which the GPU's gather and the numba kernels of MaxPool2d(2) read); the fast kernels' result is
    channels last if the forward input was."""
    if switch.reference():
        return reference_max_pool_backward(grad, indices, input_shape)
    if backend.is_cupy_array(grad):
        return _cuda().max_pool_backward(grad, indices, windows, input_shape)
    return _numba().max_pool_backward(grad, indices, windows, input_shape, channels_last)


def avg_pool_forward(x, windows, divisor):
    """Sum of each window of x (N, C, H, W) divided by ``divisor`` (OH, OW). The fast kernels keep x's layout."""
    if switch.reference():
        return reference_avg_pool(x, windows, divisor)
    if backend.is_cupy_array(x):
        return _cuda().avg_pool_forward(x, windows, divisor)
    return _numba().avg_pool_forward(x, windows, divisor)


def avg_pool_backward(grad, windows, divisor, input_shape, channels_last):
    """Spread each output's gradient evenly (1/divisor) over its window; the fast kernels' result is
    channels last if the forward input was."""
    if switch.reference():
        return reference_avg_pool_backward(grad, windows, divisor, input_shape)
    if backend.is_cupy_array(grad):
        return _cuda().avg_pool_backward(grad, windows, divisor, input_shape)
    return _numba().avg_pool_backward(grad, windows, divisor, input_shape, channels_last)
