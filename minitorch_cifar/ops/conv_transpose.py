"""Transposed 2-D convolution with PyTorch's semantics: the input-gradient of a convolution, run as a layer.

Read ``ops.conv`` first. A convolution (``reference_conv2d``) with the kernels W of shape (C, C_out/groups, KH, KW)
maps z (N, OH, OW, C_out) to x (N, H, W, C) through the patch matrix P of z: X_g = P_g W_g. Its input-gradient
(``reference_conv2d_backward``) maps a gradient of x's shape back to z's shape:

    dP_g = dX_g W_g^T,    dz = col2im(dP)

The transposed convolution is that map applied to its input x: each input pixel spreads over the output, weighted by
the kernel. Its output size is the one that the convolution maps onto H (``output_padding`` adds the last rows and
columns that the convolution's floor division drops, which no input pixel reaches):

    OH = (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1

Being linear, its gradients are its adjoints, and the convolution's own code computes them:

    dx = conv2d(dY, W)                       the convolution's forward: im2col(dY) and one product per group
    dW_g = P_g^T X_g,   P = im2col(dY)       the convolution's weight gradient, dY in the place of its input
    db = the sums of dY over N, OH and OW

So forward runs ``patch_gradient`` and col2im (the fast one, or ``kernels.im2col``'s with the reference kernels), and
backward the convolution's reference code or the fast method ``choose_method`` picks for it: no kernel of its own.
PyTorch lays the weight out as (C_in, C_out/groups, KH, KW), which is W as above.
"""
from ..autograd import Function
from ..kernels import switch
from ..kernels.im2col import ConvGeometry, col2im
from .arguments import pair
from .conv import channels_last, check_tensors, choose_method, patch_gradient, reference_conv2d, \
    reference_conv2d_backward


class ConvTranspose2d(Function):
    """The transposed convolution of channels-first x (N, C, H, W): ``geometry`` describes the convolution from the
    output (N, C_out, OH, OW) back to x, whose input-gradient this is."""

    def forward(self, x, weight, bias=None, geometry=None, output_hw=None):
        self.weight, self.geometry = weight, geometry
        x = channels_last(x)  # the convolution's dX (N, H, W, C)
        self.x = x if self.needs_grad[1] else None  # dW needs it
        out_shape = (len(x),) + output_hw + (weight.shape[1] * geometry.groups,)
        grad_patches = patch_gradient(x.reshape(-1, x.shape[3]), weight, geometry.groups)  # dP_g = X_g W_g^T
        if switch.reference():
            out = col2im(grad_patches, geometry, out_shape).copy()  # col2im's result is a view into padded memory
        else:
            from ..kernels import im2col_fast  # numba: imported only when the fast kernels run
            out = im2col_fast.col2im(grad_patches, geometry, out_shape)
        if bias is not None:
            out += bias
        return out.transpose(0, 3, 1, 2)

    def backward(self, grad):
        grad_y = channels_last(grad)  # the convolution's input z (N, OH, OW, C_out)
        need_x, need_weight = self.needs_grad[:2]
        need_bias = len(self.needs_grad) == 3 and self.needs_grad[2]
        grad_x = grad_weight = None
        only_weight = (False, True, False)
        if need_x and not switch.reference():
            method = choose_method(grad_y, self.weight, self.geometry)
            # the convolution of dY is dx; run_forward also cuts the batch into the chunks run_backward takes
            grad_x = method.run_forward(grad_y, None, keep=need_weight)
            if need_weight:
                grad_weight = method.run_backward(grad_y, self.x, only_weight)[1]
        else:  # the reference code, and dW alone (a generator's first layer) without the fast methods' forward
            if need_x:  # dx = conv2d(dY, W)
                grad_x = reference_conv2d(grad_y, self.weight, None, self.geometry)
            if need_weight:  # dW_g = P_g^T X_g: the convolution's dW, with X as its output's gradient
                grad_weight = reference_conv2d_backward(grad_y, self.weight, self.x, self.geometry, only_weight)[1]
        grad_bias = grad_y.sum(axis=(0, 1, 2)) if need_bias else None
        return grad_x.transpose(0, 3, 1, 2) if need_x else None, grad_weight, grad_bias


def transposed_output_size(size, kernel, stride, padding, output_padding, dilation):
    """PyTorch's output length along one axis: (size - 1) * stride - 2 * padding + dilation * (kernel - 1) +
    output_padding + 1."""
    return (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """The transposed convolution ("deconvolution") of (N, C_in, H, W) (or unbatched (C_in, H, W)) input with weight
    (C_in, C_out/groups, KH, KW), as torch.nn.functional.conv_transpose2d: the gradient of conv2d with respect to its
    input, an upsampling layer for stride > 1."""
    check_tensors(input, weight, bias, "conv_transpose2d", "(C_in, C_out/groups, KH, KW)")
    unbatched = input.ndim == 3
    x = input.unsqueeze(0) if unbatched else input
    in_channels, per_group, kh, kw = weight.shape
    if not isinstance(groups, int) or groups < 1 or in_channels % groups:
        raise ValueError(f"conv_transpose2d: groups must be a positive int that divides the {in_channels} input "
                         f"channels of weight {weight.shape}, got {groups!r}")
    if x.shape[1] != in_channels:
        raise ValueError(f"conv_transpose2d: weight of shape {weight.shape} expects input with {in_channels} "
                         f"channels, got input of shape {input.shape}")
    if bias is not None and tuple(bias.shape) != (per_group * groups,):
        raise ValueError(f"conv_transpose2d: bias of shape {bias.shape} does not fit {per_group * groups} output "
                         f"channels")
    stride, dilation = pair(stride, "stride", "conv_transpose2d", 1), pair(dilation, "dilation", "conv_transpose2d", 1)
    padding = pair(padding, "padding", "conv_transpose2d", 0)
    output_padding = pair(output_padding, "output_padding", "conv_transpose2d", 0)
    if any(p >= s and p >= d for p, s, d in zip(output_padding, stride, dilation)):
        raise ValueError(f"conv_transpose2d: output_padding {output_padding} must be smaller than either stride "
                         f"{stride} or dilation {dilation}")
    kernel = (kh, kw)
    out_hw = tuple(transposed_output_size(*args)
                   for args in zip(x.shape[2:], kernel, stride, padding, output_padding, dilation))
    if min(out_hw) < 1:
        raise ValueError(f"conv_transpose2d: input of shape {input.shape} with kernel {kernel}, stride {stride}, "
                         f"padding {padding}, dilation {dilation} gives output size {out_hw}, which is too small")
    geometry = ConvGeometry(kernel, stride, padding, dilation, groups, tuple(x.shape[2:]))
    inputs = (x, weight) if bias is None else (x, weight, bias)
    out = ConvTranspose2d.apply(*inputs, geometry=geometry, output_hw=out_hw)
    return out.squeeze(0) if unbatched else out
