"""The fast convolution: the methods behind one interface (``ConvMethod``), run in chunks of the batch on threads.

``ops.conv`` holds the convolution to read first (``reference_conv2d``: im2col and one matrix product per
group) and ``choose_method``, which says which of these runs where and why:

- ``Im2col``: the same products, with the fast im2col/col2im (``im2col_fast``) writing into reused buffers;
- ``Winograd``, ``Winograd4``, ``Winograd25`` and ``Winograd45``: F(2x2, 3x3) and F(4x4, 3x3) for 3x3 stride-1
  layers, 2.25x and 4x fewer multiplications, F(2x2, 5x5) and F(4x4, 5x5) for 5x5 ones, 2.8x and 6.25x fewer
  (``kernels.winograd``);
- ``KernelRows``: 4 to 16 input channels, one kernel row's patches at a time;
- ``Direct``: few channels in and out, stride 1, the sums as written, vectorised across images
  (``kernels.direct_conv``).

On the CPU the batch is cut into chunks of images whose work space fits in cache, and each chunk's
whole pipeline runs on one thread (``kernels.workers``); backward rebuilds the patches instead of
keeping them. On the GPU the chunks are far larger (``GPU_CHUNK_BYTES``) and run one after the other.
"""
import abc
import math

import numpy as np

from .. import backend
from . import big_arrays, direct_conv, im2col_fast, winograd, workers
from .im2col import ConvGeometry, kernels_of, patch_columns, weight_matrices

CHUNK_BYTES = 2 << 20  # scratch bytes per chunk: about what a core's cache holds
# Each thread a convolution runs on gets at least this many multiply-adds of its forward: waking a thread and
# handing work over costs some 50-100 us, what a few million multiply-adds of a small convolution take. LeNet's
# training step on 2 threads (bench_models.Pair, back to back, best of 15): batch 4 (convolutions of 0.9M and 1.4M
# multiply-adds) 1.76 ms with both on two threads, 1.28 on one; batch 16 to 32 (3.8M to 11M) within the noise of
# one another either way; batch 128 (31M and 45M) 6.0 on two threads, 8.2 on one.
MIN_PRODUCTS_PER_THREAD = 3 << 20
# Scratch bytes per chunk on the GPU: a bound on memory, not a cache size. The whole batch's patches would take
# 2.4 GB for a 128-channel 3x3 layer at 32x32, batch 512 (4.8 GB in backward with their gradient), more than a
# 16-24 GB card can spare beside the activations; 512 MB still gives each product about 116k rows (113 images of
# that layer), plenty to fill the GPU.
GPU_CHUNK_BYTES = 512 << 20
BLOCK_CHANNELS = 64  # Winograd's weight gradient works on blocks of a multiple of this many output channels


class ConvMethod(abc.ABC):
    """One algorithm for a convolution, computing a chunk of images at a time in ``forward`` and ``backward``;
    ``run_forward`` and ``run_backward`` run it on the whole batch, in chunks on threads. Arrays are channels last.

    Every method sets, for the chunker (``chunks``):
        rows_per_image   rows of its work matrices per image (output pixels, or Winograd tiles)
        row_items        scratch elements per such row, all its buffers together
        min_rows         the fewest rows a chunk should have: dW's product sums over a chunk's rows, and one
                         with fewer rows than its result has is dominated by writing the result
    """
    algorithm: str  # its name, which ``Conv2d`` records and the autograd graph shows
    reads_any_layout = False  # True: x may be any strided (N, H, W, C) view, else it is C-contiguous
    adds_bias = False  # True: forward takes the bias (None: none) as a fourth argument and adds it itself
    rows_per_image: int
    row_items: int
    min_rows: int

    def __init__(self, weight, geometry, input_shape):
        """Prepare the kernels (C_out, C/groups, KH, KW) for inputs of ``input_shape`` (N, H, W, C)."""
        self.weight_shape, self.geometry = weight.shape, geometry

    @abc.abstractmethod
    def forward(self, x, out, keep):
        """out (N', OH, OW, C_out) = the convolution of the chunk of images x (N', H, W, C), without bias. May
        return what the chunk's backward takes back as ``kept`` (where ``keep``: a backward will ask for dW)."""

    @abc.abstractmethod
    def backward(self, x, grad_y, grad_x, need_weight, kept):
        """Write the chunk's dx into ``grad_x`` (unless None); return its share of the weight gradient (if
        ``need_weight``), in this method's own layout. ``kept``: what forward returned for the chunk, or None."""

    @abc.abstractmethod
    def weight_gradient(self, total):
        """The sum of the chunks' shares, as the gradient of the kernels (C_out, C/groups, KH, KW)."""

    def run_forward(self, x, bias, keep=False):
        """The convolution (N, OH, OW, C_out) of the whole batch x (N, H, W, C), plus the bias (unless None);
        ``keep``: run_backward will follow, asking for dW (a method may keep arrays for it)."""
        xp = backend.get_array_module(x)
        self.threads = min(workers.num_threads(), max(1, self.products(len(x)) // MIN_PRODUCTS_PER_THREAD))
        self.chunks = chunks(xp, len(x), self, x.itemsize, self.threads)
        out_shape = (len(x),) + self.geometry.output + (self.weight_shape[0],)
        out = big_arrays.empty(out_shape, x.dtype) if xp is np else xp.empty(out_shape, x.dtype)
        # added one output row (OW pixels) at a time: NumPy's loop over the bias alone runs 4x slower at 6 channels
        row_bias = None if bias is None else xp.tile(bias, self.geometry.output[1])

        def chunk(index):
            start, stop = self.chunks[index]
            if self.adds_bias:
                return self.forward(x[start:stop], out[start:stop], keep, bias)
            kept = self.forward(x[start:stop], out[start:stop], keep)
            if bias is not None:
                rows = out[start:stop].reshape(-1, len(row_bias))  # a view: out is contiguous
                rows += row_bias
            return kept

        self.kept = _run_chunks(xp, len(self.chunks), chunk, self.threads)
        return out

    def products(self, images):
        """The multiply-adds of the forward of ``images`` images, as the direct convolution counts them."""
        out_channels, channels_per_group, kh, kw = self.weight_shape
        return images * self.geometry.output[0] * self.geometry.output[1] * out_channels * channels_per_group * kh * kw

    def run_backward(self, x, grad_y, needs):
        """(dx, dW, db) of the whole batch, in the chunks of run_forward; None for each that ``needs`` does not ask."""
        xp = backend.get_array_module(grad_y)
        need_x, need_weight, need_bias = needs
        grad_x = None if not need_x else big_arrays.empty_like(x) if xp is np else xp.empty_like(x)

        def chunk(index):
            start, stop = self.chunks[index]
            grad_y_chunk = grad_y[start:stop]
            share = self.backward(x[start:stop], grad_y_chunk, grad_x[start:stop] if need_x else None, need_weight,
                                  self.kept[index])
            return share, im2col_fast.column_sums(grad_y_chunk.reshape(-1, grad_y.shape[3])) if need_bias else None

        def add(total, shares):  # in chunk order: deterministic
            return _plus(total[0], shares[0]), _plus(total[1], shares[1])

        if not self.chunks:  # an empty batch: zero gradients, as PyTorch's
            zeros = xp.zeros(self.weight_shape, grad_y.dtype), xp.zeros(self.weight_shape[0], grad_y.dtype)
            return grad_x, zeros[0] if need_weight else None, zeros[1] if need_bias else None
        total_weight, total_bias = _run_chunks(xp, len(self.chunks), chunk, self.threads, add)
        return grad_x, self.weight_gradient(total_weight) if need_weight else None, total_bias


def _plus(total, more):
    """total + more, in place where total is an array already; None stands for nothing (yet)."""
    if total is None or more is None:
        return more if total is None else total
    total += more
    return total


def chunks(xp, images, method, itemsize, threads=1):
    """(start, stop) image ranges, evenly split, of about CHUNK_BYTES of scratch each (GPU_CHUNK_BYTES for CuPy),
    but at least ``method.min_rows`` rows and one image; on the CPU a multiple of ``threads`` of them (the threads
    they will run on: a chunk cut only for a thread that does not run makes the others' products thinner)."""
    on_cpu = xp is np
    budget = CHUNK_BYTES if on_cpu else GPU_CHUNK_BYTES
    rows = max(budget // (method.row_items * itemsize), method.min_rows)
    per_chunk = max(1, rows // method.rows_per_image)
    count = -(-images // per_chunk)
    if on_cpu:
        count = min(images, threads * -(-count // threads))
    return [(images * i // count, images * (i + 1) // count) for i in range(count)]


def _run_chunks(xp, count, work, threads, fold=None):
    """``workers.run_chunks``: on up to ``threads`` threads on the CPU, one after the other on the GPU (its kernels
    queue on one stream anyway, and a new thread would start on GPU 0, not on the caller's)."""
    return workers.run_chunks(count, work, threads if xp is np else 1, fold)


def _scratch(xp, shape, dtype):
    """Work space for one chunk: the thread's reusable buffer on the CPU, a new array on the GPU."""
    return workers.scratch(shape, dtype) if xp is np else xp.empty(shape, dtype)


def _matmul_into(a, b, out):
    """out = a @ b, with ``out`` possibly a column slice of a larger matrix (groups > 1); on the GPU through
    ``backend.cuda_matmul``, which applies the TF32 switch. CuPy writes a C-contiguous ``out`` directly and
    multiplies into a temporary that it then copies for a slice."""
    (backend.cuda_matmul if backend.is_cupy_array(out) else np.matmul)(a, b, out=out)


class Im2col(ConvMethod):
    """``reference_conv2d``'s products, Y_g = P_g W_g; dW_g = P_g^T dY_g, dx = col2im(dY_g W_g^T), with the fast
    im2col/col2im writing into the thread's reused buffers. Any geometry, and every convolution on the GPU."""
    algorithm = "im2col"

    def __init__(self, weight, geometry, input_shape):
        super().__init__(weight, geometry, input_shape)
        self.weights = weight_matrices(weight, geometry.groups)  # W_g: (groups, KH * KW * C/groups, C_out/groups)
        columns = patch_columns(input_shape[3], geometry)
        # a chunk's rows: its output pixels; dW's product should sum over at least as many rows as P has columns
        self.rows_per_image, self.row_items, self.min_rows = geometry.output[0] * geometry.output[1], columns, columns
        # a 1x1 convolution with stride 1 and no padding: the patch matrix is the input itself
        self.pointwise = geometry.kernel == (1, 1) and geometry.stride == (1, 1) and geometry.padding == (0, 0) \
            and geometry.output == tuple(input_shape[1:3])
        self.transposed = (not backend.is_cupy_array(weight) and geometry.stride[1] == 1 and
                           im2col_fast.has_short_runs(input_shape[3], geometry))

    def _patches(self, x):
        """P, or on the CPU where a kernel row's run of values is short and the stride 1, P^T's transpose: the rows
        of P^T are an output row's OW values of one tap, read from one row of the input, so they copy as runs
        of OW values instead of KW * C. One thread on the 2-core EPYC (Zen 5), a chunk of 2 MB of patches: RGB
        3x3 at 32x32 0.37 -> 0.08 ms, RGB 5x5 0.26 -> 0.05, 8 channels 3x3 0.26 -> 0.08, 16 at 16x16 0.20 ->
        0.11; at stride 2 the runs are no faster (RGB 7x7: 0.37 either way). Products with P^T's transpose take
        5-15% longer than with P, less than the copies save: 1.6 -> 1.0 ms for the forward and dW of RGB 3x3."""
        if self.pointwise:
            return x.reshape(-1, x.shape[3])
        xp = backend.get_array_module(x)
        shape = (len(x) * self.rows_per_image, self.row_items)
        if self.transposed:
            padded = workers.scratch(im2col_fast.planes_shape(x.shape, self.geometry), x.dtype, 1)
            return im2col_fast.im2col_transposed(x, self.geometry, padded, workers.scratch(shape[::-1], x.dtype)).T
        return im2col_fast.im2col(x, self.geometry, _scratch(xp, shape, x.dtype))

    def _per_group(self, a, b, out, transpose_b=False):
        """out_g = a_g b_g (or a_g b_g^T) for each group's block of columns a_g of a and out_g of out."""
        xp, groups = backend.get_array_module(a), self.geometry.groups
        for a_group, b_group, out_group in zip(xp.split(a, groups, axis=1), b, xp.split(out, groups, axis=1)):
            _matmul_into(a_group, b_group.T if transpose_b else b_group, out_group)

    def forward(self, x, out, keep):
        self._per_group(self._patches(x), self.weights, out.reshape(-1, out.shape[3]))

    def backward(self, x, grad_y, grad_x, need_weight, kept):
        """The share is dW_g as (groups, KH * KW * C/groups, C_out/groups)."""
        xp, groups = backend.get_array_module(grad_y), self.geometry.groups
        dy = grad_y.reshape(-1, grad_y.shape[3])
        grad_w = None
        if need_weight:  # dW_g = P_g^T dY_g
            patches = xp.split(self._patches(x), groups, axis=1)
            grad_w = xp.stack([backend.matmul(p.T, d) for p, d in zip(patches, xp.split(dy, groups, axis=1))])
        if grad_x is not None:  # dP_g = dY_g W_g^T, dx = col2im(dP)
            if self.pointwise:
                self._per_group(dy, self.weights, grad_x.reshape(len(dy), -1), transpose_b=True)
            else:
                grad_patches = _scratch(xp, (len(dy), self.row_items), dy.dtype)  # the patches' buffer, used up
                self._per_group(dy, self.weights, grad_patches, transpose_b=True)
                im2col_fast.col2im(grad_patches, self.geometry, grad_x.shape, out=grad_x)
        return grad_w

    def weight_gradient(self, total):
        return kernels_of(total, self.weight_shape)


class Winograd(ConvMethod):
    """F(2x2, 3x3) on the CPU: M_xi = V_xi U_xi; dU_xi = V_xi^T dM_xi, dV_xi = dM_xi U_xi^T (kernels.winograd), the
    a^2 products of a chunk as one batched matmul with its tiles as the long dimension."""
    algorithm = "Winograd F(2x2,3x3)"
    transform = winograd.F2

    def __init__(self, weight, geometry, input_shape):
        super().__init__(weight, geometry, input_shape)
        self.weight = weight
        self.padding, self.grid = geometry.padding, winograd.tile_grid(self.transform, geometry.output)
        channels, out_channels = input_shape[3], weight.shape[0]
        self.rows_per_image = self.grid[0] * self.grid[1]
        self.row_items, self.min_rows = self.transform.positions * (channels + out_channels), channels

    def run_forward(self, x, bias, keep=False):
        # U (a^2, C_in, C_out), from the kernels with their channel axes swapped: the tile products V_xi U_xi then
        # take no transposed operand, which OpenBLAS's AVX-512 kernels multiply slower (256 -> 256 at 8x8, 16
        # images, one thread, AMD Zen 4: 5.2 ms as V (U^T)^T, 4.0 as V U)
        self.u = winograd.transform_weight(self.transform, self.weight.transpose(1, 0, 2, 3))
        out = super().run_forward(x, bias, keep)
        del self.u  # a^2 / r^2 times the kernels' memory: backward transforms them again rather than keep U
        return out

    def run_backward(self, x, grad_y, needs):
        self.u_t = winograd.transform_weight(self.transform, self.weight) if needs[0] else None  # for dV = dM U
        grads = super().run_backward(x, grad_y, needs)
        del self.u_t
        return grads

    def _tiles(self, images, channels, dtype, slot):
        return workers.scratch((self.transform.positions, images * self.rows_per_image, channels), dtype, slot)

    def forward(self, x, out, keep):
        v = winograd.input_tiles(self.transform, x, self.padding, self.grid,
                                 self._tiles(len(x), x.shape[3], x.dtype, 0))
        m = self._tiles(len(x), out.shape[3], x.dtype, 1)
        np.matmul(v, self.u, out=m)
        winograd.output_tiles(self.transform, m, self.grid, out)

    def backward(self, x, grad_y, grad_x, need_weight, kept):
        """The share is dW taps first, (r^2, C_out, C_in)."""
        grad_m = winograd.output_tiles_adjoint(self.transform, grad_y, self.grid,
                                               self._tiles(len(x), grad_y.shape[3], grad_y.dtype, 1))
        v = self._tiles(len(x), x.shape[3], x.dtype, 0)
        grad_w = None
        if need_weight:
            v = winograd.input_tiles(self.transform, x, self.padding, self.grid, v)
            grad_w = self._weight_share(grad_m, v)
        if grad_x is not None:
            np.matmul(grad_m, self.u_t, out=v)  # dV, into V's buffer
            winograd.input_tiles_adjoint(self.transform, v, self.padding, self.grid, grad_x)
        return grad_w

    def _weight_share(self, grad_m, v):
        """The chunk's dW: dU^T = dM^T V for a block of output channels at a time, each block turned into its
        kernels' gradient at once, so that a chunk never holds all of dU^T (a^2 / r^2 times the kernels: 9.4 MiB
        for the AlexNet-style net's 256 -> 256 layer, one per chunk, against 2.4 for dW)."""
        positions, out_channels, in_channels = len(v), grad_m.shape[2], v.shape[2]
        grad_w = np.empty((self.transform.taps, out_channels, in_channels), v.dtype)  # taps first
        # about CHUNK_BYTES of dU^T a block, in whole vectors' worth of channels: products of 64 output channels
        # ran 8% slower than the whole (a^2 x 256 x 256 from 256 tiles, one thread on the 2-core EPYC), of 56 15%
        channel_bytes = positions * in_channels * v.itemsize  # dU^T's bytes per output channel
        per_block = BLOCK_CHANNELS * max(1, round(CHUNK_BYTES / channel_bytes / BLOCK_CHANNELS))
        for start in range(0, out_channels, per_block):
            stop = min(out_channels, start + per_block)
            block = workers.scratch((positions, stop - start, in_channels), v.dtype, 2)
            np.matmul(grad_m[:, :, start:stop].transpose(0, 2, 1), v, out=block)  # dU^T of the block
            winograd.weight_gradient(self.transform, block, out=grad_w[:, start:stop])
        return grad_w

    def weight_gradient(self, total):
        return winograd.kernels_last(total)


class Winograd4(Winograd):
    """F(4x4, 3x3): the same steps on 6x6 input tiles, 4x fewer multiplications than the direct convolution
    and about a decimal digit less float32 accuracy (``ops.conv.choose_method`` says where it runs)."""
    algorithm = "Winograd F(4x4,3x3)"
    transform = winograd.F4


class Winograd25(Winograd):
    """F(2x2, 5x5): the same steps on 6x6 input tiles for a 5x5 kernel, 36 multiplications where the direct
    convolution spends 100 (``ops.conv.choose_method`` says where it runs)."""
    algorithm = "Winograd F(2x2,5x5)"
    transform = winograd.F25


class Winograd45(Winograd):
    """F(4x4, 5x5): the same steps on 8x8 input tiles, 64 multiplications where the direct convolution spends 400,
    at about three times F(4x4, 3x3)'s float32 error (``ops.conv.choose_method`` says where it runs)."""
    algorithm = "Winograd F(4x4,5x5)"
    transform = winograd.F45


class KernelRows(ConvMethod):
    """Few input channels, vertical stride 1: the patches of one kernel row, taken from the input padded
    vertically (x_p, with R = OH + (KH - 1) * dh rows), Q[n, r, ow] = the KW taps of row r of x_p for output
    column ow; then with W_i the weights of kernel row i as (KW * C, C_out), for each image

        Y[oh] = sum_i Q[oh + i * dh] W_i,    dW_i = sum over (n, oh) of Q[oh + i * dh]^T dY[oh],
        dQ[oh + i * dh] += dY[oh] W_i^T,     dx = the unpadded rows of col2im(dQ)

    where Q[a:a + OH] of one image is a contiguous (OH * OW, KW * C) matrix, so each sum is KH products."""
    algorithm = "kernel rows"

    def __init__(self, weight, geometry, input_shape):
        super().__init__(weight, geometry, input_shape)
        out_channels, channels, kh, kw = weight.shape
        (out_h, out_w), (dh, dw) = geometry.output, geometry.dilation
        self.weights = np.ascontiguousarray(weight.transpose(2, 3, 1, 0)).reshape(kh, kw * channels, out_channels)
        self.row_offsets = [i * dh for i in range(kh)]
        self.top, self.padded_rows = geometry.padding[0], out_h + (kh - 1) * dh
        self.row_geometry = ConvGeometry((1, kw), (1, geometry.stride[1]), (0, geometry.padding[1]), (1, dw), 1,
                                         (self.padded_rows, out_w))
        self.rows_per_image = out_h * out_w
        q_items = self.padded_rows * out_w * kw * channels + input_shape[1] * input_shape[2] * channels
        self.row_items = -(-q_items // self.rows_per_image) + out_channels  # Q, x_p and one product per image
        self.min_rows = kw * channels

    def _rows(self, x, slot):
        """Q as (N', R, OW, KW * C): x vertically zero-padded into a scratch buffer, then its kernel-row patches."""
        n, height, width, channels = x.shape
        padded = workers.scratch((n, self.padded_rows, width, channels), x.dtype, slot)
        padded[:, :self.top] = 0
        padded[:, self.top:self.top + height] = x
        padded[:, self.top + height:] = 0
        q = workers.scratch((n * self.padded_rows * self.row_geometry.output[1], self.weights.shape[1]), x.dtype, 1)
        return im2col_fast.im2col(padded, self.row_geometry, q).reshape(n, self.padded_rows, -1, self.weights.shape[1])

    def _window(self, q, i, out_h):
        """Q[:, a:a + OH] for kernel row i, as (N', OH * OW, KW * C) (a view)."""
        a = self.row_offsets[i]
        return q[:, a:a + out_h].reshape(len(q), -1, q.shape[3])

    def forward(self, x, out, keep):
        q, out_h = self._rows(x, 0), out.shape[1]
        y = out.reshape(len(out), -1, out.shape[3])
        product = workers.scratch(y.shape, y.dtype, 2)
        np.matmul(self._window(q, 0, out_h), self.weights[0], out=y)
        for i in range(1, len(self.weights)):
            y += np.matmul(self._window(q, i, out_h), self.weights[i], out=product)

    def backward(self, x, grad_y, grad_x, need_weight, kept):
        """The share is dW as (KH, KW * C, C_out)."""
        out_h = grad_y.shape[1]
        dy = grad_y.reshape(len(grad_y), -1, grad_y.shape[3])
        grad_w = None
        if need_weight:
            q = self._rows(x, 0)
            grad_w = np.stack([(self._window(q, i, out_h).transpose(0, 2, 1) @ dy).sum(axis=0)
                               for i in range(len(self.weights))])
        if grad_x is not None:
            n, height, width, channels = x.shape
            grad_q = workers.scratch((n, self.padded_rows, self.row_geometry.output[1], self.weights.shape[1]),
                                     dy.dtype, 1)
            grad_q[...] = 0
            product = workers.scratch((n, dy.shape[1], self.weights.shape[1]), dy.dtype, 2)
            for i in range(len(self.weights)):
                self._window(grad_q, i, out_h)[...] += np.matmul(dy, self.weights[i].T, out=product)
            grad_padded = workers.scratch((n, self.padded_rows, width, channels), dy.dtype, 0)
            im2col_fast.col2im(grad_q.reshape(-1, grad_q.shape[3]), self.row_geometry, grad_padded.shape,
                               out=grad_padded)
            grad_x[...] = grad_padded[:, self.top:self.top + height]
        return grad_w

    def weight_gradient(self, total):
        """(KH, KW * C, C_out) back to (C_out, C, KH, KW)."""
        out_channels, channels, kh, kw = self.weight_shape
        return np.ascontiguousarray(total.reshape(kh, kw, channels, out_channels).transpose(3, 2, 0, 1))


class Direct(ConvMethod):
    """Stride 1, few output channels: the convolution's sums as written, vectorised across a chunk's images laid
    out lanes last (``kernels.direct_conv``): Y = correlate(X, w), dW = the dot products of dY with X's slices,
    dx = correlate(dY padded by (K - 1) * d - padding, w flipped with its channel axes swapped)."""
    algorithm = "direct"
    reads_any_layout = True  # its first step copies x into the lanes layout anyway
    adds_bias = True  # as its last step copies the output back from the lanes layout

    def __init__(self, weight, geometry, input_shape):
        super().__init__(weight, geometry, input_shape)
        out_channels, channels, kh, kw = weight.shape
        (out_h, out_w), (dh, dw), (top, left) = geometry.output, geometry.dilation, geometry.padding
        height, width = input_shape[1:3]
        # the correlation computes two output channels at a time: a zero kernel makes their count even
        self.weights = _even_channels(weight)
        self.flipped = _even_channels(weight[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
        self.padded = (channels, out_h + (kh - 1) * dh, out_w + (kw - 1) * dw)  # X: (C, R, Q) per image
        # dx = correlate(dY_p, flipped) with dY_p: dY shifted down and right by the dilated kernel less the padding
        self.grad_offset = ((kh - 1) * dh - top, (kw - 1) * dw - left)
        self.grad_padded = (out_channels, height + (kh - 1) * dh, width + (kw - 1) * dw)
        # a chunk's rows: its images, at least one vector of them; its scratch: backward's buffers, forward's fewer
        self.rows_per_image, self.min_rows = 1, direct_conv.LANES
        self.row_items = (max(math.prod(self.padded), math.prod(self.grad_padded)) + len(self.weights) * out_h * out_w +
                          len(self.flipped) * height * width)

    def _x_lanes(self, x, keep):
        """Room for the lanes of the chunk x: a new array to keep, else the thread's scratch."""
        shape = self.padded + (len(x),)
        return np.empty(shape, x.dtype) if keep else workers.scratch(shape, x.dtype)

    def forward(self, x, out, keep, bias=None):
        """Keeps x's lanes for dW where asked: laying x out again in backward took a third of the time of dW's sums
        (LeNet's first layer, 3x32x32 images: 59 us a chunk of 21 images, its dW 150 us, on the 2-core EPYC)."""
        lanes = self._x_lanes(x, keep)
        bias = np.empty(0, x.dtype) if bias is None else bias
        direct_conv.forward_chunk(x, *self.geometry.padding, self.padded, self.weights, bias, *self.geometry.dilation,
                                  out, lanes)
        return lanes if keep else None

    def backward(self, x, grad_y, grad_x, need_weight, kept):
        """The share is dW (C_out, C, KH, KW), with the even channel count of ``weights``."""
        # 4-D even when empty: numba types the dW branch of the kernel whether or not it runs
        grad_w = np.zeros(self.weights.shape if need_weight else (0,) * 4, grad_y.dtype)
        x_lanes = self._x_lanes(x, False) if kept is None else kept
        need_x, grad_x = grad_x is not None, np.empty((0,) * 4, grad_y.dtype) if grad_x is None else grad_x
        direct_conv.backward_chunk(x, grad_y, *self.geometry.padding, self.padded, self.flipped, *self.grad_offset,
                                   self.grad_padded, *self.geometry.dilation, x_lanes, kept is not None, grad_x, need_x,
                                   grad_w)
        return grad_w if need_weight else None

    def weight_gradient(self, total):
        return total[:self.weight_shape[0]]


def _even_channels(weight):
    """The kernels (C_out, C, KH, KW) contiguous, with a zero kernel appended where C_out is odd."""
    out_channels = len(weight) + len(weight) % 2
    even = np.zeros((out_channels,) + weight.shape[1:], weight.dtype)
    even[:len(weight)] = weight
    return even
