"""The pooling kernels of ``pooling`` for NumPy arrays, compiled with numba: the same windows, scan order
and results as its reference, in one pass over memory.

Layouts: an input whose memory is NHWC (an NCHW-shaped strided view, "channels last") is pooled by
kernels whose innermost loop runs over channels; any other input as N*C planes. Outputs keep the
input's layout, as PyTorch's do.
"""
import numba
import numpy as np

from . import big_arrays
from .pooling import is_channels_last
from .sized import sized_kernel


# ----------------------------------------------------------------------------- layouts
def _empty(shape, dtype, channels_last):
    """A new (N, C, H, W) array, C-contiguous or as a view of NHWC memory."""
    return big_arrays.empty(shape, dtype, (0, 2, 3, 1) if channels_last else None)


def _nhwc(x):
    return x.transpose(0, 2, 3, 1)


def _planes(x):
    """(N, C, H, W) as (N*C, H, W): a view when the strides allow it, else a copy."""
    n, c, h, w = x.shape
    return x.reshape(n * c, h, w)


def _bhwk(x, channels_last):
    """(N, C, H, W) as the (B, H, W, K) arrays that the average kernels and max-pool's backward take: (N, H, W, C)
    for channels last, (N*C, H, W, 1) planes otherwise. Always decided by the forward input's layout:
    a 1x1 output, for one, is C-contiguous in both."""
    return _nhwc(x) if channels_last else _planes(x)[..., None]


# ----------------------------------------------------------------------------- numba kernels
# Max: each window is scanned row by row as PyTorch does; a larger value or a NaN takes over, so the first maximum
# wins a tie and the last NaN wins over numbers. Written as selects, not branches: the comparisons of pooling are
# unpredictable. But where a loop runs scalar (the NCHW planes; channels last below 16 channels), LLVM compiles a
# float select whose condition joins two comparisons, (v > best) | (v != v), into a branch on AVX2 CPUs, taken at
# random on real data. So ``_scan`` keeps the first maximum (v > best) and the last NaN apart, and the result is the
# NaN where there was one: the same rule, one comparison per select. On one thread of a Zen 3 EPYC, batch 128,
# joined -> kept apart: LeNet's first pool (6 x 28 x 28, 2x2) 2.24 -> 0.52 ms channels last, 5.0 -> 3.0 NCHW; the
# ResNet stem's (64 x 32 x 32, 3x3 stride 2) 116 -> 47 NCHW. The channels-last kernel for other windows keeps the
# joined condition: its channel loop vectorises from 16 channels (the models' pools), and keeping the two apart
# there, in two more (OW, C) arrays, took the stem's pool from 12 to 20 ms.
@numba.njit(inline="always")
def _scan(v, at, best, arg, nan, nan_arg):
    """One tap of the scan: a larger value takes over ``best``, a NaN takes over ``nan``."""
    larger, unordered = v > best, v != v
    return (v if larger else best), (at if larger else arg), (v if unordered else nan), (at if unordered else nan_arg)


@numba.njit(inline="always")
def _result(best, arg, nan, nan_arg):
    """The scan's value and index: the last NaN where there was one, else the first maximum."""
    seen = nan != nan
    return (nan if seen else best), (nan_arg if seen else arg)


@sized_kernel()
def _max_forward_planes(x, h_start, h_stop, h_step, w_start, w_stop, w_step, out, indices):
    planes, _, width = x.shape
    for p in numba.prange(planes):
        for oh in range(out.shape[1]):
            for ow in range(out.shape[2]):
                out[p, oh, ow] = -np.inf  # read back in x's dtype
                first, best = h_start[oh] * width + w_start[ow], out[p, oh, ow]
                arg, nan, nan_arg = first, best, first
                for ih in range(h_start[oh], h_stop[oh], h_step):
                    for iw in range(w_start[ow], w_stop[ow], w_step):
                        best, arg, nan, nan_arg = _scan(x[p, ih, iw], ih * width + iw, best, arg, nan, nan_arg)
                out[p, oh, ow], indices[p, oh, ow] = _result(best, arg, nan, nan_arg)


@sized_kernel()
def _max_forward_nhwc(x, h_start, h_stop, h_step, w_start, w_stop, w_step, out, indices):
    """An output row at a time, each input row it reads once: its (OW, C) maxima stay in cache while the window rows
    pass (3x3, stride 2 on 128 x 64 x 32 x 32, one thread: 4.7 ms a pixel's window at a time, 3.3 so)."""
    batch, _, width, channels = x.shape
    out_h, out_w = out.shape[1], out.shape[2]
    for n in numba.prange(batch):
        for oh in range(out_h):
            maxima, winners = out[n, oh], indices[n, oh]  # (OW, C)
            for ow in range(out_w):
                first = h_start[oh] * width + w_start[ow]
                for c in range(channels):
                    maxima[ow, c] = -np.inf
                    winners[ow, c] = first
            for ih in range(h_start[oh], h_stop[oh], h_step):
                row = x[n, ih]
                for ow in range(out_w):
                    for iw in range(w_start[ow], w_stop[ow], w_step):
                        for c in range(channels):
                            v, best = row[iw, c], maxima[ow, c]
                            take = (v > best) | (v != v)
                            maxima[ow, c] = v if take else best
                            winners[ow, c] = ih * width + iw if take else winners[ow, c]


# MaxPool2d(2) (``Windows.halving``), channels last: the window's four taps written out, so that the loop over
# channels keeps each maximum in registers and vectorises, where the kernel above keeps it in ``out`` across its
# window loops. On the 2-core EPYC, batch 128: LeNet's first pool (6 x 28 x 28) 1.14 ms with the kernel above, 0.22
# with this one; 64 x 16 x 16 0.20 and 0.09; ResNet-9's first (128 x 32 x 32, on two threads) 3.8 and 2.3.
@sized_kernel()
def _max_forward_halving_nhwc(x, out, indices):
    width = x.shape[2]
    for n in numba.prange(x.shape[0]):
        for oh in range(out.shape[1]):
            top, bottom = x[n, 2 * oh], x[n, 2 * oh + 1]
            for ow in range(out.shape[2]):
                first = 2 * oh * width + 2 * ow  # the flat index of the window's top left pixel
                for c in range(out.shape[3]):
                    v = top[2 * ow, c]
                    best, arg, nan, nan_arg = _scan(top[2 * ow + 1, c], first + 1, v, first, v, first)
                    best, arg, nan, nan_arg = _scan(bottom[2 * ow, c], first + width, best, arg, nan, nan_arg)
                    best, arg, nan, nan_arg = _scan(bottom[2 * ow + 1, c], first + width + 1, best, arg, nan, nan_arg)
                    out[n, oh, ow, c], indices[n, oh, ow, c] = _result(best, arg, nan, nan_arg)


@sized_kernel()
def _max_backward(grad, indices, h_stop, grad_input):
    """grad_input[b, h, w, k] = the sum of the gradients of the windows whose maximum came from (h, w), on (B, H, W, K)
    arrays as the average kernels take them. The windows go down the rows in order, so each row is zeroed just before
    the first window that reaches it (and one that none reaches, at the end): no pass over the whole array first, and
    a row is still in cache when its windows' gradients arrive. On the 2-core EPYC, batch 128, against zeroing the
    whole array, then adding: ResNet-9's first pool (128 x 32 x 32, 2x2) 5.9 -> 2.8 ms, the ResNet stem's (64 x 32 x
    32, 3x3 stride 2) 2.9 -> 1.1."""
    width, kinds = grad_input.shape[2], grad_input.shape[3]
    for b in numba.prange(grad.shape[0]):
        pixels = grad_input[b].reshape(-1, kinds)  # (H*W, K): the rows of the windows' flat indices
        zeroed = 0  # the rows above this one are zeros or hold gradients
        for oh in range(grad.shape[1]):
            if h_stop[oh] > zeroed:
                pixels[zeroed * width:h_stop[oh] * width] = 0
                zeroed = h_stop[oh]
            for ow in range(grad.shape[2]):
                for k in range(kinds):
                    pixels[indices[b, oh, ow, k], k] += grad[b, oh, ow, k]
        pixels[zeroed * width:] = 0


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


# ----------------------------------------------------------------------------- entry points (see pooling)
def max_pool_forward(x, windows):
    """Max over each window of x (N, C, H, W): the output and, per output, the flat index h*W + w of
    the input element that won (PyTorch's indices, as int32 where they fit: half the memory MaxPool keeps for
    its backward), both in x's layout."""
    channels_last = is_channels_last(x)
    shape = x.shape[:2] + (len(windows.h_start), len(windows.w_start))
    index_type = np.int32 if x.shape[2] * x.shape[3] <= np.iinfo(np.int32).max else np.int64
    out, indices = _empty(shape, x.dtype, channels_last), _empty(shape, index_type, channels_last)
    if channels_last and windows.halving:
        _max_forward_halving_nhwc(_nhwc(x), _nhwc(out), _nhwc(indices), elements=x.size)
    elif channels_last:
        _max_forward_nhwc(_nhwc(x), *windows, _nhwc(out), _nhwc(indices), elements=x.size)
    else:
        _max_forward_planes(_planes(x), *windows, _planes(out), _planes(indices), elements=x.size)
    return out, indices


def max_pool_backward(grad, indices, windows, input_shape, channels_last):
    """Route each output's gradient to the input element its window's maximum came from; the result
    is channels last if the forward input was."""
    grad_input = _empty(input_shape, grad.dtype, channels_last)
    _max_backward(_bhwk(grad, channels_last), _bhwk(indices, channels_last), windows.h_stop,
                  _bhwk(grad_input, channels_last), elements=grad_input.size)
    return grad_input


def avg_pool_forward(x, windows, divisor):
    """Sum of each window of x (N, C, H, W) divided by ``divisor`` (OH, OW), in x's layout."""
    channels_last = is_channels_last(x)
    out = _empty(x.shape[:2] + (len(windows.h_start), len(windows.w_start)), x.dtype, channels_last)
    _avg_forward(_bhwk(x, channels_last), *windows, divisor.astype(x.dtype), _bhwk(out, channels_last),
                 elements=x.size)
    return out


def avg_pool_backward(grad, windows, divisor, input_shape, channels_last):
    """Spread each output's gradient evenly (1/divisor) over its window; the result is channels last if
    the forward input was."""
    grad_input = _empty(input_shape, grad.dtype, channels_last)
    grad_input[...] = 0
    _avg_backward(_bhwk(grad, channels_last), *windows, divisor.astype(grad.dtype), _bhwk(grad_input, channels_last),
                  elements=grad_input.size)
    return grad_input
