"""2-D convolution with PyTorch's semantics: cross-correlation with stride, padding, dilation, groups and bias.

With x in channels-last memory (N, H, W, C) and P its patch matrix (``kernels.im2col``: one row per
output pixel, one column per kernel tap and input channel), the convolution is one matrix product
per channel group g:

    Y_g = P_g W_g + b_g,      W_g = the group's weights as (KH * KW * C/groups, C_out/groups) in P's column order

and Y, of shape (N * OH * OW, C_out), already is the output in channels-last memory. Backward:

    dW_g = P_g^T dY_g,    db = column sums of dY,    dP_g = dY_g W_g^T,    dx = col2im(dP)

On the CPU, 3x3 convolutions with stride 1 (no dilation or groups, at least WINOGRAD_MIN_CHANNELS
input channels) use Winograd's F(2x2, 3x3) instead (``kernels.winograd``): the same products on
transformed 4x4 tiles, with 2.25x fewer multiplications. Convolutions with few input channels (a
network's first layer) and vertical stride 1 build the patches of one kernel row only, Q, and sum the
kernel rows as products (``_KernelRows``): Q is KH times smaller than P, where P's copying cost more
than its products.

On the CPU the batch is cut into chunks of images whose patches fit in cache, and each chunk's
whole pipeline runs on one thread (``kernels.workers``); backward rebuilds the patches instead of
keeping them. The output is an (N, C_out, OH, OW) view of channels-last memory: elementwise ops,
BatchNorm and pooling keep that layout, so the next convolution reads its patches contiguously.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from ..kernels import winograd, workers
from ..kernels.im2col import ConvGeometry, col2im, im2col, output_size, patch_columns

CHUNK_BYTES = 2 << 20  # scratch bytes per chunk: about what a core's cache holds
WINOGRAD_MIN_CHANNELS = 16  # below, the 16 matrix products are too thin to pay for the transforms
KERNEL_ROWS_MAX_CHANNELS = 15  # up to this many input channels, _KernelRows beats one patch matrix


def channels_last(a):
    """(N, C, H, W) as contiguous (N, H, W, C): a view when the memory already is channels last."""
    return backend.get_array_module(a).ascontiguousarray(a.transpose(0, 2, 3, 1))


def _scratch(xp, shape, dtype):
    """Work space for one chunk: the thread's reusable buffer on the CPU, a new array on the GPU."""
    return workers.scratch(shape, dtype) if xp is np else xp.empty(shape, dtype)


def _matmul_into(a, b, out):
    """out = a @ b, with ``out`` possibly a column slice of a larger matrix."""
    if backend.is_cupy_array(out):
        out[...] = a @ b
    else:
        np.matmul(a, b, out=out)


class _Im2col:
    """The direct method, for any geometry: Y_g = P_g W_g; dW_g = P_g^T dY_g, dx = col2im(dY_g W_g^T)."""

    def __init__(self, weight, geometry, input_shape):
        xp = backend.get_array_module(weight)
        groups, out_channels = geometry.groups, weight.shape[0]
        # W_g: weight (C_out, C/groups, KH, KW) -> (groups, KH * KW * C/groups, C_out/groups)
        self.weights = xp.ascontiguousarray(
            weight.reshape((groups, out_channels // groups) + weight.shape[1:]).transpose(0, 3, 4, 2, 1)
        ).reshape(groups, -1, out_channels // groups)
        self.geometry = geometry
        columns = patch_columns(input_shape[3], geometry)
        # a chunk's rows: its output pixels; dW's product should reduce over at least as many rows as P has columns
        self.rows_per_image, self.row_items, self.min_rows = geometry.output[0] * geometry.output[1], columns, columns
        # a 1x1 convolution with stride 1 and no padding: the patch matrix is the input itself
        self.pointwise = geometry.kernel == (1, 1) and geometry.stride == (1, 1) and geometry.padding == (0, 0) \
            and geometry.output == tuple(input_shape[1:3])

    def _patches(self, x):
        if self.pointwise:
            return x.reshape(-1, x.shape[3])
        xp = backend.get_array_module(x)
        shape = (len(x) * self.rows_per_image, self.row_items)
        return im2col(x, self.geometry, _scratch(xp, shape, x.dtype))

    def _per_group(self, a, b, out, transpose_b=False):
        """out[:, group g] = a[:, group g] @ b[g] (or b[g]^T) for each group's block of columns."""
        groups = self.geometry.groups
        width_a, width_out = a.shape[1] // groups, out.shape[1] // groups
        for g in range(groups):
            b_g = b[g].T if transpose_b else b[g]
            _matmul_into(a[:, g * width_a:(g + 1) * width_a], b_g, out[:, g * width_out:(g + 1) * width_out])

    def forward(self, x, out):
        """out (N', OH, OW, C_out) = the convolution of the images x (N', H, W, C), without bias."""
        self._per_group(self._patches(x), self.weights, out.reshape(-1, out.shape[3]))

    def backward(self, x, grad, grad_x, need_weight):
        """Write dx into ``grad_x`` (unless None); return this chunk's part of dW_g (groups, K/groups, C_out/groups)."""
        xp = backend.get_array_module(grad)
        groups, (_, k, out_per_group) = self.geometry.groups, self.weights.shape
        g = grad.reshape(-1, grad.shape[3])
        grad_w = None
        if need_weight:
            patches = self._patches(x)
            grad_w = xp.stack([patches[:, i * k:(i + 1) * k].T @ g[:, i * out_per_group:(i + 1) * out_per_group]
                               for i in range(groups)])
        if grad_x is not None:
            if self.pointwise:
                self._per_group(g, self.weights, grad_x.reshape(len(g), -1), transpose_b=True)
            else:
                grad_patches = _scratch(xp, (len(g), k * groups), g.dtype)  # the patches' buffer, used up
                self._per_group(g, self.weights, grad_patches, transpose_b=True)
                col2im(grad_patches, self.geometry, grad_x.shape, out=grad_x)
        return grad_w

    def weight_gradient(self, grad_w, weight_shape):
        """(groups, KH * KW * C/groups, C_out/groups) back to (C_out, C/groups, KH, KW)."""
        xp = backend.get_array_module(grad_w)
        out_channels, per_group, kh, kw = weight_shape
        groups = self.geometry.groups
        return xp.ascontiguousarray(
            grad_w.reshape(groups, kh, kw, per_group, out_channels // groups).transpose(0, 4, 3, 1, 2)
        ).reshape(weight_shape)


class _Winograd:
    """F(2x2, 3x3) on the CPU: M_xi = V_xi U_xi; dU_xi = V_xi^T dM_xi, dV_xi = dM_xi U_xi^T (kernels.winograd)."""

    def __init__(self, weight, geometry, input_shape):
        self.u_t = winograd.transform_weight(weight)  # U^T: (16, C_out, C_in)
        self.padding, self.grid = geometry.padding, winograd.tile_grid(geometry.output)
        channels, out_channels = input_shape[3], weight.shape[0]
        self.rows_per_image = self.grid[0] * self.grid[1]
        self.row_items, self.min_rows = 16 * (channels + out_channels), channels

    def _tiles(self, images, channels, dtype, slot):
        return workers.scratch((16, images * self.rows_per_image, channels), dtype, slot)

    def forward(self, x, out):
        v = winograd.input_tiles(x, self.padding, self.grid, self._tiles(len(x), x.shape[3], x.dtype, 0))
        m = self._tiles(len(x), out.shape[3], x.dtype, 1)
        np.matmul(v, self.u_t.transpose(0, 2, 1), out=m)
        winograd.output_tiles(m, self.grid, out)

    def backward(self, x, grad, grad_x, need_weight):
        """Write dx into ``grad_x`` (unless None) and return this chunk's share of dU^T (16, C_out, C_in)."""
        m = winograd.output_tiles_adjoint(grad, self.grid, self._tiles(len(x), grad.shape[3], grad.dtype, 1))
        v = self._tiles(len(x), x.shape[3], x.dtype, 0)
        grad_u_t = None
        if need_weight:
            grad_u_t = np.matmul(m.transpose(0, 2, 1), winograd.input_tiles(x, self.padding, self.grid, v))
        if grad_x is not None:
            np.matmul(m, self.u_t, out=v)
            winograd.input_tiles_adjoint(v, self.padding, self.grid, grad_x)
        return grad_u_t

    def weight_gradient(self, grad_u_t, weight_shape):
        """dU^T (16, C_out, C_in) back to the kernels' gradient (C_out, C_in, 3, 3)."""
        return winograd.weight_gradient(grad_u_t)


class _KernelRows:
    """Few input channels, vertical stride 1: the patches of one kernel row, taken from the input padded
    vertically (x_p, with R = OH + (KH - 1) * dh rows), Q[n, r, ow] = the KW taps of row r of x_p for output
    column ow; then with W_i the weights of kernel row i as (KW * C, C_out), for each image

        Y[oh] = sum_i Q[oh + i * dh] W_i,    dW_i = sum over (n, oh) of Q[oh + i * dh]^T dY[oh],
        dQ[oh + i * dh] += dY[oh] W_i^T,     dx = the unpadded rows of col2im(dQ)

    where Q[a:a + OH] of one image is a contiguous (OH * OW, KW * C) matrix, so each sum is KH products."""

    def __init__(self, weight, geometry, input_shape):
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
        return im2col(padded, self.row_geometry, q).reshape(n, self.padded_rows, -1, self.weights.shape[1])

    def _window(self, q, i, out_h):
        """Q[:, a:a + OH] for kernel row i, as (N', OH * OW, KW * C) (a view)."""
        a = self.row_offsets[i]
        return q[:, a:a + out_h].reshape(len(q), -1, q.shape[3])

    def forward(self, x, out):
        q, out_h = self._rows(x, 0), out.shape[1]
        y = out.reshape(len(out), -1, out.shape[3])
        product = workers.scratch(y.shape, y.dtype, 2)
        np.matmul(self._window(q, 0, out_h), self.weights[0], out=y)
        for i in range(1, len(self.weights)):
            y += np.matmul(self._window(q, i, out_h), self.weights[i], out=product)

    def backward(self, x, grad, grad_x, need_weight):
        """Write dx into ``grad_x`` (unless None); return this chunk's part of dW as (KH, KW * C, C_out)."""
        out_h = grad.shape[1]
        g = grad.reshape(len(grad), -1, grad.shape[3])
        grad_w = None
        if need_weight:
            q = self._rows(x, 0)
            grad_w = np.stack([(self._window(q, i, out_h).transpose(0, 2, 1) @ g).sum(axis=0)
                               for i in range(len(self.weights))])
        if grad_x is not None:
            n, height, width, channels = x.shape
            grad_q = workers.scratch((n, self.padded_rows, self.row_geometry.output[1], self.weights.shape[1]),
                                     g.dtype, 1)
            grad_q[...] = 0
            product = workers.scratch((n, g.shape[1], self.weights.shape[1]), g.dtype, 2)
            for i in range(len(self.weights)):
                self._window(grad_q, i, out_h)[...] += np.matmul(g, self.weights[i].T, out=product)
            grad_padded = workers.scratch((n, self.padded_rows, width, channels), g.dtype, 0)
            col2im(grad_q.reshape(-1, grad_q.shape[3]), self.row_geometry, grad_padded.shape, out=grad_padded)
            grad_x[...] = grad_padded[:, self.top:self.top + height]
        return grad_w

    def weight_gradient(self, grad_w, weight_shape):
        """(KH, KW * C, C_out) back to (C_out, C, KH, KW)."""
        out_channels, channels, kh, kw = weight_shape
        return np.ascontiguousarray(grad_w.reshape(kh, kw, channels, out_channels).transpose(3, 2, 0, 1))


def _method(xp, weight, geometry, input_shape):
    """On the CPU: Winograd where it applies and pays, kernel rows for few input channels; im2col everywhere else."""
    channels = input_shape[3]
    if xp is not np or geometry.groups != 1:
        return _Im2col(weight, geometry, input_shape)
    if (geometry.kernel == (3, 3) and geometry.stride == (1, 1) and geometry.dilation == (1, 1) and
            channels >= WINOGRAD_MIN_CHANNELS):
        return _Winograd(weight, geometry, input_shape)
    if geometry.kernel[0] > 1 and geometry.stride[0] == 1 and channels <= KERNEL_ROWS_MAX_CHANNELS:
        return _KernelRows(weight, geometry, input_shape)
    return _Im2col(weight, geometry, input_shape)


def _chunks(xp, images, method, itemsize):
    """(start, stop) image ranges: one for CuPy; else about CHUNK_BYTES of scratch each, but at least
    ``method.min_rows`` rows, a multiple of the thread count of them, evenly split."""
    if xp is not np:
        return [(0, images)]
    threads = workers.num_threads()
    rows = max(CHUNK_BYTES // (method.row_items * itemsize), method.min_rows)
    per_chunk = max(1, rows // method.rows_per_image)
    count = min(images, threads * -(-images // (threads * per_chunk)))
    return [(images * i // count, images * (i + 1) // count) for i in range(count)]


def _add_results(total, more):
    """Add a tuple of arrays (or None) into another, in place; None means nothing yet."""
    if total is None:
        return list(more)
    for i, m in enumerate(more):
        if m is not None:
            total[i] += m
    return total


class Conv2d(Function):
    def forward(self, x, weight, bias=None, geometry=None):
        xp = backend.get_array_module(x)
        self.x = x = channels_last(x)
        self.method = method = _method(xp, weight, geometry, x.shape)
        self.weight_shape = weight.shape
        self.chunks = _chunks(xp, len(x), method, x.itemsize)
        out = xp.empty((len(x),) + geometry.output + (weight.shape[0],), x.dtype)

        def chunk(index):
            start, stop = self.chunks[index]
            method.forward(x[start:stop], out[start:stop])
            if bias is not None:
                out[start:stop] += bias

        workers.run_chunks(len(self.chunks), chunk)
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        x, method = self.x, self.method
        need_x, need_weight = self.needs_grad[:2]
        need_bias = len(self.needs_grad) > 2 and self.needs_grad[2]
        grad = channels_last(grad)
        grad_x = xp.empty_like(x) if need_x else None

        def chunk(index):
            start, stop = self.chunks[index]
            g = grad[start:stop]
            grad_w = method.backward(x[start:stop], g, grad_x[start:stop] if need_x else None, need_weight)
            return grad_w, g.reshape(-1, g.shape[3]).sum(axis=0) if need_bias else None

        total = None
        for result in workers.run_chunks(len(self.chunks), chunk):  # summed in chunk order: deterministic
            total = _add_results(total, result)
        grad_w, grad_b = total
        grad_w = method.weight_gradient(grad_w, self.weight_shape) if need_weight else None
        return grad_x.transpose(0, 3, 1, 2) if need_x else None, grad_w, grad_b


# ----------------------------------------------------------------------------- arguments
def _pair(value, what, minimum):
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) for v in pair):
        raise TypeError(f"conv2d: {what} must be an int or a pair of ints, got {value!r}")
    if min(pair) < minimum:
        raise ValueError(f"conv2d: {what} must be at least {minimum}, got {value!r}")
    return pair


def padding_amounts(padding, kernel, stride, dilation):
    """((top, bottom), (left, right)) for an int, a pair, 'valid' or 'same' (PyTorch puts the odd one
    of 'same' at the bottom and right)."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0), (0, 0)
        if padding != "same":
            raise ValueError(f"conv2d: padding must be an int, a pair, 'valid' or 'same', got {padding!r}")
        if stride != (1, 1):
            raise ValueError(f"conv2d: padding='same' is not supported for strided convolutions (stride {stride})")
        totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
        return tuple((t // 2, t - t // 2) for t in totals)
    return tuple((p, p) for p in _pair(padding, "padding", 0))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlate (N, C, H, W) (or unbatched (C, H, W)) input with weight (C_out, C/groups, KH, KW), as
    torch.nn.functional.conv2d; zero padding (other padding modes: pad first with ``pad``)."""
    if input.ndim not in (3, 4):
        raise ValueError(f"conv2d: expected input of shape (N, C, H, W) or (C, H, W), got {input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"conv2d: expected weight of shape (C_out, C_in/groups, KH, KW), got {weight.shape}")
    if input.dtype.kind != "f" or weight.dtype != input.dtype or (bias is not None and bias.dtype != input.dtype):
        raise TypeError(f"conv2d: input, weight and bias must share one floating dtype, got {input.dtype}, "
                        f"{weight.dtype}" + ("" if bias is None else f" and {bias.dtype}"))
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    out_channels, per_group, kh, kw = weight.shape
    if not isinstance(groups, int) or groups < 1 or out_channels % groups:
        raise ValueError(f"conv2d: groups must be a positive int that divides the {out_channels} output channels, "
                         f"got {groups!r}")
    if x.shape[1] != per_group * groups:
        raise ValueError(f"conv2d: weight of shape {weight.shape} with groups={groups} expects input with "
                         f"{per_group * groups} channels, got input of shape {input.shape}")
    if bias is not None and tuple(bias.shape) != (out_channels,):
        raise ValueError(f"conv2d: bias of shape {bias.shape} does not fit {out_channels} output channels")
    stride, dilation = _pair(stride, "stride", 1), _pair(dilation, "dilation", 1)
    kernel = (kh, kw)
    pads = padding_amounts(padding, kernel, stride, dilation)
    out_hw = tuple(output_size(n, k, s, before, after, d)
                   for n, k, s, (before, after), d in zip(x.shape[2:], kernel, stride, pads, dilation))
    if min(out_hw) < 1:
        padded = tuple(n + sum(p) for n, p in zip(x.shape[2:], pads))
        raise ValueError(f"conv2d: padded input of spatial size {padded} is smaller than the dilated kernel "
                         f"({kh}x{kw}, dilation {dilation}); input shape {input.shape}")
    geometry = ConvGeometry(kernel, stride, (pads[0][0], pads[1][0]), dilation, groups, out_hw)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    out = Conv2d.apply(*inputs, geometry=geometry)
    return out.squeeze(0) if unbatched else out
