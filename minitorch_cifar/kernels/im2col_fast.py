"""im2col and col2im fast: numba kernels on the CPU, CUDA kernels (``im2col_cuda``) on the GPU; im2col's
transpose on the CPU, for few channels; and the column sums of the bias gradient.

They compute exactly ``kernels.im2col``'s definition (the tests compare them), written into buffers
the caller may reuse. The numba kernels walk the patch matrix row by row, are serial and release the
GIL: ``kernels.conv_methods`` runs them on chunks of the batch in parallel threads.
"""
import numba
import numpy as np

from .. import backend
from .im2col import padded_extent, patch_columns


def _cuda():
    from . import im2col_cuda
    return im2col_cuda


# ----------------------------------------------------------------------------- numba kernels
# Both kernels walk the patch matrix row by row. Where a kernel row's taps all fall inside the input
# (no dilation or groups between them), they read kw * C contiguous values, a run copied as one slice when it
# is long; short runs (few channels: 9 values for a 3x3 kernel on RGB) and single taps are copied value by value,
# because each slice makes two array views, which cost more than copying a few values: 0.76 -> 0.27 ms for the
# patches of 16 RGB images at 32x32, and 0.57 -> 0.10 ms for a dilated 3x3 on 32 channels, one thread on the
# 2-core EPYC. Long runs stay slices, which numba copies faster than its loops. The flag is a constant of each
# compiled entry point (``_im2col_short`` and ``_im2col_long``), so each is built without the other's branch.
SHORT_RUN = 64  # values: a kernel row's run shorter than this is copied value by value


@numba.njit(inline="always")
def _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, cols, short_runs):
    images, height, width, channels = x.shape
    per_group = channels // groups
    span = kw * per_group  # columns per kernel row of one group
    rows_of_x = x.reshape(images, height, width * channels)
    blocks = groups == 1 and dw == 1
    for n in range(images):
        for oh in range(out_h):
            for ow in range(out_w):
                r = (n * out_h + oh) * out_w + ow
                iw0 = ow * sw - pw
                whole_row = blocks and iw0 >= 0 and iw0 + kw <= width
                for group in range(groups):
                    for i in range(kh):
                        ih = oh * sh - ph + i * dh
                        k = (group * kh + i) * span
                        if ih < 0 or ih >= height:
                            cols[r, k:k + span] = 0
                        elif whole_row and not short_runs:
                            cols[r, k:k + span] = rows_of_x[n, ih, iw0 * channels:iw0 * channels + span]
                        elif whole_row:
                            start = iw0 * channels
                            for q in range(span):
                                cols[r, k + q] = rows_of_x[n, ih, start + q]
                        else:
                            for j in range(kw):
                                iw = iw0 + j * dw
                                at = k + j * per_group
                                if 0 <= iw < width:
                                    for q in range(per_group):
                                        cols[r, at + q] = x[n, ih, iw, group * per_group + q]
                                else:
                                    for q in range(per_group):
                                        cols[r, at + q] = 0


@numba.njit(inline="always")
def _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, x, short_runs):
    images, height, width, channels = x.shape
    per_group = channels // groups
    span = kw * per_group
    rows_of_x = x.reshape(images, height, width * channels)
    blocks = groups == 1 and dw == 1
    x[...] = 0
    for n in range(images):
        for oh in range(out_h):
            for ow in range(out_w):
                r = (n * out_h + oh) * out_w + ow
                iw0 = ow * sw - pw
                whole_row = blocks and iw0 >= 0 and iw0 + kw <= width
                for group in range(groups):
                    for i in range(kh):
                        ih = oh * sh - ph + i * dh
                        k = (group * kh + i) * span
                        if ih < 0 or ih >= height:
                            continue
                        if whole_row and not short_runs:
                            rows_of_x[n, ih, iw0 * channels:iw0 * channels + span] += cols[r, k:k + span]
                        elif whole_row:
                            start = iw0 * channels
                            for q in range(span):
                                rows_of_x[n, ih, start + q] += cols[r, k + q]
                        else:
                            for j in range(kw):
                                iw = iw0 + j * dw
                                if 0 <= iw < width:
                                    at = k + j * per_group
                                    for q in range(per_group):
                                        x[n, ih, iw, group * per_group + q] += cols[r, at + q]


@numba.njit(cache=True, nogil=True)
def _im2col_short(x, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, cols):
    _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, cols, True)


@numba.njit(cache=True, nogil=True)
def _im2col_long(x, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, cols):
    _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, cols, False)


@numba.njit(cache=True, nogil=True)
def _col2im_short(cols, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, x):
    _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, x, True)


@numba.njit(cache=True, nogil=True)
def _col2im_long(cols, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, x):
    _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, x, False)


# P^T has a row per (group, tap, channel) and the output pixels as columns: for one output row, a tap reads OW
# values from one row of the zero-padded input plane of its channel, every sw-th, so each row of P^T is copied as
# runs of OW values, which vectorise, where P's rows take runs of kw * C.
@numba.njit(cache=True, nogil=True)
def _im2col_transposed(x, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, padded, cols_t):
    images, height, width, channels = x.shape
    per_group = channels // groups
    padded[:, :, :ph] = 0
    padded[:, :, ph + height:] = 0
    padded[:, :, :, :pw] = 0
    padded[:, :, :, pw + width:] = 0
    for n in range(images):
        for c in range(channels):
            for h in range(height):
                for w in range(width):
                    padded[n, c, ph + h, pw + w] = x[n, h, w, c]
    rows = cols_t.reshape(groups, kh, kw, per_group, images, out_h, out_w)
    for group in range(groups):
        for i in range(kh):
            for j in range(kw):
                for c in range(per_group):
                    for n in range(images):
                        for oh in range(out_h):
                            # a view from the tap's first column: source[ow] then needs no check for a negative
                            # index, and the loop vectorises (5x faster than source[j * dw + ow])
                            source = padded[n, group * per_group + c, oh * sh + i * dh, j * dw:]
                            target = rows[group, i, j, c, n, oh]
                            if sw == 1:  # contiguous: a copy of whole vectors (the only case Im2col takes)
                                for ow in range(out_w):
                                    target[ow] = source[ow]
                            else:
                                for ow in range(out_w):
                                    target[ow] = source[ow * sw]


@numba.njit(cache=True, nogil=True)
def _column_sums(a, out):
    out[:] = 0
    for r in range(a.shape[0]):
        for c in range(a.shape[1]):
            out[c] += a[r, c]


def has_short_runs(channels, geometry):
    """Whether a kernel row's run of kw * C / groups values is short enough to copy value by value."""
    return geometry.kernel[1] * channels // geometry.groups < SHORT_RUN


def _arguments(geometry):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geometry.kernel, geometry.stride, geometry.padding, geometry.dilation
    return kh, kw, sh, sw, ph, pw, dh, dw, geometry.groups, *geometry.output


# ----------------------------------------------------------------------------- entry points
def im2col(x, geometry, out=None):
    """The patch matrix (N * OH * OW, KH * KW * C) of channels-last x (N, H, W, C), written into ``out`` if given."""
    n, _, _, c = x.shape
    shape = (n * geometry.output[0] * geometry.output[1], patch_columns(c, geometry))
    if backend.is_cupy_array(x):
        return _cuda().im2col(x, geometry, shape, out)
    out = np.empty(shape, x.dtype) if out is None else out
    kernel = _im2col_short if has_short_runs(c, geometry) else _im2col_long
    kernel(x, *_arguments(geometry), out)
    return out


def planes_shape(input_shape, geometry):
    """The shape (N, C, H', W') of the zero-padded planes ``im2col_transposed`` works in."""
    n, _, _, c = input_shape
    return (n, c) + padded_extent(input_shape, geometry)[1]


def im2col_transposed(x, geometry, planes, out):
    """P^T (KH * KW * C, N * OH * OW) of channels-last x (N, H, W, C), written into ``out``, on the CPU; ``planes``:
    room of ``planes_shape`` for x zero-padded, a plane per channel."""
    _im2col_transposed(x, *_arguments(geometry), planes, out)
    return out


def col2im(cols, geometry, input_shape, out=None):
    """The adjoint of im2col: a channels-last array of ``input_shape`` (N, H, W, C) in which each element is the
    sum of the patch-matrix entries ``cols`` that im2col copied from it. Written into ``out`` if given."""
    if backend.is_cupy_array(cols):
        return _cuda().col2im(cols, geometry, input_shape, out)
    out = np.empty(input_shape, cols.dtype) if out is None else out
    kernel = _col2im_short if has_short_runs(input_shape[3], geometry) else _col2im_long
    kernel(cols, *_arguments(geometry), out)
    return out


def column_sums(a):
    """The column sums of the 2-D array a (a convolution's bias gradient), each added up row after row as NumPy's
    sum(axis=0) does, so rounded alike, without its overhead per row (10x the time on 6 columns)."""
    if backend.is_cupy_array(a):
        return a.sum(axis=0)
    out = np.empty(a.shape[1], a.dtype)
    _column_sums(a, out)
    return out
