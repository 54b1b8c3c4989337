"""im2col and col2im: a convolution's input patches as the rows of a matrix, and the way back.

Layout is channels last. For x of shape (N, H, W, C), the patch matrix P has one row per output
pixel, r = (n * OH + oh) * OW + ow, and one column per (group, tap, channel of the group),
k = ((group * KH + i) * KW + j) * Cg + c, holding

    P[r, k] = x[n, oh * sh - ph + i * dh, ow * sw - pw + j * dw, group * Cg + c]   (0 inside the zero padding)

so each tap copies Cg contiguous channels, and each group's columns form one contiguous block.
``col2im`` is the adjoint: every entry of a patch-shaped matrix is added back into the input
position it was read from.

This module is the definition, in plain NumPy (or CuPy) array code: tap (i, j) of every output pixel
is one strided slice of the zero-padded input. It is what the reference kernels run
(``kernels.switch``) and what the fast kernels (``im2col_fast``: numba on the CPU, CUDA on the GPU)
are tested against. ``weight_matrices`` lays the kernels out in P's column order, so that the
convolution is one matrix product per group (``ops.conv``).
"""
import collections

from .. import backend

ConvGeometry = collections.namedtuple("ConvGeometry", "kernel stride padding dilation groups output")
ConvGeometry.__doc__ = """Pairs (rows, columns) of a convolution's kernel size, stride, leading padding (top, left),
dilation and output size (OH, OW), and the number of channel groups."""


def output_size(size, kernel, stride, padding_before, padding_after, dilation):
    """PyTorch's output length along one axis: (size + padding - dilation * (kernel - 1) - 1) // stride + 1."""
    return (size + padding_before + padding_after - dilation * (kernel - 1) - 1) // stride + 1


def patch_columns(channels, geometry):
    """The number of columns of the patch matrix: KH * KW * C."""
    return geometry.kernel[0] * geometry.kernel[1] * channels


def _tap_slices(geometry, i, j):
    """Slices of the padded input that tap (i, j) reads for every output pixel."""
    (sh, sw), (dh, dw), (out_h, out_w) = geometry.stride, geometry.dilation, geometry.output
    return (slice(None), slice(i * dh, i * dh + (out_h - 1) * sh + 1, sh),
            slice(j * dw, j * dw + (out_w - 1) * sw + 1, sw))


def padded_extent(shape, geometry):
    """Padding (top, bottom, left, right) large enough for every tap, and the padded (H, W)."""
    _, h, w, _ = shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw), _, (out_h, out_w) = geometry
    bottom = max(0, (out_h - 1) * sh + (kh - 1) * dh + 1 - h - ph)
    right = max(0, (out_w - 1) * sw + (kw - 1) * dw + 1 - w - pw)
    return (ph, bottom, pw, right), (h + ph + bottom, w + pw + right)


def im2col(x, geometry):
    """The patch matrix P (N * OH * OW, KH * KW * C) of channels-last x (N, H, W, C)."""
    xp = backend.get_array_module(x)
    n, _, _, c = x.shape
    (top, bottom, left, right), _ = padded_extent(x.shape, geometry)
    padded = xp.pad(x, ((0, 0), (top, bottom), (left, right), (0, 0)))
    kh, kw = geometry.kernel
    groups, (out_h, out_w) = geometry.groups, geometry.output
    taps = [padded[_tap_slices(geometry, i, j)] for i in range(kh) for j in range(kw)]  # each (N, OH, OW, C)
    stacked = xp.stack(taps, axis=3).reshape(n, out_h, out_w, kh * kw, groups, c // groups)
    return stacked.transpose(0, 1, 2, 4, 3, 5).reshape(n * out_h * out_w, -1)  # columns: group, tap, channel


def col2im(cols, geometry, input_shape):
    """The adjoint of im2col: the (N, H, W, C) array in which each element is the sum of the entries of the
    patch-shaped ``cols`` that im2col copies from it."""
    xp = backend.get_array_module(cols)
    n, h, w, c = input_shape
    (top, _, left, _), padded_hw = padded_extent(input_shape, geometry)
    kh, kw = geometry.kernel
    groups, (out_h, out_w) = geometry.groups, geometry.output
    padded = xp.zeros((n,) + padded_hw + (c,), cols.dtype)
    taps = cols.reshape(n, out_h, out_w, groups, kh, kw, c // groups)
    for i in range(kh):
        for j in range(kw):
            padded[_tap_slices(geometry, i, j)] += taps[:, :, :, :, i, j, :].reshape(n, out_h, out_w, c)
    return padded[:, top:top + h, left:left + w]


def weight_matrices(weight, groups):
    """W_g of every group: the kernels (C_out, C/groups, KH, KW) as (groups, KH * KW * C/groups, C_out/groups), the
    rows in the order of P's columns, so that group g's output is P_g W_g."""
    xp = backend.get_array_module(weight)
    out_channels = weight.shape[0]
    by_group = weight.reshape((groups, out_channels // groups) + weight.shape[1:])
    # (groups, C_out/groups, C/groups, KH, KW) -> (groups, KH, KW, C/groups, C_out/groups), then rows (KH, KW, C/groups)
    return xp.ascontiguousarray(by_group.transpose(0, 3, 4, 2, 1)).reshape(groups, -1, out_channels // groups)


def kernels_of(matrices, weight_shape):
    """The inverse of weight_matrices: (groups, KH * KW * C/groups, C_out/groups) back to (C_out, C/groups, KH, KW)."""
    xp = backend.get_array_module(matrices)
    out_channels, per_group, kh, kw = weight_shape
    groups = len(matrices)
    return xp.ascontiguousarray(
        matrices.reshape(groups, kh, kw, per_group, out_channels // groups).transpose(0, 4, 3, 1, 2)
    ).reshape(weight_shape)
