"""2-D convolution with PyTorch's semantics: cross-correlation with stride, padding, dilation, groups and bias.

With x in channels-last memory (N, H, W, C) and P its patch matrix (``kernels.im2col``: one row per
output pixel, one column per kernel tap and input channel), the convolution is one matrix product
per channel group g:

    Y_g = P_g W_g + b_g,      W_g = the group's weights as (KH * KW * C/groups, C_out/groups) in P's column order

and Y, of shape (N * OH * OW, C_out), already is the output in channels-last memory. Backward:

    dW_g = P_g^T dY_g,    db = column sums of dY,    dP_g = dY_g W_g^T,    dx = col2im(dP)

On the CPU the batch is cut into chunks of images whose patch matrix fits in cache, and each chunk's
whole pipeline runs on one thread (``kernels.workers``); backward rebuilds the patches instead of
keeping them. The output is an (N, C_out, OH, OW) view of channels-last memory: elementwise ops,
BatchNorm and pooling keep that layout, so the next convolution reads its patches contiguously.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from ..kernels import workers
from ..kernels.im2col import ConvGeometry, col2im, im2col, output_size, patch_columns

CHUNK_BYTES = 2 << 20  # patch-matrix bytes per chunk: about what a core's cache holds


def channels_last(a):
    """(N, C, H, W) as contiguous (N, H, W, C): a view when the memory already is channels last."""
    return backend.get_array_module(a).ascontiguousarray(a.transpose(0, 2, 3, 1))


def _chunks(xp, images, rows_per_image, columns, itemsize):
    """(start, stop) image ranges: one for CuPy; else about CHUNK_BYTES of patches each, but at least as many
    rows as columns (so that a chunk's dW = P^T dY costs more than writing dW out), a multiple of the
    thread count of them, evenly split."""
    if xp is not np:
        return [(0, images)]
    threads = workers.num_threads()
    rows = max(CHUNK_BYTES // (columns * itemsize), columns)
    per_chunk = max(1, rows // rows_per_image)
    count = min(images, threads * -(-images // (threads * per_chunk)))
    return [(images * i // count, images * (i + 1) // count) for i in range(count)]


def _matmul_into(a, b, out):
    """out = a @ b, with ``out`` possibly a column slice of a larger matrix."""
    if backend.is_cupy_array(out):
        out[...] = a @ b
    else:
        backend.get_array_module(out).matmul(a, b, out=out)


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
        groups = geometry.groups
        self.x = x = channels_last(x)
        out_channels = weight.shape[0]
        # W_g: weight (C_out, C/groups, KH, KW) -> (groups, KH * KW * C/groups, C_out/groups)
        self.weights = xp.ascontiguousarray(
            weight.reshape((groups, out_channels // groups) + weight.shape[1:]).transpose(0, 3, 4, 2, 1)
        ).reshape(groups, -1, out_channels // groups)
        self.weight_shape, self.geometry = weight.shape, geometry
        out_h, out_w = geometry.output
        out = xp.empty((x.shape[0], out_h, out_w, out_channels), x.dtype)
        rows = out.reshape(-1, out_channels)
        pixels = out_h * out_w

        def chunk(index):
            start, stop = self.chunks[index]
            patches = self._patches(x[start:stop])
            self._per_group(patches, self.weights, rows[start * pixels:stop * pixels])
            if bias is not None:
                rows[start * pixels:stop * pixels] += bias
            return ()

        self.chunks = _chunks(xp, x.shape[0], pixels, patch_columns(x.shape[3], geometry), x.itemsize)
        workers.run_chunks(len(self.chunks), chunk)
        return out.transpose(0, 3, 1, 2)

    def _pointwise(self):
        """A 1x1 convolution with stride 1 and no padding: the patch matrix is the input itself."""
        g = self.geometry
        return g.kernel == (1, 1) and g.stride == (1, 1) and g.padding == (0, 0) and g.output == self.x.shape[1:3]

    def _patches(self, x):
        """The patch matrix of the images x (N', H, W, C), in the thread's scratch space on the CPU."""
        if self._pointwise():
            return x.reshape(-1, x.shape[3])
        n, (out_h, out_w) = x.shape[0], self.geometry.output
        shape = (n * out_h * out_w, patch_columns(x.shape[3], self.geometry))
        out = None if backend.is_cupy_array(x) else workers.scratch(shape, x.dtype)
        return im2col(x, self.geometry, out)

    def _per_group(self, a, b, out, transpose_b=False):
        """out[:, group g] = a[:, group g] @ b[g] (or b[g]^T) for each group's block of columns."""
        groups = self.geometry.groups
        width_a, width_out = a.shape[1] // groups, out.shape[1] // groups
        for g in range(groups):
            b_g = b[g].T if transpose_b else b[g]
            _matmul_into(a[:, g * width_a:(g + 1) * width_a], b_g, out[:, g * width_out:(g + 1) * width_out])

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        x, weights, geometry = self.x, self.weights, self.geometry
        need_x, need_weight = self.needs_grad[:2]
        need_bias = len(self.needs_grad) > 2 and self.needs_grad[2]
        groups, (_, k, out_per_group) = geometry.groups, weights.shape
        grad_rows = channels_last(grad).reshape(-1, groups * out_per_group)
        grad_x = xp.empty_like(x) if need_x else None
        pixels = geometry.output[0] * geometry.output[1]

        def chunk(index):
            start, stop = self.chunks[index]
            g = grad_rows[start * pixels:stop * pixels]
            grad_w = grad_b = None
            if need_weight:
                patches = self._patches(x[start:stop])
                grad_w = xp.stack([patches[:, i * k:(i + 1) * k].T @ g[:, i * out_per_group:(i + 1) * out_per_group]
                                   for i in range(groups)])
            if need_bias:
                grad_b = g.sum(axis=0)
            if need_x:
                if self._pointwise():
                    self._per_group(g, weights, grad_x[start:stop].reshape(len(g), -1), transpose_b=True)
                else:
                    shape = (len(g), k * groups)
                    grad_patches = workers.scratch(shape, g.dtype) if xp is np else xp.empty(shape, g.dtype)
                    self._per_group(g, weights, grad_patches, transpose_b=True)
                    col2im(grad_patches, geometry, grad_x[start:stop].shape, out=grad_x[start:stop])
            return grad_w, grad_b

        total = None
        for thread_sum in workers.run_chunks(len(self.chunks), chunk, reduce=_add_results):
            total = _add_results(total, thread_sum)
        grad_w, grad_b = total
        if grad_w is not None:
            # (groups, KH * KW * C/groups, C_out/groups) back to (C_out, C/groups, KH, KW)
            out_channels, per_group, kh, kw = self.weight_shape
            grad_w = xp.ascontiguousarray(
                grad_w.reshape(groups, kh, kw, per_group, out_per_group).transpose(0, 4, 3, 1, 2)
            ).reshape(self.weight_shape)
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
    out_hw = tuple(output_size(n, k, s, p[0], p[1], d) for n, k, s, p, d in zip(x.shape[2:], kernel, stride, pads, dilation))
    if min(out_hw) < 1:
        padded = tuple(n + sum(p) for n, p in zip(x.shape[2:], pads))
        raise ValueError(f"conv2d: padded input of spatial size {padded} is smaller than the dilated kernel "
                         f"({kh}x{kw}, dilation {dilation}); input shape {input.shape}")
    geometry = ConvGeometry(kernel, stride, (pads[0][0], pads[1][0]), dilation, groups, out_hw)
    inputs = (x, weight) if bias is None else (x, weight, bias)
    out = Conv2d.apply(*inputs, geometry=geometry)
    return out.squeeze(0) if unbatched else out
