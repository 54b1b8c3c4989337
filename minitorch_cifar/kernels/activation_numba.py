"""ReLU's fast forward and backward for the CPU (``activation`` holds the reference): one pass each over
memory (numba), for float NumPy arrays in any dense layout.

NumPy would make two passes forward (the output and a boolean mask) and one backward; here the
backward reads the mask from the saved output (out > 0 exactly where x > 0). Both arrays are walked in
memory order (``ravel(order='K')``), so channels-last activations are no slower than NCHW ones.
"""
import numba
import numpy as np

from .sized import sized_kernel


@sized_kernel()
def _relu_forward(x, out):
    for i in numba.prange(x.size):
        v = x[i]
        out[i] = v if v > 0 else (v if v != v else 0)  # NaN stays NaN, as torch.relu


@sized_kernel()
def _relu_backward(grad, out, grad_in):
    for i in numba.prange(grad.size):
        grad_in[i] = grad[i] if out[i] > 0 else 0


def _flat(a):
    """A 1-D view of a dense array's memory in memory order, or None when it has gaps."""
    flat = a.ravel(order="K")
    return flat if np.may_share_memory(flat, a) or a.size <= 1 else None


def relu_forward(x):
    """max(x, 0), in x's memory layout."""
    out = np.empty_like(x)
    flat_x, flat_out = _flat(x), _flat(out)
    if flat_x is None or flat_out is None:
        np.maximum(x, 0, out=out)
    else:
        _relu_forward(flat_x, flat_out, elements=x.size)
    return out


def relu_backward(grad, out):
    """grad where the forward's output was positive, else 0."""
    if grad.strides != out.strides:
        return grad * (out > 0)
    grad_in = np.empty_like(grad)
    flat_grad, flat_out, flat_in = _flat(grad), _flat(out), _flat(grad_in)
    if flat_grad is None or flat_out is None or flat_in is None:
        return grad * (out > 0)
    _relu_backward(flat_grad, flat_out, flat_in, elements=grad.size)
    return grad_in
