"""Conv2d and ConvTranspose2d with PyTorch's arguments, initialisation, repr and state_dict names (weight, bias)."""
from .. import factories
from ..ops.arguments import pair
from ..ops.conv import padding_amounts
from ..ops.conv_transpose import transposed_output_size
from . import functional as F
from . import init
from .module import Module, Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class _ConvNd(Module):
    """What Conv2d and ConvTranspose2d share, as PyTorch's _ConvNd: the arguments and their checks, the weight
    ((C_out, C_in/groups, KH, KW), transposed: (C_in, C_out/groups, KH, KW)), the bias, the initialisation, the repr."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation, transposed, output_padding,
                 groups, bias, padding_mode, device, dtype):
        super().__init__()
        name = type(self).__name__
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"{name}: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", name, 1)
        self.stride, self.dilation = pair(stride, "stride", name, 1), pair(dilation, "dilation", name, 1)
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", name, 0)
        self.groups, self.padding_mode = groups, padding_mode
        self.transposed, self.output_padding = transposed, pair(output_padding, "output_padding", name, 0)
        channels = (in_channels, out_channels // groups) if transposed else (out_channels, in_channels // groups)
        self.weight = Parameter(factories.empty(*channels, *self.kernel_size, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(factories.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_init_(self.weight, self.bias)  # fan_in from the weight's shape, transposed or not, as PyTorch's

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0, 0):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv2d(_ConvNd):
    """2-D cross-correlation of (N, C_in, H, W) input with a learnt (C_out, C_in/groups, KH, KW) kernel, plus a bias.
    ``padding_mode`` other than 'zeros' pads the input first (reflect, replicate, circular), as PyTorch does."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation, False, 0, groups, bias,
                         padding_mode, device, dtype)
        # F.pad's order, (left, right, top, bottom); padding_amounts also checks the arguments
        (top, bottom), (left, right) = padding_amounts(self.padding, self.kernel_size, self.stride, self.dilation)
        self._reversed_padding_repeated_twice = [left, right, top, bottom]

    def forward(self, x):
        if self.padding_mode == "zeros":
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


class ConvTranspose2d(_ConvNd):
    """The transposed convolution ("deconvolution") of (N, C_in, H, W) input with a learnt (C_in, C_out/groups, KH, KW)
    kernel, plus a bias: the upsampling layer of DCGAN generators and convolutional decoders. Output size
    (H - 1) * stride - 2 * padding + dilation * (KH - 1) + output_padding + 1, or the ``output_size`` given to
    forward (which picks output_padding)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, output_padding=0, groups=1,
                 bias=True, dilation=1, padding_mode="zeros", device=None, dtype=None):
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for ConvTranspose2d, got {padding_mode!r}')
        super().__init__(in_channels, out_channels, kernel_size, stride, pair(padding, "padding", "ConvTranspose2d", 0),
                         dilation, True, output_padding, groups, bias, padding_mode, device, dtype)

    def forward(self, input, output_size=None):
        output_padding = self._output_padding(input, output_size)
        return F.conv_transpose2d(input, self.weight, self.bias, self.stride, self.padding, output_padding,
                                  self.groups, self.dilation)

    def _output_padding(self, input, output_size):
        """``output_padding``, or where ``output_size`` ((OH, OW), or with the batch and channel axes) is given, the
        output padding that gives that size: each size must lie within stride - 1 of the smallest one."""
        if output_size is None:
            return self.output_padding
        output_size = tuple(output_size)[-2:] if len(output_size) == input.ndim else tuple(output_size)
        if len(output_size) != 2:
            raise ValueError(f"ConvTranspose2d: for {input.ndim}-d input, output_size must have 2 or {input.ndim} "
                             f"elements (got {len(output_size)})")
        smallest = [transposed_output_size(n, k, s, p, 0, d) for n, k, s, p, d in
                    zip(input.shape[-2:], self.kernel_size, self.stride, self.padding, self.dilation)]
        largest = [n + s - 1 for n, s in zip(smallest, self.stride)]
        if any(not low <= size <= high for size, low, high in zip(output_size, smallest, largest)):
            raise ValueError(f"ConvTranspose2d: requested an output size of {list(output_size)}, but valid sizes range "
                             f"from {smallest} to {largest} (for an input of {list(input.shape[-2:])})")
        return tuple(size - low for size, low in zip(output_size, smallest))
