"""Conv2d with PyTorch's arguments, initialisation, repr and state_dict names (weight, bias)."""
from .. import factories
from ..ops.arguments import pair
from ..ops.conv import padding_amounts
from . import functional as F
from . import init
from .module import Module, Parameter

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


class Conv2d(Module):
    """2-D cross-correlation of (N, C_in, H, W) input with a learnt (C_out, C_in/groups, KH, KW) kernel, plus a bias.
    ``padding_mode`` other than 'zeros' pads the input first (reflect, replicate, circular), as PyTorch does."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, groups=1, bias=True,
                 padding_mode="zeros", device=None, dtype=None):
        super().__init__()
        if groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"Conv2d: groups={groups} must divide in_channels={in_channels} and "
                             f"out_channels={out_channels}")
        if padding_mode not in PADDING_MODES:
            raise ValueError(f"Conv2d: padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = pair(kernel_size, "kernel_size", "Conv2d", 1)
        self.stride, self.dilation = pair(stride, "stride", "Conv2d", 1), pair(dilation, "dilation", "Conv2d", 1)
        self.padding = padding if isinstance(padding, str) else pair(padding, "padding", "Conv2d", 0)
        self.groups, self.padding_mode = groups, padding_mode
        self.transposed, self.output_padding = False, (0, 0)
        # F.pad's order, (left, right, top, bottom); padding_amounts also checks the arguments
        (top, bottom), (left, right) = padding_amounts(self.padding, self.kernel_size, self.stride, self.dilation)
        self._reversed_padding_repeated_twice = [left, right, top, bottom]
        self.weight = Parameter(factories.empty(out_channels, in_channels // groups, *self.kernel_size, device=device,
                                                dtype=dtype))
        if bias:
            self.bias = Parameter(factories.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        init.default_init_(self.weight, self.bias)

    def forward(self, x):
        if self.padding_mode == "zeros":
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        x = F.pad(x, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self):
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0, 0):
            s += f", padding={self.padding}"
        if self.dilation != (1, 1):
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s
