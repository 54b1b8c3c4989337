"""im2col and col2im: a convolution's input patches as the rows of a matrix, and the way back.

Layout is channels last. For x of shape (N, H, W, C), the patch matrix P has one row per output
pixel, r = (n * OH + oh) * OW + ow, and one column per (group, tap, channel of the group),
k = ((g * KH + i) * KW + j) * Cg + c, holding

    P[r, k] = x[n, oh * sh - ph + i * dh, ow * sw - pw + j * dw, g * Cg + c]   (0 inside the zero padding)

so each tap copies Cg contiguous channels, and each group's columns form one contiguous block.
``col2im`` is the adjoint: every entry of a patch-shaped matrix is added back into the input
position it was read from (row by row of the patch matrix on the CPU; as a gather, each input
element summing its entries, on the GPU).

The numba kernels here are serial and release the GIL: ``kernels.workers`` runs them on chunks of
the batch in parallel threads. CuPy arrays go to ``im2col_cuda``, which computes the same thing.
The plain-NumPy ``reference_*`` functions spell the definition out for the tests.
"""
import collections

import numba
import numpy as np

from .. import backend

ConvGeometry = collections.namedtuple("ConvGeometry", "kernel stride padding dilation groups output")
ConvGeometry.__doc__ = """Pairs (rows, columns) of a convolution's kernel size, stride, leading padding (top, left),
dilation and output size (OH, OW), and the number of channel groups."""


def output_size(size, kernel, stride, padding_before, padding_after, dilation):
    """PyTorch's output length along one axis: (size + padding - dilation * (kernel - 1) - 1) // stride + 1."""
    return (size + padding_before + padding_after - dilation * (kernel - 1) - 1) // stride + 1


def _cuda():
    from . import im2col_cuda
    return im2col_cuda


# ----------------------------------------------------------------------------- numba kernels
# Both kernels walk the patch matrix row by row. Where a kernel row's taps all fall inside the input
# (no dilation or groups between them), they read kw * C contiguous values, copied as one block.
@numba.njit(cache=True, nogil=True)
def _im2col(x, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, cols):
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
                for g in range(groups):
                    for i in range(kh):
                        ih = oh * sh - ph + i * dh
                        k = (g * kh + i) * span
                        if ih < 0 or ih >= height:
                            cols[r, k:k + span] = 0
                        elif whole_row:
                            cols[r, k:k + span] = rows_of_x[n, ih, iw0 * channels:iw0 * channels + span]
                        else:
                            for j in range(kw):
                                iw = iw0 + j * dw
                                if 0 <= iw < width:
                                    cols[r, k + j * per_group:k + (j + 1) * per_group] = \
                                        x[n, ih, iw, g * per_group:(g + 1) * per_group]
                                else:
                                    cols[r, k + j * per_group:k + (j + 1) * per_group] = 0


@numba.njit(cache=True, nogil=True)
def _col2im(cols, kh, kw, sh, sw, ph, pw, dh, dw, groups, out_h, out_w, x):
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
                for g in range(groups):
                    for i in range(kh):
                        ih = oh * sh - ph + i * dh
                        k = (g * kh + i) * span
                        if ih < 0 or ih >= height:
                            continue
                        if whole_row:
                            rows_of_x[n, ih, iw0 * channels:iw0 * channels + span] += cols[r, k:k + span]
                        else:
                            for j in range(kw):
                                iw = iw0 + j * dw
                                if 0 <= iw < width:
                                    x[n, ih, iw, g * per_group:(g + 1) * per_group] += \
                                        cols[r, k + j * per_group:k + (j + 1) * per_group]


def _arguments(geometry):
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = geometry.kernel, geometry.stride, geometry.padding, geometry.dilation
    return kh, kw, sh, sw, ph, pw, dh, dw, geometry.groups, *geometry.output


# ----------------------------------------------------------------------------- entry points
def patch_columns(channels, geometry):
    """The number of columns of the patch matrix: KH * KW * C."""
    return geometry.kernel[0] * geometry.kernel[1] * channels


def im2col(x, geometry, out=None):
    """The patch matrix (N * OH * OW, KH * KW * C) of channels-last x (N, H, W, C), written into ``out`` if given."""
    n, _, _, c = x.shape
    shape = (n * geometry.output[0] * geometry.output[1], patch_columns(c, geometry))
    if backend.is_cupy_array(x):
        return _cuda().im2col(x, geometry, shape, out)
    out = np.empty(shape, x.dtype) if out is None else out
    _im2col(x, *_arguments(geometry), out)
    return out


def col2im(cols, geometry, input_shape, out=None):
    """The adjoint of im2col: a channels-last array of ``input_shape`` (N, H, W, C) in which each element is the
    sum of the patch-matrix entries ``cols`` that im2col copied from it. Written into ``out`` if given."""
    if backend.is_cupy_array(cols):
        return _cuda().col2im(cols, geometry, input_shape, out)
    out = np.empty(input_shape, cols.dtype) if out is None else out
    _col2im(cols, *_arguments(geometry), out)
    return out


# ----------------------------------------------------------------------------- NumPy reference (for tests)
def _tap_slices(geometry, i, j):
    """Slices of the padded input that tap (i, j) reads for every output pixel."""
    (sh, sw), (dh, dw), (out_h, out_w) = geometry.stride, geometry.dilation, geometry.output
    return (slice(None), slice(i * dh, i * dh + (out_h - 1) * sh + 1, sh),
            slice(j * dw, j * dw + (out_w - 1) * sw + 1, sw))


def _padded_extent(shape, geometry):
    """Padding (top, bottom, left, right) large enough for every tap, and the padded (H, W)."""
    _, h, w, _ = shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), _, (out_h, out_w) = geometry
    bottom = max(0, (out_h - 1) * sh + (kh - 1) * dh + 1 - h - ph)
    right = max(0, (out_w - 1) * sw + (kw - 1) * dw + 1 - w - pw)
    return (ph, bottom, pw, right), (h + ph + bottom, w + pw + right)


def reference_im2col(x, geometry):
    n, _, _, c = x.shape
    (top, bottom, left, right), _ = _padded_extent(x.shape, geometry)
    padded = np.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw = geometry.kernel
    groups, (out_h, out_w) = geometry.groups, geometry.output
    taps = [padded[_tap_slices(geometry, i, j)] for i in range(kh) for j in range(kw)]
    stacked = np.stack(taps, axis=3).reshape(n, out_h, out_w, kh * kw, groups, c // groups)
    return stacked.transpose(0, 1, 2, 4, 3, 5).reshape(n * out_h * out_w, -1)


def reference_col2im(cols, geometry, input_shape):
    n, h, w, c = input_shape
    (top, _, left, _), padded_hw = _padded_extent(input_shape, geometry)
    kh, kw = geometry.kernel
    groups, (out_h, out_w) = geometry.groups, geometry.output
    padded = np.zeros((n,) + padded_hw + (c,), cols.dtype)
    taps = cols.reshape(n, out_h, out_w, groups, kh, kw, c // groups)
    for i in range(kh):
        for j in range(kw):
            padded[_tap_slices(geometry, i, j)] += taps[:, :, :, :, i, j, :].reshape(n, out_h, out_w, c)
    return padded[:, top:top + h, left:left + w]
