"""Padding layers over ``F.pad``: ZeroPad2d, ConstantPad2d, ReflectionPad2d and ReplicationPad2d."""
from . import functional as F
from .module import Module


class _Pad2d(Module):
    """Pads the last two axes by ``padding``: an int for all four sides, or (left, right, top, bottom)."""

    mode = None

    def __init__(self, padding):
        super().__init__()
        if isinstance(padding, int):
            padding = (padding,) * 4
        if len(tuple(padding)) != 4 or not all(isinstance(p, int) for p in padding):
            raise ValueError(f"{type(self).__name__}: padding must be an int or 4 ints (left, right, top, bottom), "
                             f"got {padding!r}")
        self.padding = tuple(padding)

    def forward(self, x):
        return F.pad(x, self.padding, self.mode)

    def extra_repr(self):
        return f"{self.padding}"


class ConstantPad2d(_Pad2d):
    mode = "constant"

    def __init__(self, padding, value):
        super().__init__(padding)
        self.value = value

    def forward(self, x):
        return F.pad(x, self.padding, value=self.value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class ZeroPad2d(ConstantPad2d):
    extra_repr = _Pad2d.extra_repr

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad2d(_Pad2d):
    """Pads with the mirror image of the input, not repeating the edge (each side smaller than the axis)."""

    mode = "reflect"


class ReplicationPad2d(_Pad2d):
    """Pads by repeating the edge values."""

    mode = "replicate"
