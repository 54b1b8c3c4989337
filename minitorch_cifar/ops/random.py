"""Ops that draw random numbers from the framework's seeded generators."""
from .. import backend
from ..autograd import Function
from ..kernels.switch import reference


class Dropout(Function):
    """Zero each element with probability p and scale the rest by 1/(1-p), so the expectation is kept.
    With ``mask_shape`` one draw covers a whole broadcast block: (N, C, 1, 1) zeroes whole channels."""

    def forward(self, a, p, mask_shape=None):
        xp = backend.get_array_module(a)
        uniform = backend.generator(xp).random(a.shape if mask_shape is None else mask_shape, dtype=a.dtype)
        scale = a.dtype.type(1 / (1 - p))
        if backend.is_cupy_array(a) and not reference():  # mask and output in one CUDA kernel
            from ..kernels import dropout_cuda
            out, self.mask = dropout_cuda.dropout(a, uniform, a.dtype.type(p), scale)
            return out
        self.mask = (uniform >= p) * scale
        return a * self.mask

    def backward(self, grad):
        return grad * self.mask
