"""Winograd's minimal filtering F(m x m, r x r): an r x r stride-1 convolution with fewer multiplications.

Each m x m block of output pixels (a tile) is computed from the a x a input patch d under it (a = m + r - 1) and
the r x r kernel g as (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", 2015)

    Y = A^T [ (G g G^T) * (B^T d B) ] A          (* elementwise, a x a)

with B^T (a x a), G (a x r) and A^T (m x a) built from a - 1 interpolation points and infinity. Four algorithms,
two for 3x3 kernels and two for 5x5:

F(2x2, 3x3), points 0, 1, -1, a = 4: 16 multiplications per output tile and channel pair where the direct
convolution spends 4 * 9 = 36 (2.25x fewer); every entry is 0, +-1 or 1/2, so the transforms are exact.

        B^T = [1  0 -1  0]     G = [1    0    0  ]     A^T = [1 1  1  0]
              [0  1  1  0]         [1/2  1/2  1/2]           [0 1 -1 -1]
              [0 -1  1  0]         [1/2 -1/2  1/2]
              [0  1  0 -1]         [0    0    1  ]

F(4x4, 3x3), a = 6: 36 multiplications where the direct convolution spends 16 * 9 = 144 (4x fewer). With
Lavin & Gray's points 0, 1, -1, 2, -2 the float32 error grows about 20-fold over F(2x2, 3x3)'s; the points
0, 1, -1, 1/2, -2 (Barabasz et al., "Error Analysis and Improving the Accuracy of Winograd Convolution for Deep
Neural Networks", 2020) cut it about 3-fold (``benchmarks/bench_conv_methods.py --accuracy`` measures it). The
rows of B^T and G and the columns of A^T are scaled by powers of 2 (exact) to integers where possible; B^T and A^T
are exact in float32, G's thirds and fifteenths are rounded once (in G kron G, ``transform_weight``).

        B^T = [2 -3 -4  3  2  0]     G = [ 1/2    0     0   ]     A^T = [1  1  1  8  1  0]
              [0 -2  1  5  2  0]         [ 1/6   1/6   1/6  ]           [0  1 -1  4 -2  0]
              [0  2 -5  1  2  0]         [-1/6   1/6  -1/6  ]           [0  1  1  2  4  0]
              [0 -2 -1  2  1  0]         [-2/15 -1/15 -1/30 ]           [0  1 -1  1 -8  1]
              [0  1 -2 -1  2  0]         [ 1/30 -1/15  2/15 ]
              [0  2 -3 -4  3  2]         [ 0     0     1/2  ]

F(2x2, 5x5), a = 6: 36 multiplications where the direct convolution spends 4 * 25 = 100 (2.8x fewer), on the same
points as F(4x4, 3x3) and so with the same B^T (unscaled here: its halves are exact in float32), and about its
float32 error (the matrices come from the Cook-Toom construction, as Lavin's wincnn builds them).

        B^T = [1 -3/2 -2    3/2  1    0]     G = [  1      0      0      0      0   ]     A^T = [1 1  1  1   1 0]
              [0 -1    1/2  5/2  1    0]         [  1/3    1/3    1/3    1/3    1/3 ]           [0 1 -1 1/2 -2 1]
              [0  1   -5/2  1/2  1    0]         [ -1/3    1/3   -1/3    1/3   -1/3 ]
              [0 -2   -1    2    1    0]         [-16/15  -8/15  -4/15  -2/15  -1/15]
              [0  1/2 -1   -1/2  1    0]         [  1/15  -2/15   4/15  -8/15  16/15]
              [0  1   -3/2 -2    3/2  1]         [  0      0      0      0      1   ]

F(4x4, 5x5), a = 8: 64 multiplications where the direct convolution spends 16 * 25 = 400 (6.25x fewer), on the
points 0, 1, -1, 2, -2, 1/2, -1/2 (the same construction; every entry of B^T and A^T is exact in float32, G's
ninths and 45ths are rounded once). Its float32 error is about 3x F(4x4, 3x3)'s and grows with the input channels
(``ops.conv.choose_method`` says where it runs). B^T, unscaled (A^T's rows are the points' powers 0 to 3, and 1
under infinity in the last):

        B^T = [-1  0     21/4  0     -21/4  0     1  0]     G = [ -1      0      0      0      0   ]
              [ 0  1     1    -17/4  -17/4  1     1  0]         [ -2/9   -2/9   -2/9   -2/9   -2/9 ]
              [ 0 -1     1     17/4  -17/4 -1     1  0]         [ -2/9    2/9   -2/9    2/9   -2/9 ]
              [ 0  1/2   1/4  -5/2   -5/4   2     1  0]         [  1/90   1/45   2/45   4/45   8/45]
              [ 0 -1/2   1/4   5/2   -5/4  -2     1  0]         [  1/90  -1/45   2/45  -4/45   8/45]
              [ 0  2     4    -5/2   -5     1/2   1  0]         [ 32/45  16/45   8/45   4/45   2/45]
              [ 0 -2     4     5/2   -5    -1/2   1  0]         [ 32/45 -16/45   8/45  -4/45   2/45]
              [ 0 -1     0     21/4   0    -21/4  0  1]         [  0      0      0      0      1   ]

Summed over input channels, the elementwise product at each of the a^2 positions xi is a matrix product,
M_xi = V_xi U_xi, with V_xi = (B^T d B)_xi of shape (tiles, C_in) and U_xi = (G g G^T)_xi of shape
(C_in, C_out) (stored transposed): a^2 products of C_in x C_out per tile, one batched matmul.
Backward applies each step's adjoint: dM = A dY A^T, dU_xi = V_xi^T dM_xi, dg = G^T dU G,
dV_xi = dM_xi U_xi^T, and dd = B dV B^T added into the input under each tile (tiles overlap).

Arrays are channels last: x (N, H, W, C), V (a^2, tiles, C) with tile t = (n * TH + th) * TW + tw covering
output rows m th ... m th + m - 1 (columns likewise) and input rows m th - ph ... m th - ph + a - 1.
The numba tile kernels are serial (``kernels.conv_methods`` runs them on chunks of images in parallel threads)
and take the transform matrices as arguments: one set of kernels serves all four. The weights' transforms are
one matrix product each. The plain-NumPy
``reference_*`` functions at the end spell out each transform and its adjoint on whole arrays of tiles: read
them first; the tests check the kernels against them.
"""
import math

import numba
import numpy as np

from . import workers


class Algorithm:
    """One F(m x m, r x r): its name, output tile size m, kernel size r, input tile size a = m + r - 1 and matrices
    B^T, G, A^T."""

    def __init__(self, name, bt, g, at):
        self.name = name
        self.bt, self.g, self.at = (np.array(matrix, np.float64) for matrix in (bt, g, at))
        self.m, self.alpha = self.at.shape
        self.r = self.g.shape[1]
        self.taps = self.r ** 2  # a kernel's weights
        self.positions = self.alpha ** 2  # the products per tile
        self._tile_matrices = {}

    def kronecker(self, dtype):
        """G kron G (a^2, r^2): row a * i + j, column r * k + l holds G[i, k] G[j, l]; in float64, rounded once."""
        return np.kron(self.g, self.g).astype(dtype)

    def tile_matrices(self, dtype):
        """B^T and A^T in the arrays' dtype (small integers and halves: exact in float32)."""
        dtype = np.dtype(dtype)
        if dtype not in self._tile_matrices:
            self._tile_matrices[dtype] = self.bt.astype(dtype), self.at.astype(dtype)
        return self._tile_matrices[dtype]

    def __repr__(self):
        return self.name


F2 = Algorithm("F(2x2,3x3)", bt=[[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]],
               g=[[1, 0, 0], [1 / 2, 1 / 2, 1 / 2], [1 / 2, -1 / 2, 1 / 2], [0, 0, 1]],
               at=[[1, 1, 1, 0], [0, 1, -1, -1]])
F4 = Algorithm("F(4x4,3x3)", bt=[[2, -3, -4, 3, 2, 0], [0, -2, 1, 5, 2, 0], [0, 2, -5, 1, 2, 0],
                                 [0, -2, -1, 2, 1, 0], [0, 1, -2, -1, 2, 0], [0, 2, -3, -4, 3, 2]],
               g=[[1 / 2, 0, 0], [1 / 6, 1 / 6, 1 / 6], [-1 / 6, 1 / 6, -1 / 6], [-2 / 15, -1 / 15, -1 / 30],
                  [1 / 30, -1 / 15, 2 / 15], [0, 0, 1 / 2]],
               at=[[1, 1, 1, 8, 1, 0], [0, 1, -1, 4, -2, 0], [0, 1, 1, 2, 4, 0], [0, 1, -1, 1, -8, 1]])

F25 = Algorithm("F(2x2,5x5)",
                bt=[[1, -3 / 2, -2, 3 / 2, 1, 0], [0, -1, 1 / 2, 5 / 2, 1, 0], [0, 1, -5 / 2, 1 / 2, 1, 0],
                    [0, -2, -1, 2, 1, 0], [0, 1 / 2, -1, -1 / 2, 1, 0], [0, 1, -3 / 2, -2, 3 / 2, 1]],
                g=[[1, 0, 0, 0, 0], [1 / 3, 1 / 3, 1 / 3, 1 / 3, 1 / 3], [-1 / 3, 1 / 3, -1 / 3, 1 / 3, -1 / 3],
                   [-16 / 15, -8 / 15, -4 / 15, -2 / 15, -1 / 15], [1 / 15, -2 / 15, 4 / 15, -8 / 15, 16 / 15],
                   [0, 0, 0, 0, 1]],
                at=[[1, 1, 1, 1, 1, 0], [0, 1, -1, 1 / 2, -2, 1]])
F45 = Algorithm("F(4x4,5x5)",
                bt=[[-1, 0, 21 / 4, 0, -21 / 4, 0, 1, 0], [0, 1, 1, -17 / 4, -17 / 4, 1, 1, 0],
                    [0, -1, 1, 17 / 4, -17 / 4, -1, 1, 0], [0, 1 / 2, 1 / 4, -5 / 2, -5 / 4, 2, 1, 0],
                    [0, -1 / 2, 1 / 4, 5 / 2, -5 / 4, -2, 1, 0], [0, 2, 4, -5 / 2, -5, 1 / 2, 1, 0],
                    [0, -2, 4, 5 / 2, -5, -1 / 2, 1, 0], [0, -1, 0, 21 / 4, 0, -21 / 4, 0, 1]],
                g=[[-1, 0, 0, 0, 0], [-2 / 9] * 5, [-2 / 9, 2 / 9, -2 / 9, 2 / 9, -2 / 9],
                   [1 / 90, 1 / 45, 2 / 45, 4 / 45, 8 / 45], [1 / 90, -1 / 45, 2 / 45, -4 / 45, 8 / 45],
                   [32 / 45, 16 / 45, 8 / 45, 4 / 45, 2 / 45], [32 / 45, -16 / 45, 8 / 45, -4 / 45, 2 / 45],
                   [0, 0, 0, 0, 1]],
                at=[[1, 1, 1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 1 / 2, -1 / 2, 0], [0, 1, 1, 4, 4, 1 / 4, 1 / 4, 0],
                    [0, 1, -1, 8, -8, 1 / 8, -1 / 8, 1]])


def tile_grid(f, output_hw):
    """Tiles down and across: each covers m x m output pixels (the last ones may stick out)."""
    return -(-output_hw[0] // f.m), -(-output_hw[1] // f.m)


def transform_weight(f, weight):
    """U^T (a^2, C_out, C_in): U_xi = (G g G^T)_xi for each (C_out, C_in, r, r) kernel g, xi = a * i + j: the layout
    backward's dV_xi = dM_xi U_xi^T reads in memory order (the forward passes the kernels with their channel axes
    swapped, (C_in, C_out, r, r), and gets U itself). With g flattened to r^2 taps, U is (G kron G) g: one matrix
    product of (a^2, r^2) by all the kernels at once."""
    taps = weight.reshape(-1, f.taps).T  # (r^2, C_out * C_in)
    return workers.matmul(f.kronecker(weight.dtype), taps).reshape((f.positions,) + weight.shape[:2])


def weight_gradient(f, grad_u_t, out=None):
    """dg = G^T dU G, i.e. (G kron G)^T dU: the gradient of the kernels from that of U^T (a^2, C_out, C_in), as one
    matrix product, taps first: (r^2, C_out, C_in) (written into ``out`` where given; ``kernels_last`` makes it
    (C_out, C_in, r, r)). Single-threaded: it runs inside a chunk of the convolution, on a block of output channels
    (``conv_methods.Winograd``); taps first, its product has the long rows (r^2 x a^2 by a^2 x C_out * C_in)."""
    if out is None:
        out = np.empty((f.taps,) + grad_u_t.shape[1:], grad_u_t.dtype)
    np.matmul(f.kronecker(grad_u_t.dtype).T, grad_u_t.reshape(f.positions, -1), out=out.reshape(f.taps, -1))
    return out


def kernels_last(grad_taps):
    """(r^2, C_out, C_in) taps first as contiguous (C_out, C_in, r, r)."""
    r = math.isqrt(len(grad_taps))
    return np.ascontiguousarray(grad_taps.transpose(1, 2, 0)).reshape(grad_taps.shape[1:] + (r, r))


# Each 2-D transform is two 1-D ones: down the columns of a row of tiles (on whole rows of the image, as flat
# (columns * C) vectors), then along the rows tile by tile (on each tile's C-vectors). Both are sums of
# coefficient x vector over the matrix's nonzero entries, so the inner loops run over contiguous memory and
# vectorize. Each sum starts by assigning, not adding, so nothing needs zeroing first. A tile's vectors are short
# (C values: a turn or two of a vectorised loop), so its sums take four terms a loop, then two, then one
# (``_tap_sum``): the target is loaded and stored once per four multiply-adds, and there are a quarter of the loops
# (the output transform's pass down the columns takes it too: 0-15% faster; the others' were as often slower).
# One thread on the 2-core Zen 5 EPYC, F(4x4, 3x3), 2 images of 32 x 32 x 32, against a loop per term (interleaved,
# best of 300): the input transform 98-133 -> 72-94 us, the output transform 59-61 -> 46-50, their adjoints 106 ->
# 98 and 64 -> 50; that 32 -> 32 layer's forward and backward at batch 128 59-61 -> 52-54 ms (F(2x2, 3x3) on 4 x 4
# x 256, where the products dominate: unchanged).
@numba.njit(inline="always")
def _combine(coefficient, source, target, first):
    """target = coefficient * source (first), else target += coefficient * source."""
    if first:
        for k in range(len(target)):
            target[k] = coefficient * source[k]
    else:
        for k in range(len(target)):
            target[k] += coefficient * source[k]


@numba.njit(inline="always")
def _combine2(c0, s0, c1, s1, target, first):
    """target = c0 s0 + c1 s1 (first), else target += c0 s0 + c1 s1."""
    if first:
        for k in range(len(target)):
            target[k] = c0 * s0[k] + c1 * s1[k]
    else:
        for k in range(len(target)):
            target[k] += c0 * s0[k] + c1 * s1[k]


@numba.njit(inline="always")
def _combine4(c0, s0, c1, s1, c2, s2, c3, s3, target, first):
    """target = c0 s0 + c1 s1 + c2 s2 + c3 s3 (first), else target += that sum."""
    if first:
        for k in range(len(target)):
            target[k] = c0 * s0[k] + c1 * s1[k] + c2 * s2[k] + c3 * s3[k]
    else:
        for k in range(len(target)):
            target[k] += c0 * s0[k] + c1 * s1[k] + c2 * s2[k] + c3 * s3[k]


@numba.njit(inline="always")
def _nonzeros(matrix):
    """Each row's nonzero entries: how many (count[i]), in which columns (where[i, :count[i]]), their values."""
    rows, columns = matrix.shape
    count = np.zeros(rows, np.int64)
    where = np.zeros((rows, columns), np.int64)
    value = np.zeros((rows, columns), matrix.dtype)
    for i in range(rows):
        for j in range(columns):
            if matrix[i, j] != 0:
                where[i, count[i]], value[i, count[i]] = j, matrix[i, j]
                count[i] += 1
    return count, where, value


@numba.njit(inline="always")
def _tap_sum(count, where, value, source, i0, s0, i1, s1, target, first):
    """target = (first) or += the sum over t < count of value[t] * source[i0 + j s0, i1 + j s1] with j = where[t]: one
    matrix row's nonzero entries times the vectors of a 3-D ``source`` that they weigh (a tile's C values, or whole rows
    of r in the output transform), four terms a loop. Every row and column of B^T and A^T has a nonzero entry, so
    count >= 1 (a branch zeroing the target for none, never taken, made the kernels 1.5-2.5x slower)."""
    t = 0
    while t + 4 <= count:
        j0, j1, j2, j3 = where[t], where[t + 1], where[t + 2], where[t + 3]
        _combine4(value[t], source[i0 + j0 * s0, i1 + j0 * s1], value[t + 1], source[i0 + j1 * s0, i1 + j1 * s1],
                  value[t + 2], source[i0 + j2 * s0, i1 + j2 * s1], value[t + 3], source[i0 + j3 * s0, i1 + j3 * s1],
                  target, first and t == 0)
        t += 4
    if t + 2 <= count:
        j0, j1 = where[t], where[t + 1]
        _combine2(value[t], source[i0 + j0 * s0, i1 + j0 * s1], value[t + 1], source[i0 + j1 * s0, i1 + j1 * s1],
                  target, first and t == 0)
        t += 2
    if t < count:
        j = where[t]
        _combine(value[t], source[i0 + j * s0, i1 + j * s1], target, first and t == 0)


@numba.njit(inline="always")
def _padded_columns(width, pw, padded_width, channels):
    """Where the input row lands in a padded row of ``padded_width`` columns: start and length, in elements."""
    return pw * channels, max(0, min(width, padded_width - pw)) * channels


@numba.njit(cache=True, nogil=True)
def _input_tiles(bt, m, x, ph, pw, tiles_h, tiles_w, v):
    """V = B^T d B for every tile of x (N, H, W, C), tiles m apart; v is (a^2, N * TH * TW, C)."""
    alpha = bt.shape[0]
    images, height, width, channels = x.shape
    flat_x = x.reshape(images, height, width * channels)
    padded_width = m * tiles_w + alpha - m
    start, length = _padded_columns(width, pw, padded_width, channels)
    e = np.zeros((alpha, padded_width, channels), x.dtype)  # B^T d down every column; 0 in the padding
    flat_e = e.reshape(alpha, padded_width * channels)
    count, where, value = _nonzeros(bt)
    for n in range(images):
        for th in range(tiles_h):
            ih = m * th - ph
            for a in range(alpha):  # e[a] = sum_i B^T[a, i] (input row ih + i), rows outside the input being 0
                first = True
                for i in range(alpha):
                    if bt[a, i] != 0 and 0 <= ih + i < height:
                        _combine(bt[a, i], flat_x[n, ih + i, :length], flat_e[a, start:start + length], first)
                        first = False
                if first:
                    flat_e[a, start:start + length] = 0
            t0 = (n * tiles_h + th) * tiles_w
            for tw in range(tiles_w):  # V[a, b] = sum_j B^T[b, j] e[a, column m tw + j]
                for a in range(alpha):
                    for b in range(alpha):
                        _tap_sum(count[b], where[b], value[b], e, a, 0, m * tw, 1, v[alpha * a + b, t0 + tw], True)


@numba.njit(cache=True, nogil=True)
def _input_tiles_adjoint(bt, m, v, ph, pw, tiles_h, tiles_w, x):
    """x (N, H, W, C) = the sum over tiles (m apart) of B dV B^T, each added into the input under its tile."""
    alpha = bt.shape[0]
    images, height, width, channels = x.shape
    flat_x = x.reshape(images, height, width * channels)
    padded_width = m * tiles_w + alpha - m
    start, length = _padded_columns(width, pw, padded_width, channels)
    f = np.empty((alpha, padded_width, channels), x.dtype)
    flat_f = f.reshape(alpha, padded_width * channels)
    count, where, value = _nonzeros(bt.T)  # B^T's columns
    # Every input pixel lies under some tile (they cover OH + r - 1 >= H + ph rows, as many columns), so each element
    # of x is assigned by its first tile and added to by the next: no pass zeroing x first. A tile shares its first
    # ``overlap`` columns (rows) with the one before it.
    overlap = alpha - m
    for n in range(images):
        for th in range(tiles_h):
            t0 = (n * tiles_h + th) * tiles_w
            for tw in range(tiles_w):  # f[a, column m tw + j] (+)= sum_b B^T[b, j] dV[a, b]
                for a in range(alpha):
                    for j in range(alpha):
                        _tap_sum(count[j], where[j], value[j], v, alpha * a, 1, t0 + tw, 0, f[a, m * tw + j],
                                 tw == 0 or j >= overlap)
            ih = m * th - ph  # input row ih + i (+)= sum_a B^T[a, i] f[a], for the rows inside the input
            for i in range(alpha):
                if 0 <= ih + i < height:
                    first = th == 0 or i >= overlap
                    for a in range(alpha):
                        if bt[a, i] != 0:
                            _combine(bt[a, i], flat_f[a, start:start + length], flat_x[n, ih + i, :length], first)
                            first = False


@numba.njit(cache=True, nogil=True)
def _output_tiles(at, mt, tiles_h, tiles_w, y):
    """y (N, OH, OW, C) = A^T M A for every tile; mt is M, (a^2, N * TH * TW, C)."""
    m, alpha = at.shape
    images, out_h, out_w, channels = y.shape
    flat_y = y.reshape(images, out_h, out_w * channels)
    r = np.empty((alpha, m * tiles_w, channels), y.dtype)
    r_rows = r.reshape(alpha, 1, m * tiles_w * channels)  # r[a] as one row, r_rows[a, 0]
    count, where, value = _nonzeros(at)
    for n in range(images):
        for th in range(tiles_h):
            t0 = (n * tiles_h + th) * tiles_w
            for tw in range(tiles_w):  # r[a, column m tw + q] = sum_b A^T[q, b] M[a, b]
                for a in range(alpha):
                    for q in range(m):
                        _tap_sum(count[q], where[q], value[q], mt, alpha * a, 1, t0 + tw, 0, r[a, m * tw + q], True)
            for p in range(min(m, out_h - m * th)):  # output row m th + p = sum_a A^T[p, a] r[a]
                _tap_sum(count[p], where[p], value[p], r_rows, 0, 1, 0, 0, flat_y[n, m * th + p], True)


@numba.njit(cache=True, nogil=True)
def _output_tiles_adjoint(at, y, tiles_h, tiles_w, mt):
    """dM = A dY A^T for every tile of dY (N, OH, OW, C), the pixels past the output counting as 0."""
    m, alpha = at.shape
    images, out_h, out_w, channels = y.shape
    flat_y = y.reshape(images, out_h, out_w * channels)
    q = np.zeros((alpha, m * tiles_w, channels), y.dtype)  # A dY down every column; 0 past the last column
    flat_q = q.reshape(alpha, m * tiles_w * channels)
    length = out_w * channels
    count, where, value = _nonzeros(at.T)  # A^T's columns
    for n in range(images):
        for th in range(tiles_h):
            for a in range(alpha):  # q[a] = sum_p A^T[p, a] (output row m th + p), rows past the output being 0
                first = True
                for p in range(min(m, out_h - m * th)):
                    if at[p, a] != 0:
                        _combine(at[p, a], flat_y[n, m * th + p], flat_q[a, :length], first)
                        first = False
                if first:
                    flat_q[a, :length] = 0
            t0 = (n * tiles_h + th) * tiles_w
            for tw in range(tiles_w):  # dM[a, b] = sum_p A^T[p, b] q[a, column m tw + p]
                for a in range(alpha):
                    for b in range(alpha):
                        _tap_sum(count[b], where[b], value[b], q, a, 0, m * tw, 1, mt[alpha * a + b, t0 + tw], True)


# ----------------------------------------------------------------------------- entry points
def input_tiles(f, x, padding, grid, out):
    """V (a^2, tiles, C) of channels-last x (N, H, W, C), with (top, left) zero padding."""
    _input_tiles(f.tile_matrices(x.dtype)[0], f.m, x, padding[0], padding[1], grid[0], grid[1], out)
    return out


def input_tiles_adjoint(f, v, padding, grid, out):
    """The adjoint of input_tiles: dx (N, H, W, C), written into ``out``."""
    _input_tiles_adjoint(f.tile_matrices(v.dtype)[0], f.m, v, padding[0], padding[1], grid[0], grid[1], out)
    return out


def output_tiles(f, m, grid, out):
    """Y (N, OH, OW, C_out) from M (a^2, tiles, C_out), written into ``out``."""
    _output_tiles(f.tile_matrices(m.dtype)[1], m, grid[0], grid[1], out)
    return out


def output_tiles_adjoint(f, y, grid, out):
    """The adjoint of output_tiles: dM (a^2, tiles, C_out) from dY (N, OH, OW, C_out), written into ``out``."""
    _output_tiles_adjoint(f.tile_matrices(y.dtype)[1], y, grid[0], grid[1], out)
    return out


# ----------------------------------------------------------------------------- NumPy reference (read these first)
# Each transform and its adjoint as plain array code on whole tiles: the tests check the kernels above against them.
def _padding(f, input_shape, padding, grid):
    """The shape (N, m TH + r - 1, m TW + r - 1, C) of the input zero-padded for the tiles, the part of it that
    holds the input, and the part of the input it holds (the rows and columns no tile reaches are left out)."""
    n, h, w, c = input_shape
    (th, tw), (top, left), overlap = grid, padding, f.r - 1
    rows, cols = min(h, f.m * th + overlap - top), min(w, f.m * tw + overlap - left)
    inside = (slice(None), slice(top, top + rows), slice(left, left + cols))
    return (n, f.m * th + overlap, f.m * tw + overlap, c), inside, (slice(None), slice(0, rows), slice(0, cols))


def _patches(f, x, padding, grid):
    """The a x a input patch d of every tile: (N, TH, TW, a, a, C)."""
    shape, inside, reached = _padding(f, x.shape, padding, grid)
    padded = np.zeros(shape, x.dtype)
    padded[inside] = x[reached]
    i = f.m * np.arange(grid[0])[:, None] + np.arange(f.alpha)
    j = f.m * np.arange(grid[1])[:, None] + np.arange(f.alpha)
    return padded[:, i[:, None, :, None], j[None, :, None, :]]


def _patches_adjoint(f, patches, padding, input_shape):
    """The adjoint of _patches: each tile's a x a patch gradient added into the input under it (tiles overlap)."""
    grid = patches.shape[1:3]
    shape, inside, reached = _padding(f, input_shape, padding, grid)
    padded = np.zeros(shape, patches.dtype)
    for i in range(f.alpha):
        for j in range(f.alpha):
            padded[:, i:i + f.m * grid[0]:f.m, j:j + f.m * grid[1]:f.m] += patches[:, :, :, i, j]
    dx = np.zeros(input_shape, patches.dtype)
    dx[reached] = padded[inside]
    return dx


def reference_input_tiles(f, x, padding, grid):
    """V = B^T d B of every tile, as (a^2, tiles, C)."""
    bt = f.bt.astype(x.dtype)
    v = np.einsum("ai,nhwijc,bj->abnhwc", bt, _patches(f, x, padding, grid), bt)
    return v.reshape(f.positions, -1, x.shape[3])


def reference_input_tiles_adjoint(f, v, padding, grid, input_shape):
    """dx (N, H, W, C): dd = B dV B^T of every tile, added into the input under it."""
    th, tw = grid
    bt = f.bt.astype(v.dtype)
    dd = np.einsum("ai,abnhwc,bj->nhwijc", bt, v.reshape(f.alpha, f.alpha, -1, th, tw, v.shape[2]), bt)
    return _patches_adjoint(f, dd, padding, input_shape)


def reference_transform_weight(f, weight):
    """U^T (a^2, C_out, C_in): U = G g G^T of every (r, r) kernel g."""
    u = np.einsum("ai,ocij,bj->aboc", f.g, weight, f.g)
    return u.reshape((f.positions,) + weight.shape[:2]).astype(weight.dtype)


def reference_weight_gradient(f, grad_u_t):
    """dg = G^T dU G of every kernel, (C_out, C_in, r, r), from dU^T (a^2, C_out, C_in)."""
    grad_u = grad_u_t.reshape((f.alpha, f.alpha) + grad_u_t.shape[1:])
    return np.einsum("ai,aboc,bj->ocij", f.g, grad_u, f.g).astype(grad_u_t.dtype)


def reference_output_tiles(f, m, grid, output_hw):
    """Y = A^T M A of every tile, (N, OH, OW, C), the pixels past the output dropped."""
    at = f.at.astype(m.dtype)
    th, tw = grid
    tiles = m.reshape(f.alpha, f.alpha, -1, th, tw, m.shape[2])
    y = np.einsum("ra,abnhwc,qb->nhrwqc", at, tiles, at)  # (N, TH, m, TW, m, C)
    y = y.reshape(-1, f.m * th, f.m * tw, m.shape[2])
    return y[:, :output_hw[0], :output_hw[1]]


def reference_output_tiles_adjoint(f, y, grid):
    """dM = A dY A^T of every tile, (a^2, tiles, C), the pixels past the output counting as 0."""
    n, out_h, out_w, c = y.shape
    th, tw = grid
    padded = np.zeros((n, f.m * th, f.m * tw, c), y.dtype)
    padded[:, :out_h, :out_w] = y
    at = f.at.astype(y.dtype)
    m = np.einsum("ra,nhrwqc,qb->abnhwc", at, padded.reshape(n, th, f.m, tw, f.m, c), at)
    return m.reshape(f.positions, -1, c)
