"""ReLU's forward and backward on raw arrays: the reference below, and the numba kernels of
``activation_numba`` (one pass over memory each way) for float NumPy arrays in fast mode."""
from .. import backend
from . import numba_kernels, switch


# ----------------------------------------------------------------------------- reference: read this first
def reference_relu_forward(x):
    """max(x, 0) elementwise (NaN stays NaN, as torch.relu)."""
    return backend.get_array_module(x).maximum(x, 0)


def reference_relu_backward(grad, out):
    """The gradient passes where the forward's output was positive (out > 0 exactly where x > 0), else 0."""
    return grad * (out > 0)


# ----------------------------------------------------------------------------- entry points
SMALL = 2048  # elements below which NumPy's two passes cost less than calling the numba kernel


def _reference_runs(a):
    """True in reference mode, for arrays the numba kernels do not take (CuPy, integers), and for small ones."""
    return switch.reference() or a.size < SMALL or backend.is_cupy_array(a) or a.dtype.kind != "f"


def relu_forward(x):
    """max(x, 0), in x's memory layout."""
    if _reference_runs(x):
        return reference_relu_forward(x)
    return numba_kernels("activation_numba").relu_forward(x)


def relu_backward(grad, out):
    """grad where the forward's output was positive, else 0."""
    if _reference_runs(grad):
        return reference_relu_backward(grad, out)
    return numba_kernels("activation_numba").relu_backward(grad, out)
