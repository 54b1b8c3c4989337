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
The numba kernels are serial (``kernels.workers`` runs them on chunks of images in parallel); the
plain-NumPy ``reference_*`` functions spell the same transforms out for the tests.
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
# Each step of a transform is written as loops over channels with one output each (out = a + sb * b
# (+ sc * c), signs +-1, exact): loops that simple vectorize. _BT, _AT and their transposes as such steps:
@numba.njit(inline="always")
def _add(out, a, b, sb):
    for c in range(out.shape[0]):
        out[c] = a[c] + sb * b[c]


@numba.njit(inline="always")
def _add3(out, a, b, c_, sb, sc):
    for c in range(out.shape[0]):
        out[c] = a[c] + sb * b[c] + sc * c_[c]


@numba.njit(inline="always")
def _bt(o0, o1, o2, o3, d0, d1, d2, d3):
    """(o0..o3) = B^T (d0..d3)."""
    _add(o0, d0, d2, -1)
    _add(o1, d1, d2, 1)
    _add(o2, d2, d1, -1)
    _add(o3, d1, d3, -1)


@numba.njit(inline="always")
def _b(o0, o1, o2, o3, e0, e1, e2, e3):
    """(o0..o3) = B (e0..e3), the adjoint of _bt."""
    o0[:] = e0
    _add3(o1, e1, e2, e3, -1, 1)
    _add3(o2, e1, e2, e0, 1, -1)
    _add(o3, e3, e3, -2)  # -e3


@numba.njit(inline="always")
def _at(o0, o1, m0, m1, m2, m3):
    """(o0, o1) = A^T (m0..m3)."""
    _add3(o0, m0, m1, m2, 1, 1)
    _add3(o1, m1, m2, m3, -1, -1)


@numba.njit(inline="always")
def _a(o0, o1, o2, o3, y0, y1):
    """(o0..o3) = A (y0, y1), the adjoint of _at."""
    o0[:] = y0
    _add(o1, y0, y1, 1)
    _add(o2, y0, y1, -1)
    _add(o3, y1, y1, -2)  # -y1


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


@numba.njit(cache=True, nogil=True)
def _input_tiles(x, ph, pw, tiles_h, tiles_w, v):
    """V = B^T d B for every tile of x (N, H, W, C); v is (16, N * TH * TW, C)."""
    images, height, width, channels = x.shape
    d = np.empty((4, 4, channels), x.dtype)
    e = np.empty((4, 4, channels), x.dtype)
    for n in range(images):
        for th in range(tiles_h):
            for tw in range(tiles_w):
                t = (n * tiles_h + th) * tiles_w + tw
                for i in range(4):  # the 4x4 patch, zero outside the input
                    ih = 2 * th - ph + i
                    for j in range(4):
                        iw = 2 * tw - pw + j
                        if 0 <= ih < height and 0 <= iw < width:
                            d[i, j] = x[n, ih, iw]
                        else:
                            d[i, j] = 0
                for j in range(4):  # e = B^T d, column by column
                    _bt(e[0, j], e[1, j], e[2, j], e[3, j], d[0, j], d[1, j], d[2, j], d[3, j])
                for a in range(4):  # V = e B, row by row: V[a, b] = (B^T e[a, :])[b]
                    _bt(v[4 * a, t], v[4 * a + 1, t], v[4 * a + 2, t], v[4 * a + 3, t], e[a, 0], e[a, 1], e[a, 2], e[a, 3])


@numba.njit(cache=True, nogil=True)
def _input_tiles_adjoint(v, ph, pw, tiles_h, tiles_w, x):
    """x (N, H, W, C) = the sum over tiles of B dV B^T, each added into the input under its tile."""
    images, height, width, channels = x.shape
    x[...] = 0
    d = np.empty((4, 4, channels), x.dtype)
    e = np.empty((4, 4, channels), x.dtype)
    for n in range(images):
        for th in range(tiles_h):
            for tw in range(tiles_w):
                t = (n * tiles_h + th) * tiles_w + tw
                for a in range(4):  # e = dV B^T, row by row
                    _b(e[a, 0], e[a, 1], e[a, 2], e[a, 3], v[4 * a, t], v[4 * a + 1, t], v[4 * a + 2, t], v[4 * a + 3, t])
                for j in range(4):  # d = B e, column by column
                    _b(d[0, j], d[1, j], d[2, j], d[3, j], e[0, j], e[1, j], e[2, j], e[3, j])
                for i in range(4):
                    ih = 2 * th - ph + i
                    for j in range(4):
                        iw = 2 * tw - pw + j
                        if 0 <= ih < height and 0 <= iw < width:
                            _add(x[n, ih, iw], x[n, ih, iw], d[i, j], 1)


@numba.njit(cache=True, nogil=True)
def _output_tiles(m, tiles_h, tiles_w, y):
    """y (N, OH, OW, C) = A^T M A for every tile; m is (16, N * TH * TW, C)."""
    images, out_h, out_w, channels = y.shape
    r = np.empty((4, 2, channels), y.dtype)
    corner = np.empty((2, 2, channels), y.dtype)
    for n in range(images):
        for th in range(tiles_h):
            for tw in range(tiles_w):
                t = (n * tiles_h + th) * tiles_w + tw
                for a in range(4):  # r = M A, row by row
                    _at(r[a, 0], r[a, 1], m[4 * a, t], m[4 * a + 1, t], m[4 * a + 2, t], m[4 * a + 3, t])
                oh, ow = 2 * th, 2 * tw
                if oh + 1 < out_h and ow + 1 < out_w:  # Y = A^T r, column by column, straight into y
                    for q in range(2):
                        _at(y[n, oh, ow + q], y[n, oh + 1, ow + q], r[0, q], r[1, q], r[2, q], r[3, q])
                else:  # a tile sticking out of the output: only its pixels inside are kept
                    for q in range(2):
                        _at(corner[0, q], corner[1, q], r[0, q], r[1, q], r[2, q], r[3, q])
                    for p in range(min(2, out_h - oh)):
                        for q in range(min(2, out_w - ow)):
                            y[n, oh + p, ow + q] = corner[p, q]


@numba.njit(cache=True, nogil=True)
def _output_tiles_adjoint(y, tiles_h, tiles_w, m):
    """dM = A dY A^T for every tile of dY (N, OH, OW, C), the pixels past the output counting as 0."""
    images, out_h, out_w, channels = y.shape
    dy = np.zeros((2, 2, channels), y.dtype)
    q = np.empty((4, 2, channels), y.dtype)
    for n in range(images):
        for th in range(tiles_h):
            for tw in range(tiles_w):
                t = (n * tiles_h + th) * tiles_w + tw
                oh, ow = 2 * th, 2 * tw
                for p in range(2):
                    for s in range(2):
                        if oh + p < out_h and ow + s < out_w:
                            dy[p, s] = y[n, oh + p, ow + s]
                        else:
                            dy[p, s] = 0
                for s in range(2):  # q = A dY, column by column
                    _a(q[0, s], q[1, s], q[2, s], q[3, s], dy[0, s], dy[1, s])
                for a in range(4):  # dM = q A^T, row by row
                    _a(m[4 * a, t], m[4 * a + 1, t], m[4 * a + 2, t], m[4 * a + 3, t], q[a, 0], q[a, 1])


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


# ----------------------------------------------------------------------------- NumPy reference (for tests)
def _patches(x, padding, grid):
    """The 4x4 input patch of every tile: (N, TH, TW, 4, 4, C)."""
    n, h, w, c = x.shape
    th, tw = grid
    padded = np.zeros((n, 2 * th + 2, 2 * tw + 2, c), x.dtype)
    top, left = padding
    rows = min(h, padded.shape[1] - top)
    cols = min(w, padded.shape[2] - left)
    padded[:, top:top + rows, left:left + cols] = x[:, :rows, :cols]
    i = 2 * np.arange(th)[:, None] + np.arange(4)
    j = 2 * np.arange(tw)[:, None] + np.arange(4)
    return padded[:, i[:, None, :, None], j[None, :, None, :]]


def reference_input_tiles(x, padding, grid):
    bt = _BT.astype(x.dtype)
    v = np.einsum("ai,nhwijc,bj->abnhwc", bt, _patches(x, padding, grid), bt)
    return v.reshape(16, -1, x.shape[3])


def reference_transform_weight(weight):
    """U^T (16, C_out, C_in)."""
    g = _G.astype(weight.dtype)
    return np.einsum("ai,ocij,bj->aboc", g, weight, g).reshape((16,) + weight.shape[:2])


def reference_output_tiles(m, grid, output_hw):
    at = _AT.astype(m.dtype)
    th, tw = grid
    tiles = m.reshape(4, 4, -1, th, tw, m.shape[2])
    y = np.einsum("ra,abnhwc,qb->nhrwqc", at, tiles, at)  # (N, TH, 2, TW, 2, C)
    y = y.reshape(-1, 2 * th, 2 * tw, m.shape[2])
    return y[:, :output_hw[0], :output_hw[1]]
