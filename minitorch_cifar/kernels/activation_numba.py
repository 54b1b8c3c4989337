"""ReLU's fast forward and backward for the CPU (``activation`` holds the reference): one pass each over
memory (numba), for float NumPy arrays in any dense layout.

NumPy would make two passes forward (the output and a boolean mask) and one backward. Here the forward
writes the output and, for the backward, one bit per element saying where it is positive (``PositiveBits``):
ReLU then keeps 1/32 of the output's float32 memory rather than the output itself, which is freed as soon as
the ops that use it are done (a max-pool after the ReLU keeps only its indices). Both arrays are walked in
memory order (``ravel(order='K')``), so channels-last activations are no slower than NCHW ones; bit k of
byte b is element 8 b + k in that order.
"""
import math

import numba
import numpy as np

from . import big_arrays
from .sized import sized_kernel


# ReLU does too little per element to gain from a second thread below 16M elements (8 x PARALLEL_MIN_ELEMENTS):
# measured inside training steps on the 2-core EPYC, its parallel build took 1.1 ms forward on the AlexNet-style
# net's 2.1M-element activations where the serial one took 0.5, and 6.4 and 5.5 ms forward and backward on
# resnet10's 8.4M where the serial one took 5.2 and 4.0; on resnet9's 16.8M it took 6.6 and 5.6 to 8.8 and 7.3.
RELU_PARALLEL_FACTOR = 8


@sized_kernel(RELU_PARALLEL_FACTOR)
def _relu_forward(x, out, positive):
    full = x.size // 8
    for b in numba.prange(full):
        byte = 0
        for k in range(8):
            v = x[8 * b + k]
            r = v if v > 0 else (v if v != v else 0)  # NaN stays NaN, as torch.relu
            out[8 * b + k] = r
            byte |= (r > 0) << k
        positive[b] = byte
    if x.size > 8 * full:
        byte = 0
        for i in range(8 * full, x.size):
            v = x[i]
            r = v if v > 0 else (v if v != v else 0)
            out[i] = r
            byte |= (r > 0) << (i - 8 * full)
        positive[full] = byte


@sized_kernel(RELU_PARALLEL_FACTOR)
def _relu_backward(grad, positive, grad_in):
    full = grad.size // 8
    for b in numba.prange(full):
        byte = np.int32(positive[b])  # int32, not uint8, and g read before the test: the loop then vectorizes
        for k in range(8):
            g = grad[8 * b + k]
            grad_in[8 * b + k] = g if byte & (np.int32(1) << k) else 0
    for i in range(8 * full, grad.size):
        grad_in[i] = grad[i] if (np.int32(positive[full]) >> (i - 8 * full)) & 1 else 0


class PositiveBits:
    """Where a dense array (shape, strides) was positive: bit k of byte b of ``bits`` for its element 8 b + k in
    memory order."""

    def __init__(self, bits, array):
        self.bits, self.shape, self.strides, self.itemsize = bits, array.shape, array.strides, array.itemsize

    def mask(self):
        """The bits as a read-only boolean array of the original shape and memory layout."""
        flags = np.unpackbits(self.bits, count=math.prod(self.shape), bitorder="little").view(bool)
        element_strides = [s // self.itemsize for s in self.strides]  # dense, non-negative: offset = memory position
        return np.lib.stride_tricks.as_strided(flags, self.shape, element_strides, writeable=False)


def _flat(a):
    """A 1-D view of a dense array's memory in memory order, or None when it has gaps."""
    flat = a.ravel(order="K")
    return flat if np.may_share_memory(flat, a) or a.size <= 1 else None


def relu_forward(x):
    """(max(x, 0) in x's memory layout, the PositiveBits of it)."""
    out = big_arrays.empty_like(x)  # dense, with non-negative strides, whatever x's layout
    flat_x, flat_out = _flat(x), _flat(out)
    if flat_x is None:  # x has gaps: NumPy writes the output, and the kernel reads it back (ReLU of it is itself)
        np.maximum(x, 0, out=out)
        flat_x = flat_out
    positive = np.empty(-(-x.size // 8), np.uint8)
    _relu_forward(flat_x, flat_out, positive, elements=x.size)
    return out, PositiveBits(positive, out)


def relu_backward(grad, positive):
    """grad where the forward's output was positive (``positive``: its PositiveBits), else 0."""
    grad_in = big_arrays.empty_like(grad)
    flat_grad, flat_in = _flat(grad), _flat(grad_in)
    if grad.strides != positive.strides or flat_grad is None or flat_in is None:
        return grad * positive.mask()
    _relu_backward(flat_grad, positive.bits, flat_in, elements=grad.size)
    return grad_in
