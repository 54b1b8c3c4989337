"""Ops that change where or how the data is stored: device, dtype, or a fresh copy.

Each gradient is the upstream gradient carried back: to the source device, to the source dtype.
"""
from .. import backend
from ..autograd import Function


class ToDevice(Function):
    def forward(self, a, device):
        self.source = backend.device_of(a)
        return backend.to_device(a, device)

    def backward(self, grad):
        return backend.to_device(grad, self.source)


class Cast(Function):
    def forward(self, a, dtype):
        self.source = a.dtype
        return a.astype(dtype)

    def backward(self, grad):
        return grad.astype(self.source) if self.source.kind in "fc" else None


class Copy(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return grad
