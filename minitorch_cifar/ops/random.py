"""Ops that draw random numbers from the framework's seeded generators."""
from .. import backend
from ..autograd import Function


class Dropout(Function):
    """Zero each element with probability p and scale the rest by 1/(1-p), so the expectation is kept.
    With ``mask_shape`` one draw covers a whole broadcast block: (N, C, 1, 1) zeroes whole channels."""

    def forward(self, a, p, mask_shape=None):
        xp = backend.get_array_module(a)
        keep = backend.generator(xp).random(a.shape if mask_shape is None else mask_shape, dtype=a.dtype) >= p
        self.mask = keep * a.dtype.type(1 / (1 - p))
        return a * self.mask

    def backward(self, grad):
        return grad * self.mask
