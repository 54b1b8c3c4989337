"""2-D convolution with PyTorch's semantics: cross-correlation with stride, padding, dilation, groups and bias.

Read ``reference_conv2d`` and ``reference_conv2d_backward`` first: the whole convolution in plain array
code. With x in channels-last memory (N, H, W, C) and P its patch matrix (``kernels.im2col``: one row
per output pixel, one column per kernel tap and input channel), the convolution is one matrix product
per channel group g:

    Y_g = P_g W_g (+ b_g),    W_g = the group's kernels as (KH * KW * C/groups, C_out/groups) in P's column order

and Y, of shape (N * OH * OW, C_out), already is the output in channels-last memory. Y_g depends on
P_g and W_g through one product, so the chain rule gives the backward as two more products and the
adjoint of im2col, which adds each patch entry back where it was copied from:

    dW_g = P_g^T dY_g,    db = the column sums of dY,    dP_g = dY_g W_g^T,    dx = col2im(dP)

That is what runs with the reference kernels (``kernels.switch``). The fast kernels (the default)
compute the same with the method ``choose_method`` picks for the layer (``kernels.conv_methods``):
Winograd F(4x4, 3x3), F(2x2, 3x3), F(4x4, 5x5) or F(2x2, 5x5), direct, kernel rows or im2col, in chunks of
the batch on threads. On a GPU both multiply through ``backend.cuda_matmul``, so ``backends.cuda.matmul.allow_tf32``
governs them. Either way the output is an (N, C_out, OH, OW) view of channels-last memory: elementwise ops,
BatchNorm and pooling keep that layout, so the next convolution reads its patches contiguously.
"""
from .. import backend
from ..autograd import Function
from ..kernels import switch
from ..kernels.im2col import ConvGeometry, col2im, im2col, kernels_of, output_size, weight_matrices
from .arguments import pair

WINOGRAD_MIN_CHANNELS = 16  # below, the 16 matrix products are too thin to pay for the transforms
WINOGRAD4_MIN_OUTPUT = 4  # from 4x4 outputs on, F(4x4, 3x3) instead of F(2x2, 3x3)
WINOGRAD45_MAX_CHANNELS = 64  # up to this many input channels, F(4x4, 5x5) instead of F(2x2, 5x5)
KERNEL_ROWS_MIN_CHANNELS = 4  # from this many input channels (RGB has 3) ...
KERNEL_ROWS_MAX_CHANNELS = 16  # ... up to this many, kernel rows beat one patch matrix
DIRECT_MAX_OUT_CHANNELS = 16  # up to this many output (and input) channels, the direct convolution beats both


def channels_last(a):
    """(N, C, H, W) as contiguous (N, H, W, C): a view when the memory already is channels last."""
    return backend.get_array_module(a).ascontiguousarray(a.transpose(0, 2, 3, 1))


# ----------------------------------------------------------------------------- the convolution to read first
def reference_conv2d(x, weight, bias, geometry):
    """The convolution, read this first: Y_g = P_g W_g + b of channels-last x (N, H, W, C) and the kernels
    (C_out, C/groups, KH, KW), as channels-last (N, OH, OW, C_out). What the reference kernels run."""
    xp, groups = backend.get_array_module(x), geometry.groups
    patches = im2col(x, geometry)  # P: (N * OH * OW, KH * KW * C), one row per output pixel
    weights = weight_matrices(weight, groups)  # W_g: (groups, KH * KW * C/groups, C_out/groups)
    y = xp.concatenate([backend.matmul(p, w) for p, w in zip(xp.split(patches, groups, axis=1), weights)],
                       axis=1)  # Y_g = P_g W_g
    if bias is not None:
        y += bias
    return y.reshape((len(x),) + geometry.output + (len(weight),))


def reference_conv2d_backward(x, weight, grad_y, geometry, needs=(True, True, True)):
    """(dx, dW, db) of reference_conv2d, given dY (N, OH, OW, C_out); None for each that ``needs`` does not ask for:
    dW_g = P_g^T dY_g, db = the column sums of dY, dP_g = dY_g W_g^T and dx = col2im(dP)."""
    xp, groups = backend.get_array_module(x), geometry.groups
    need_x, need_weight, need_bias = needs
    dy = grad_y.reshape(-1, grad_y.shape[3])  # dY: (N * OH * OW, C_out)
    dy_groups = xp.split(dy, groups, axis=1)  # dY_g
    grad_x = grad_weight = grad_bias = None
    if need_weight:
        patches = im2col(x, geometry)  # P again: keeping it from forward would take KH * KW times x's memory
        grad_weights = xp.stack([backend.matmul(p.T, d)
                                 for p, d in zip(xp.split(patches, groups, axis=1), dy_groups)])  # dW_g = P_g^T dY_g
        grad_weight = kernels_of(grad_weights, weight.shape)
    if need_bias:
        grad_bias = dy.sum(axis=0)  # db: every output pixel added b
    if need_x:  # dx: each entry of dP back where im2col copied it from
        grad_x = col2im(patch_gradient(dy, weight, groups), geometry, x.shape)
    return grad_x, grad_weight, grad_bias


def patch_gradient(dy, weight, groups):
    """dP_g = dY_g W_g^T of every group side by side: the gradient (N * OH * OW, KH * KW * C) of the patch matrix, for
    dY (N * OH * OW, C_out) and the kernels (C_out, C/groups, KH, KW)."""
    xp = backend.get_array_module(dy)
    return xp.concatenate([backend.matmul(d, w.T) for d, w in zip(xp.split(dy, groups, axis=1),
                                                                   weight_matrices(weight, groups))], axis=1)


# ----------------------------------------------------------------------------- the fast kernels' choice
def choose_method(x, weight, geometry):
    """The fast method (``kernels.conv_methods``) for this convolution of channels-last x, and why it takes it."""
    from ..kernels import conv_methods  # numba and threads: imported only when the fast kernels run
    channels, on_cpu = x.shape[3], not backend.is_cupy_array(x)
    if on_cpu and geometry.groups == 1:
        # Winograd F(2x2, 3x3) computes each 2x2 block of outputs from a 4x4 input tile with 16 multiplications
        # per channel pair where P W spends 36: 2.25x fewer. Its tile transforms cost work per channel that the
        # 16 products must outweigh, which they do from WINOGRAD_MIN_CHANNELS input channels on (cnn3's 3x3 layers).
        if (geometry.kernel == (3, 3) and geometry.stride == (1, 1) and geometry.dilation == (1, 1) and
                channels >= WINOGRAD_MIN_CHANNELS):
            # F(4x4, 3x3) computes 4x4 blocks from 6x6 tiles with 36 multiplications where P W spends 144: 4x fewer,
            # for a float32 error several times F(2x2, 3x3)'s: at most 5e-6 of the largest output or gradient on
            # the models' layers (``bench_conv_methods.py --accuracy``), of the order of PyTorch's own float32 error
            # in dW. Tiles that stick out past the output cost as much as whole ones: on 2x2 outputs it needs 36
            # multiplications to F(2x2, 3x3)'s 16, on 4x4 36 to 64, on more always fewer. Timed at batch 128 on the
            # 3x3 layers of cnn2, cnn3, alexnet, resnet10 and resnet9, 32 to 512 channels
            # (benchmarks/bench_conv_methods.py), the faster method followed that count, 1 and 2 threads: on 4x4
            # outputs (the ResNets' last stages) 15.8 and 31.6 ms to 21.8 and 42.6 at 256 channels, 79 and 118 to 110
            # and 170 at 512, with an error there of 2-4e-6, as on the larger outputs.
            if min(geometry.output) >= WINOGRAD4_MIN_OUTPUT:
                return conv_methods.Winograd4(weight, geometry, x.shape)
            return conv_methods.Winograd(weight, geometry, x.shape)
        # Few output channels (LeNet's 6 and 16, AlexNet's first 16): every product of P (or of the kernel rows'
        # patches) has as few columns, and BLAS runs such thin products at a fraction of its speed, after building
        # P. The direct convolution (stride 1) runs the sums as written instead, vectorised across a chunk's
        # images, and builds nothing bigger than the input. Forward + backward at batch 128, 2 and 1 threads
        # (benchmarks/bench_conv_methods.py), against the next best method: LeNet's 5x5 3->6 3.3 and 5.8 ms where
        # kernel rows took 9.6 and 17.6, its 6->16 1.6 and 2.6 where they took 2.6 and 4.3, AlexNet's 7x7 3->16
        # 17 and 29 to 24 and 45. With more channels it loses: 18 to kernel rows' 12 on cnn2's 3x3 3->32, 36 to
        # 28 on AlexNet's 5x5 16->64 (its sums do not reuse loads across many output channels as BLAS does).
        if (geometry.stride == (1, 1) and geometry.kernel != (1, 1) and
                weight.shape[0] <= DIRECT_MAX_OUT_CHANNELS and channels <= DIRECT_MAX_OUT_CHANNELS):
            return conv_methods.Direct(weight, geometry, x.shape)
        # 5x5 kernels: Winograd F(4x4, 5x5) computes 4x4 blocks of outputs from 8x8 tiles with 64 multiplications
        # per channel pair where the direct convolution spends 400, F(2x2, 5x5) 2x2 blocks from 6x6 tiles with 36
        # where it spends 100. Forward and both gradients at batch 128, 2 threads (bench_conv_methods.py): 12.5 ms to
        # 22 on the AlexNet-style net's 16 -> 64 at 16x16 (PyTorch 11.4), 9.1 to 15.9 on 64 -> 64 at 8x8, 81 to
        # 167 on 256 -> 256 at 8x8; kernel rows, the best before them, took 28 on the first. F(4x4, 5x5)'s float32
        # error grows with the input channels it sums: 3-8e-6 of the largest output or gradient up to 64 of them
        # (F(4x4, 3x3) 1-4e-6, PyTorch's up to 2.7e-6 in dW), 8e-6 to 1.2e-5 at 256 and 512, where F(2x2, 5x5)
        # stays at 1-3e-6 (``bench_conv_methods.py --accuracy``): above WINOGRAD45_MAX_CHANNELS, the 2x2 tiles run.
        if (geometry.kernel == (5, 5) and geometry.stride == (1, 1) and geometry.dilation == (1, 1) and
                channels >= WINOGRAD_MIN_CHANNELS):
            if channels <= WINOGRAD45_MAX_CHANNELS:
                return conv_methods.Winograd45(weight, geometry, x.shape)
            return conv_methods.Winograd25(weight, geometry, x.shape)
        # A few input channels (4 to 16): P has so few columns that building it costs more than multiplying it.
        # The patches of one kernel row are KH times smaller, and with vertical stride 1 every kernel row reads
        # them: forward and both gradients at batch 128, 2 and 1 threads (bench_conv_methods.py), 15.3 and 27.4 ms
        # to im2col's 16.7 and 31.2 on a 3x3 8->32 at 32x32, 7.1 and 12.9 to 7.3 and 14.6 on a 3x3 12->48 at 16x16.
        # On RGB input (3 channels) one patch matrix is the faster, built as P^T, whose rows copy as runs of a whole
        # output row (``Im2col._patches``): on a 2-core Zen 5 EPYC, 7.6 and 14.8 ms to kernel rows' 9.9 and 19.1 on
        # the CNNs' 3x3 3->32, 13.3 and 25.7 to 18.5 and 33.7 on the ResNets' 3->64 (PyTorch: 27.9 and 36.7, 53.4
        # and 88.0). From 4 channels on neither wins everywhere: im2col is 2-25% ahead on 3x3 at 4 and 8 channels,
        # even on 5x5 at 6 to 15, 20-25% behind on a 7x7 8->17; kernel rows keep them.
        if (geometry.kernel[0] > 1 and geometry.stride[0] == 1 and
                KERNEL_ROWS_MIN_CHANNELS <= channels <= KERNEL_ROWS_MAX_CHANNELS):
            return conv_methods.KernelRows(weight, geometry, x.shape)
    # Everything else, and every layer on the GPU (a CUDA kernel builds P, cuBLAS multiplies): im2col.
    return conv_methods.Im2col(weight, geometry, x.shape)


class Conv2d(Function):
    """The convolution op: ``reference_conv2d`` with the reference kernels, else the method ``choose_method`` picks.
    ``algorithm`` names the one that ran ("im2col", "Winograd F(4x4,3x3)", "Winograd F(2x2,3x3)", "Winograd
    F(4x4,5x5)", "Winograd F(2x2,5x5)", "direct" or "kernel rows")."""

    def forward(self, x, weight, bias=None, geometry=None):
        self.weight, self.geometry = weight, geometry
        if switch.reference():
            self.x, self.method, self.algorithm = channels_last(x), None, "im2col"
            out = reference_conv2d(self.x, weight, bias, geometry)
        else:
            self.method = choose_method(x.transpose(0, 2, 3, 1), weight, geometry)
            self.algorithm = self.method.algorithm
            # (N, H, W, C): a view where the method reads any memory layout (saves a copy of an NCHW input)
            self.x = x.transpose(0, 2, 3, 1) if self.method.reads_any_layout else channels_last(x)
            out = self.method.run_forward(self.x, bias, keep=self.needs_grad[1])  # [1]: the weight's
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad):
        grad_y = channels_last(grad)
        needs = tuple(self.needs_grad) + (False,) * (3 - len(self.needs_grad))  # no bias: no gradient for it
        if self.method is None:
            grad_x, grad_w, grad_b = reference_conv2d_backward(self.x, self.weight, grad_y, self.geometry, needs)
        else:
            grad_x, grad_w, grad_b = self.method.run_backward(self.x, grad_y, needs)
        return None if grad_x is None else grad_x.transpose(0, 3, 1, 2), grad_w, grad_b


# ----------------------------------------------------------------------------- arguments
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
    return tuple((p, p) for p in pair(padding, "padding", "conv2d", 0))


def check_tensors(input, weight, bias, where, weight_layout):
    """The checks conv2d and conv_transpose2d share: (N, C, H, W) or (C, H, W) input, a 4-d weight (its layout named
    in the error), one floating dtype."""
    if input.ndim not in (3, 4):
        raise ValueError(f"{where}: expected input of shape (N, C, H, W) or (C, H, W), got {input.shape}")
    if weight.ndim != 4:
        raise ValueError(f"{where}: expected weight of shape {weight_layout}, got {weight.shape}")
    if input.dtype.kind != "f" or weight.dtype != input.dtype or (bias is not None and bias.dtype != input.dtype):
        raise TypeError(f"{where}: input, weight and bias must share one floating dtype, got {input.dtype}, "
                        f"{weight.dtype}" + ("" if bias is None else f" and {bias.dtype}"))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Cross-correlate (N, C, H, W) (or unbatched (C, H, W)) input with weight (C_out, C/groups, KH, KW), as
    torch.nn.functional.conv2d; zero padding (other padding modes: pad first with ``pad``)."""
    check_tensors(input, weight, bias, "conv2d", "(C_out, C_in/groups, KH, KW)")
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
    stride, dilation = pair(stride, "stride", "conv2d", 1), pair(dilation, "dilation", "conv2d", 1)
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
