"""Winograd's minimal filtering F(2x2, 3x3): a 3x3 stride-1 convolution with 2.25x fewer multiplications.

Each 2x2 block of output pixels (a tile) is computed from the 4x4 input patch d under it and the
3x3 kernel g as (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015)

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* elementwise, 4x4)

        B^T = [1  0 -1  0]     G = [1    0    0  ]     A^T = [1 1  1  0]
              [0  1  1  0]         [1/2  1/2  1/2]           [0 1 -1 -1]
              [0 -1  1  0]         [1/2 -1/2  1/2]
              [0  1  0 -1]         [0    0    1  ]

Summed over input channels, the elementwise product at each of the 16 positions xi is a matrix
product, M_xi = V_xi U_xi, with V_xi = (B^T d B)_xi of shape (tiles, C_in) and U_xi = (G g G^T)_xi of
shape (C_in, C_out) (stored transposed): 16 products of C_in x C_out per tile, where the direct
convolution spends 36.
Backward applies each step's adjoint: dM = A dY A^T, dU_xi = V_xi^T dM_xi, dg = G^T dU G,
dV_xi = dM_xi U_xi^T, and dd = B dV B^T added into the input under each tile (tiles overlap).

Arrays are channels last: x (N, H, W, C), V (16, tiles, C) with tile t = (n * TH + th) * TW + tw
covering output rows 2th, 2th + 1 and columns 2tw, 2tw + 1 and input rows 2th - ph ... 2th - ph + 3.
The numba kernels are serial (``kernels.conv_methods`` runs them on chunks of images in parallel
threads). The plain-NumPy ``reference_*`` functions at the end spell out each transform and its adjoint
on whole arrays of tiles: read them first; the tests check the kernels against them.
"""
import numba
import numpy as np

_G = np.array([[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]])
_BT = np.array([[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]])
_AT = np.array([[1, 1, 1, 0], [0, 1, -1, -1]])


def tile_grid(output_hw):
    """Tiles down and across: each covers 2x2 output pixels (the last ones may stick out)."""
    return (output_hw[0] + 1) // 2, (output_hw[1] + 1) // 2


def transform_weight(weight):
    """U^T (16, C_out, C_in): U_xi = (G g G^T)_xi for each (C_out, C_in, 3, 3) kernel g, xi = 4a + b. Kept
    transposed, which the kernels write and read in memory order; the products take it as U_xi = U^T_xi^T."""
    u_t = np.empty((16,) + weight.shape[:2], weight.dtype)
    _transform_weight(np.ascontiguousarray(weight), u_t)
    return u_t


def weight_gradient(grad_u_t):
    """dg = G^T dU G: the gradient of the (C_out, C_in, 3, 3) kernels from that of U^T (16, C_out, C_in)."""
    grad = np.empty(grad_u_t.shape[1:] + (3, 3), grad_u_t.dtype)
    _weight_gradient(np.ascontiguousarray(grad_u_t), grad)
    return grad


# ----------------------------------------------------------------------------- numba kernels
# The 1-D steps on scalars; applied along a tile's columns and rows (signs +-1 and halves: exact).
@numba.njit(inline="always")
def _bt(d0, d1, d2, d3):
    """B^T (d0..d3)."""
    return d0 - d2, d1 + d2, d2 - d1, d1 - d3


@numba.njit(inline="always")
def _b(e0, e1, e2, e3):
    """B (e0..e3), the adjoint of _bt."""
    return e0, e1 - e2 + e3, e1 + e2 - e0, -e3


@numba.njit(inline="always")
def _at(m0, m1, m2, m3):
    """A^T (m0..m3)."""
    return m0 + m1 + m2, m1 - m2 - m3


@numba.njit(inline="always")
def _a(y0, y1):
    """A (y0, y1), the adjoint of _at."""
    return y0, y0 + y1, y0 - y1, -y1


@numba.njit(inline="always")
def _g(g0, g1, g2, half):
    """G (g0, g1, g2); ``half`` is 0.5 in the arrays' dtype (a float literal would promote float32 to float64)."""
    return g0, half * (g0 + g1 + g2), half * (g0 - g1 + g2), g2


@numba.njit(inline="always")
def _gt(m0, m1, m2, m3, half):
    """G^T (m0..m3), the adjoint of _g."""
    return m0 + half * (m1 + m2), half * (m1 - m2), half * (m1 + m2) + m3


@numba.njit(parallel=True, cache=True)
def _transform_weight(w, u_t):
    """u_t[4a + b, co, ci] = (G w[co, ci] G^T)[a, b]. Runs on numba's own threads (not in chunks)."""
    c_out, c_in = w.shape[:2]
    half = np.full(1, 0.5, w.dtype)[0]
    for co in numba.prange(c_out):
        for ci in range(c_in):
            t00, t10, t20, t30 = _g(w[co, ci, 0, 0], w[co, ci, 1, 0], w[co, ci, 2, 0], half)  # G g, by column
            t01, t11, t21, t31 = _g(w[co, ci, 0, 1], w[co, ci, 1, 1], w[co, ci, 2, 1], half)
            t02, t12, t22, t32 = _g(w[co, ci, 0, 2], w[co, ci, 1, 2], w[co, ci, 2, 2], half)
            u_t[0, co, ci], u_t[1, co, ci], u_t[2, co, ci], u_t[3, co, ci] = _g(t00, t01, t02, half)  # (G g) G^T
            u_t[4, co, ci], u_t[5, co, ci], u_t[6, co, ci], u_t[7, co, ci] = _g(t10, t11, t12, half)
            u_t[8, co, ci], u_t[9, co, ci], u_t[10, co, ci], u_t[11, co, ci] = _g(t20, t21, t22, half)
            u_t[12, co, ci], u_t[13, co, ci], u_t[14, co, ci], u_t[15, co, ci] = _g(t30, t31, t32, half)


@numba.njit(parallel=True, cache=True)
def _weight_gradient(grad_u_t, grad):
    """grad[co, ci] = G^T dU G, with dU the 4x4 grad_u_t[:, co, ci]."""
    c_out, c_in = grad.shape[:2]
    half = np.full(1, 0.5, grad.dtype)[0]
    d = grad_u_t
    for co in numba.prange(c_out):
        for ci in range(c_in):
            p00, p10, p20 = _gt(d[0, co, ci], d[4, co, ci], d[8, co, ci], d[12, co, ci], half)  # G^T dU, by column
            p01, p11, p21 = _gt(d[1, co, ci], d[5, co, ci], d[9, co, ci], d[13, co, ci], half)
            p02, p12, p22 = _gt(d[2, co, ci], d[6, co, ci], d[10, co, ci], d[14, co, ci], half)
            p03, p13, p23 = _gt(d[3, co, ci], d[7, co, ci], d[11, co, ci], d[15, co, ci], half)
            grad[co, ci, 0, 0], grad[co, ci, 0, 1], grad[co, ci, 0, 2] = _gt(p00, p01, p02, p03, half)  # (G^T dU) G
            grad[co, ci, 1, 0], grad[co, ci, 1, 1], grad[co, ci, 1, 2] = _gt(p10, p11, p12, p13, half)
            grad[co, ci, 2, 0], grad[co, ci, 2, 1], grad[co, ci, 2, 2] = _gt(p20, p21, p22, p23, half)


# The tile kernels work one row of tiles at a time: the 4 input rows under it (or the 2 output rows
# of it) as flat (columns * C) vectors, the vertical step over whole rows, then the horizontal step
# tile by tile. Every loop reads and writes whole rows of contiguous channels, and vectorizes.
@numba.njit(inline="always")
def _padded_columns(width, pw, tiles_w, channels):
    """Where the input row lands in a padded row of the tile row's 2 * TW + 2 columns: start and length."""
    return pw * channels, max(0, min(width, 2 * tiles_w + 2 - pw)) * channels


@numba.njit(cache=True, nogil=True)
def _input_tiles(x, ph, pw, tiles_h, tiles_w, v):
    """V = B^T d B for every tile of x (N, H, W, C); v is (16, N * TH * TW, C)."""
    images, height, width, channels = x.shape
    flat_x = x.reshape(images, height, width * channels)
    start, length = _padded_columns(width, pw, tiles_w, channels)
    rows = np.zeros((4, (2 * tiles_w + 2) * channels), x.dtype)  # zero where the padding is
    e = np.zeros_like(rows)  # B^T d down every column; zero in the padding columns, which it never writes
    for n in range(images):
        for th in range(tiles_h):
            ih = 2 * th - ph
            if 0 <= ih and ih + 3 < height:  # all 4 rows inside the input: read them in place
                x0, x1, x2, x3 = flat_x[n, ih], flat_x[n, ih + 1], flat_x[n, ih + 2], flat_x[n, ih + 3]
                for k in range(length):
                    e[0, start + k], e[1, start + k], e[2, start + k], e[3, start + k] = _bt(x0[k], x1[k], x2[k], x3[k])
            else:
                for i in range(4):
                    if 0 <= ih + i < height:
                        rows[i, start:start + length] = flat_x[n, ih + i, :length]
                    else:
                        rows[i, start:start + length] = 0
                for k in range(start, start + length):
                    e[0, k], e[1, k], e[2, k], e[3, k] = _bt(rows[0, k], rows[1, k], rows[2, k], rows[3, k])
            t0 = (n * tiles_h + th) * tiles_w
            for a in range(4):  # V[a, :] = B^T e[a, columns of the tile], tile by tile
                for tw in range(tiles_w):
                    k = 2 * tw * channels
                    for c in range(channels):
                        v[4 * a, t0 + tw, c], v[4 * a + 1, t0 + tw, c], v[4 * a + 2, t0 + tw, c], \
                            v[4 * a + 3, t0 + tw, c] = _bt(e[a, k + c], e[a, k + channels + c],
                                                            e[a, k + 2 * channels + c], e[a, k + 3 * channels + c])


@numba.njit(cache=True, nogil=True)
def _input_tiles_adjoint(v, ph, pw, tiles_h, tiles_w, x):
    """x (N, H, W, C) = the sum over tiles of B dV B^T, each added into the input under its tile."""
    images, height, width, channels = x.shape
    flat_x = x.reshape(images, height, width * channels)
    start, length = _padded_columns(width, pw, tiles_w, channels)
    f = np.empty((4, (2 * tiles_w + 2) * channels), x.dtype)
    x[...] = 0
    for n in range(images):
        for th in range(tiles_h):
            t0 = (n * tiles_h + th) * tiles_w
            f[...] = 0
            for a in range(4):  # f[a, columns of the tile] += B dV[a, :], tile by tile (neighbours overlap)
                for tw in range(tiles_w):
                    k = 2 * tw * channels
                    for c in range(channels):
                        d0, d1, d2, d3 = _b(v[4 * a, t0 + tw, c], v[4 * a + 1, t0 + tw, c], v[4 * a + 2, t0 + tw, c],
                                            v[4 * a + 3, t0 + tw, c])
                        f[a, k + c] += d0
                        f[a, k + channels + c] += d1
                        f[a, k + 2 * channels + c] += d2
                        f[a, k + 3 * channels + c] += d3
            ih = 2 * th - ph  # B f down every column, added into the input rows under the tile row
            if 0 <= ih and ih + 3 < height:
                x0, x1, x2, x3 = flat_x[n, ih], flat_x[n, ih + 1], flat_x[n, ih + 2], flat_x[n, ih + 3]
                for k in range(length):
                    d0, d1, d2, d3 = _b(f[0, start + k], f[1, start + k], f[2, start + k], f[3, start + k])
                    x0[k] += d0
                    x1[k] += d1
                    x2[k] += d2
                    x3[k] += d3
            else:
                for i in range(4):
                    if 0 <= ih + i < height:
                        for k in range(length):
                            flat_x[n, ih + i, k] += _b(f[0, start + k], f[1, start + k], f[2, start + k],
                                                       f[3, start + k])[i]


@numba.njit(cache=True, nogil=True)
def _output_tiles(m, tiles_h, tiles_w, y):
    """y (N, OH, OW, C) = A^T M A for every tile; m is (16, N * TH * TW, C)."""
    images, out_h, out_w, channels = y.shape
    flat_y = y.reshape(images, out_h, out_w * channels)
    r = np.empty((4, 2 * tiles_w * channels), y.dtype)
    length = out_w * channels
    for n in range(images):
        for th in range(tiles_h):
            t0 = (n * tiles_h + th) * tiles_w
            for a in range(4):  # r[a, columns of the tile] = A^T M[a, :], tile by tile
                for tw in range(tiles_w):
                    k = 2 * tw * channels
                    for c in range(channels):
                        r[a, k + c], r[a, k + channels + c] = _at(m[4 * a, t0 + tw, c], m[4 * a + 1, t0 + tw, c],
                                                                  m[4 * a + 2, t0 + tw, c], m[4 * a + 3, t0 + tw, c])
            oh = 2 * th  # Y = A^T r down every column, straight into the output rows (those inside it)
            if oh + 1 < out_h:
                y0, y1 = flat_y[n, oh], flat_y[n, oh + 1]
                for k in range(length):
                    y0[k], y1[k] = _at(r[0, k], r[1, k], r[2, k], r[3, k])
            else:
                for k in range(length):
                    flat_y[n, oh, k] = _at(r[0, k], r[1, k], r[2, k], r[3, k])[0]


@numba.njit(cache=True, nogil=True)
def _output_tiles_adjoint(y, tiles_h, tiles_w, m):
    """dM = A dY A^T for every tile of dY (N, OH, OW, C), the pixels past the output counting as 0."""
    images, out_h, out_w, channels = y.shape
    flat_y = y.reshape(images, out_h, out_w * channels)
    rows = np.zeros((2, 2 * tiles_w * channels), y.dtype)  # zero past the output's last column
    q = np.empty((4, rows.shape[1]), y.dtype)
    length = out_w * channels
    for n in range(images):
        for th in range(tiles_h):
            for p in range(2):
                if 2 * th + p < out_h:
                    rows[p, :length] = flat_y[n, 2 * th + p]
                else:
                    rows[p, :length] = 0
            for k in range(rows.shape[1]):  # q = A dY down every column
                q[0, k], q[1, k], q[2, k], q[3, k] = _a(rows[0, k], rows[1, k])
            t0 = (n * tiles_h + th) * tiles_w
            for a in range(4):  # dM[a, :] = A q[a, columns of the tile], tile by tile
                for tw in range(tiles_w):
                    k = 2 * tw * channels
                    for c in range(channels):
                        m[4 * a, t0 + tw, c], m[4 * a + 1, t0 + tw, c], m[4 * a + 2, t0 + tw, c], \
                            m[4 * a + 3, t0 + tw, c] = _a(q[a, k + c], q[a, k + channels + c])


# ----------------------------------------------------------------------------- entry points
def input_tiles(x, padding, grid, out):
    """V (16, tiles, C) of channels-last x (N, H, W, C), with (top, left) zero padding."""
    _input_tiles(x, padding[0], padding[1], grid[0], grid[1], out)
    return out


def input_tiles_adjoint(v, padding, grid, out):
    """The adjoint of input_tiles: dx (N, H, W, C), written into ``out``."""
    _input_tiles_adjoint(v, padding[0], padding[1], grid[0], grid[1], out)
    return out


def output_tiles(m, grid, out):
    """Y (N, OH, OW, C_out) from M (16, tiles, C_out), written into ``out``."""
    _output_tiles(m, grid[0], grid[1], out)
    return out


def output_tiles_adjoint(y, grid, out):
    """The adjoint of output_tiles: dM (16, tiles, C_out) from dY (N, OH, OW, C_out), written into ``out``."""
    _output_tiles_adjoint(y, grid[0], grid[1], out)
    return out


# ----------------------------------------------------------------------------- NumPy reference (read these first)
# Each transform and its adjoint as plain array code on whole tiles: the tests check the kernels above against them.
def _padding(input_shape, padding, grid):
    """The shape (N, 2 TH + 2, 2 TW + 2, C) of the input zero-padded for the tiles, the part of it that holds the
    input, and the part of the input it holds (the rows and columns no tile reaches are left out)."""
    n, h, w, c = input_shape
    (th, tw), (top, left) = grid, padding
    rows, cols = min(h, 2 * th + 2 - top), min(w, 2 * tw + 2 - left)
    return ((n, 2 * th + 2, 2 * tw + 2, c), (slice(None), slice(top, top + rows), slice(left, left + cols)),
            (slice(None), slice(0, rows), slice(0, cols)))


def _patches(x, padding, grid):
    """The 4x4 input patch d of every tile: (N, TH, TW, 4, 4, C)."""
    shape, inside, reached = _padding(x.shape, padding, grid)
    padded = np.zeros(shape, x.dtype)
    padded[inside] = x[reached]
    i = 2 * np.arange(grid[0])[:, None] + np.arange(4)
    j = 2 * np.arange(grid[1])[:, None] + np.arange(4)
    return padded[:, i[:, None, :, None], j[None, :, None, :]]


def _patches_adjoint(patches, padding, input_shape):
    """The adjoint of _patches: each tile's 4x4 patch gradient added into the input under it (tiles overlap)."""
    grid = patches.shape[1:3]
    shape, inside, reached = _padding(input_shape, padding, grid)
    padded = np.zeros(shape, patches.dtype)
    for i in range(4):
        for j in range(4):
            padded[:, i:i + 2 * grid[0]:2, j:j + 2 * grid[1]:2] += patches[:, :, :, i, j]
    dx = np.zeros(input_shape, patches.dtype)
    dx[reached] = padded[inside]
    return dx


def reference_input_tiles(x, padding, grid):
    """V = B^T d B of every tile, as (16, tiles, C)."""
    bt = _BT.astype(x.dtype)
    v = np.einsum("ai,nhwijc,bj->abnhwc", bt, _patches(x, padding, grid), bt)
    return v.reshape(16, -1, x.shape[3])


def reference_input_tiles_adjoint(v, padding, grid, input_shape):
    """dx (N, H, W, C): dd = B dV B^T of every tile, added into the input under it."""
    th, tw = grid
    bt = _BT.astype(v.dtype)
    dd = np.einsum("ai,abnhwc,bj->nhwijc", bt, v.reshape(4, 4, -1, th, tw, v.shape[2]), bt)
    return _patches_adjoint(dd, padding, input_shape)


def reference_transform_weight(weight):
    """U^T (16, C_out, C_in): U = G g G^T of every (3, 3) kernel g."""
    g_matrix = _G.astype(weight.dtype)
    return np.einsum("ai,ocij,bj->aboc", g_matrix, weight, g_matrix).reshape((16,) + weight.shape[:2])


def reference_weight_gradient(grad_u_t):
    """dg = G^T dU G of every kernel, (C_out, C_in, 3, 3), from dU^T (16, C_out, C_in)."""
    g_matrix = _G.astype(grad_u_t.dtype)
    return np.einsum("ai,aboc,bj->ocij", g_matrix, grad_u_t.reshape((4, 4) + grad_u_t.shape[1:]), g_matrix)


def reference_output_tiles(m, grid, output_hw):
    """Y = A^T M A of every tile, (N, OH, OW, C), the pixels past the output dropped."""
    at = _AT.astype(m.dtype)
    th, tw = grid
    tiles = m.reshape(4, 4, -1, th, tw, m.shape[2])
    y = np.einsum("ra,abnhwc,qb->nhrwqc", at, tiles, at)  # (N, TH, 2, TW, 2, C)
    y = y.reshape(-1, 2 * th, 2 * tw, m.shape[2])
    return y[:, :output_hw[0], :output_hw[1]]


def reference_output_tiles_adjoint(y, grid):
    """dM = A dY A^T of every tile, (16, tiles, C), the pixels past the output counting as 0."""
    n, out_h, out_w, c = y.shape
    th, tw = grid
    padded = np.zeros((n, 2 * th, 2 * tw, c), y.dtype)
    padded[:, :out_h, :out_w] = y
    at = _AT.astype(y.dtype)
    m = np.einsum("ra,nhrwqc,qb->abnhwc", at, padded.reshape(n, th, 2, tw, 2, c), at)
    return m.reshape(16, -1, c)
