"""BatchNorm's per-channel passes of ``batchnorm`` for NumPy arrays, compiled with numba: each one read
of its inputs, in any of two memory layouts.

Two loop orders for two memory layouts: channels first, (N, C, L) with each channel's L values
contiguous, and channels last, (R, C) rows (NHWC memory behind an NCHW-shaped view, or an (N, C)
matrix), where the innermost loop runs over channels.
"""
import numba
import numpy as np

from . import big_arrays
from .sized import sized_kernel

_ROWS_PER_BLOCK = 256  # channels-last sums add per block of rows, in an order that does not depend on the thread count


def _channels_innermost(x):
    """A view of x (N, C, ...) with the channel axis moved last: (N, ..., C)."""
    return x.transpose((0,) + tuple(range(2, x.ndim)) + (1,))


def _from_channels_innermost(x):
    """The inverse of ``_channels_innermost``."""
    return x.transpose((0, x.ndim - 1) + tuple(range(1, x.ndim - 1)))


def _is_channels_last(x):
    return _channels_innermost(x).flags.c_contiguous


def _as_layout(a, channels_last):
    """(R, C) rows or (N, C, L) of ``a``: views when its memory is in that layout, else copies."""
    if channels_last:
        return _channels_innermost(a).reshape(-1, a.shape[1])
    return a.reshape(a.shape[0], a.shape[1], -1)


# ----------------------------------------------------------------------------- numba kernels
@sized_kernel(fastmath={"reassoc"})
def _sums_channels_first(p, p_shift, q, q_shift, sum_p, sum_pq):
    batch, channels, length = p.shape
    for c in numba.prange(channels):
        total_p = total_pq = 0.0
        for n in range(batch):
            for i in range(length):
                d = p[n, c, i] - p_shift[c]
                total_p += d
                total_pq += d * (q[n, c, i] - q_shift[c])
        sum_p[c], sum_pq[c] = total_p, total_pq


@sized_kernel()
def _sums_channels_last(p, p_shift, q, q_shift, sum_p, sum_pq):
    rows, channels = p.shape
    blocks = (rows + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK
    partial_p = np.zeros((blocks, channels))
    partial_pq = np.zeros((blocks, channels))
    for b in numba.prange(blocks):
        r, stop = b * _ROWS_PER_BLOCK, min(rows, (b + 1) * _ROWS_PER_BLOCK)
        # four rows a pass over the channels, so that the float64 partial sums are loaded and stored once per four
        # rows, not per row: one thread on the 2-core Zen 5 EPYC, (131072, 32) 1.35 -> 0.80 ms, (32768, 64) 0.72
        # -> 0.30, (8192, 128) 0.25 -> 0.12
        while r + 4 <= stop:
            for c in range(channels):
                d0, d1 = p[r, c] - p_shift[c], p[r + 1, c] - p_shift[c]
                d2, d3 = p[r + 2, c] - p_shift[c], p[r + 3, c] - p_shift[c]
                partial_p[b, c] += (d0 + d1) + (d2 + d3)
                partial_pq[b, c] += (d0 * (q[r, c] - q_shift[c]) + d1 * (q[r + 1, c] - q_shift[c])) + \
                    (d2 * (q[r + 2, c] - q_shift[c]) + d3 * (q[r + 3, c] - q_shift[c]))
            r += 4
        for r in range(r, stop):
            for c in range(channels):
                d = p[r, c] - p_shift[c]
                partial_p[b, c] += d
                partial_pq[b, c] += d * (q[r, c] - q_shift[c])
    sum_p[:] = partial_p.sum(axis=0)
    sum_pq[:] = partial_pq.sum(axis=0)


@sized_kernel()
def _affine_channels_first(x, shift, scale, offset, grad, grad_scale, out):
    batch, channels, length = x.shape
    for nc in numba.prange(batch * channels):
        n, c = nc // channels, nc % channels
        for i in range(length):
            value = (x[n, c, i] - shift[c]) * scale[c] + offset[c]
            if grad is not None:  # compiled away when grad is None
                value += grad[n, c, i] * grad_scale[c]
            out[n, c, i] = value


@sized_kernel()
def _affine_channels_last(x, shift, scale, offset, grad, grad_scale, out):
    rows, channels = x.shape
    for b in numba.prange((rows + _ROWS_PER_BLOCK - 1) // _ROWS_PER_BLOCK):
        for r in range(b * _ROWS_PER_BLOCK, min(rows, (b + 1) * _ROWS_PER_BLOCK)):
            for c in range(channels):
                value = (x[r, c] - shift[c]) * scale[c] + offset[c]
                if grad is not None:
                    value += grad[r, c] * grad_scale[c]
                out[r, c] = value


# ----------------------------------------------------------------------------- entry points (see batchnorm)
def channel_sums(p, p_shift, q, q_shift):
    """Per channel (axis 1) of same-shaped p and q: sum(p - p_shift) and sum((p - p_shift) * (q - q_shift)),
    accumulated in float64; the shifts are (C,) arrays."""
    channels_last = _is_channels_last(p)
    sum_p, sum_pq = np.empty(p.shape[1]), np.empty(p.shape[1])
    kernel = _sums_channels_last if channels_last else _sums_channels_first
    kernel(_as_layout(p, channels_last), np.asarray(p_shift, np.float64), _as_layout(q, channels_last),
           np.asarray(q_shift, np.float64), sum_p, sum_pq, elements=p.size)
    return sum_p, sum_pq


def channel_affine(x, shift, scale, offset, grad=None, grad_scale=None):
    """Per channel: (x - shift) * scale + offset, plus grad * grad_scale when grad is given. The (C,)
    coefficients are cast to x's dtype; the result has x's shape, dtype and memory layout."""
    channels_last = _is_channels_last(x)
    shift, scale, offset, grad_scale = (None if v is None else np.asarray(v, x.dtype)
                                        for v in (shift, scale, offset, grad_scale))
    grad = None if grad is None else _as_layout(grad, channels_last)
    if channels_last:
        out = big_arrays.empty(_channels_innermost(x).shape, x.dtype)
        _affine_channels_last(_as_layout(x, True), shift, scale, offset, grad, grad_scale, out.reshape(-1, x.shape[1]),
                              elements=x.size)
        return _from_channels_innermost(out)
    out = big_arrays.empty(x.shape, x.dtype)
    _affine_channels_first(_as_layout(x, False), shift, scale, offset, grad, grad_scale, _as_layout(out, False),
                           elements=x.size)
    return out
