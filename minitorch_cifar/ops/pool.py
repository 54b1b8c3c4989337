"""2-D pooling with PyTorch's semantics: max_pool2d, avg_pool2d and their adaptive forms.

Each function turns its arguments into window tables (``kernels.pooling``) and runs one of two ops:
``MaxPool`` (the gradient goes to the element each window's maximum came from) or ``AvgPool``
(each output's gradient is shared evenly over its window). Inputs are (N, C, H, W) or unbatched
(C, H, W).
"""
from ..autograd import Function
from ..kernels import pooling
from ..tensor import Tensor
from .arguments import pair


class MaxPool(Function):
    def forward(self, x, windows, indices_out=None):
        self.input_shape, self.windows, self.channels_last = x.shape, windows, pooling.is_channels_last(x)
        out, self.indices = pooling.max_pool_forward(x, windows)
        if indices_out is not None:
            indices_out.append(self.indices)
        return out

    def backward(self, grad):
        return pooling.max_pool_backward(grad, self.indices, self.windows, self.input_shape, self.channels_last)


class AvgPool(Function):
    def forward(self, x, windows, divisor):
        self.input_shape, self.windows, self.divisor = x.shape, windows, divisor
        self.channels_last = pooling.is_channels_last(x)
        return pooling.avg_pool_forward(x, windows, divisor)

    def backward(self, grad):
        return pooling.avg_pool_backward(grad, self.windows, self.divisor, self.input_shape, self.channels_last)


def _batched(input, name):
    """The input as (N, C, H, W), and whether it came without the batch axis."""
    if input.ndim not in (3, 4) or min(input.shape[-2:], default=0) == 0:
        raise ValueError(f"{name}: expected input of shape (N, C, H, W) or (C, H, W) with non-zero H and W, "
                         f"got {input.shape}")
    if input.dtype.kind != "f":
        raise TypeError(f"{name}: expected a floating-point input, got dtype {input.dtype}")
    return (input.unsqueeze(0), True) if input.ndim == 3 else (input, False)


def _unbatched(result, unbatched):
    return result.squeeze(0) if unbatched else result


def _sliding(input, kernel_size, stride, padding, dilation, ceil_mode, name):
    """Window tables for a sliding pool, with PyTorch's checks on its arguments."""
    kernel = pair(kernel_size, "kernel_size", name, 1)
    stride = kernel if stride is None or stride == () or stride == [] else pair(stride, "stride", name, 1)
    padding = pair(padding, "padding", name, 0)
    dilation = pair(dilation, "dilation", name, 1)
    if any(p > k // 2 for p, k in zip(padding, kernel)):
        raise ValueError(f"{name}: padding {padding} must be at most half the kernel size {kernel}")
    hw = input.shape[-2:]
    out = tuple(pooling.pooled_size(*args, ceil_mode) for args in zip(hw, kernel, stride, padding, dilation))
    if min(out) < 1:
        raise ValueError(f"{name}: input of spatial size {tuple(hw)} gives output size {out}, which is too small "
                         f"(kernel {kernel}, stride {stride}, padding {padding}, dilation {dilation})")
    return pooling.sliding_windows(hw, kernel, stride, padding, dilation, ceil_mode)


def _max_pool(x, windows, return_indices, unbatched):
    indices = [] if return_indices else None
    out = _unbatched(MaxPool.apply(x, windows=windows, indices_out=indices), unbatched)
    if not return_indices:
        return out
    return out, _unbatched(Tensor._wrap(indices[0].astype("int64", copy=False)), unbatched)  # PyTorch's dtype


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Maximum over sliding windows; with ``return_indices`` also each maximum's flat position h*W + w."""
    x, unbatched = _batched(input, "max_pool2d")
    windows, _ = _sliding(x, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d")
    return _max_pool(x, windows, return_indices, unbatched)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over sliding windows: divided by the window's area counting padding (``count_include_pad``),
    by the input elements it covers, or by ``divisor_override``."""
    x, unbatched = _batched(input, "avg_pool2d")
    if divisor_override is not None and (not isinstance(divisor_override, int) or divisor_override == 0):
        raise ValueError(f"avg_pool2d: divisor_override must be a non-zero int, got {divisor_override!r}")
    windows, padded = _sliding(x, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d")
    divisor = pooling.window_divisor(windows, padded if count_include_pad else None, divisor_override)
    return _unbatched(AvgPool.apply(x, windows=windows, divisor=divisor), unbatched)


def _adaptive(input, output_size, name):
    size = (output_size, output_size) if isinstance(output_size, int) or output_size is None else tuple(output_size)
    if len(size) != 2:
        raise ValueError(f"{name}: output_size must be an int or a pair, got {output_size!r}")
    size = tuple(input.shape[-2 + i] if s is None else s for i, s in enumerate(size))
    if not all(isinstance(s, int) and s >= 1 for s in size):
        raise ValueError(f"{name}: output_size must hold positive ints (or None), got {output_size!r}")
    return pooling.adaptive_windows(input.shape[-2:], size)


def adaptive_avg_pool2d(input, output_size):
    """Mean over the bins that split H and W into ``output_size`` (bins may overlap by one element)."""
    x, unbatched = _batched(input, "adaptive_avg_pool2d")
    windows = _adaptive(x, output_size, "adaptive_avg_pool2d")
    return _unbatched(AvgPool.apply(x, windows=windows, divisor=pooling.window_divisor(windows)), unbatched)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Maximum over the bins that split H and W into ``output_size``."""
    x, unbatched = _batched(input, "adaptive_max_pool2d")
    return _max_pool(x, _adaptive(x, output_size, "adaptive_max_pool2d"), return_indices, unbatched)
