"""ReLU's forward and backward on raw arrays: the reference below, and in fast mode the kernels that make
one pass over memory each way: ``activation_numba`` for float NumPy arrays, ``activation_cuda`` for CuPy
arrays."""
import functools

import numpy as np

from .. import backend
from . import numba_kernels, switch


# ----------------------------------------------------------------------------- reference: read this first
def reference_relu_forward(x, keep_positive=True):
    """max(x, 0) elementwise (NaN stays NaN, as torch.relu), and where it is positive: all that the backward needs
    (as a boolean array; None unless ``keep_positive``, when no backward will run)."""
    xp = backend.get_array_module(x)
    out = xp.maximum(x, _numpy_zero(x.dtype) if xp is np else 0)
    return out, out > 0 if keep_positive else None


@functools.lru_cache(maxsize=None)
def _numpy_zero(dtype):
    """0 as a 0-d array of ``dtype``: NumPy converts a Python 0 anew on every call, which takes as long as the
    maximum of a small array itself (0.2 us of 0.5 for 4x8 float32)."""
    return np.zeros((), dtype)


def reference_relu_backward(grad, positive):
    """The gradient passes where the forward's output was positive (out > 0 exactly where x > 0), else 0."""
    return grad * positive


# ----------------------------------------------------------------------------- entry points
SMALL = 2048  # elements below which NumPy's two passes cost less than calling the numba kernel


def _reference_runs(a):
    """True for small NumPy arrays (answered first: the per-op overhead of small ops), in reference mode, and for the
    integer arrays the fast kernels do not take."""
    return isinstance(a, np.ndarray) and a.size < SMALL or switch.reference() or a.dtype.kind != "f"


def _fast(a):
    """The fast kernels for ``a``: CUDA for CuPy arrays, numba otherwise."""
    if backend.is_cupy_array(a):
        from . import activation_cuda
        return activation_cuda
    return numba_kernels("activation_numba")


def relu_forward(x, keep_positive=True):
    """(max(x, 0) in x's memory layout (C order for CuPy arrays, which a CUDA kernel serves), where it is positive).
    The second is what ReLU keeps for relu_backward: a boolean array from the reference (None unless
    ``keep_positive``: small arrays under no_grad skip the comparison), one bit per element from the numba kernel
    (so that the output itself can be freed once its consumers are done with it, 1/32 of its memory where it
    cannot), the output itself from the CUDA kernel."""
    if _reference_runs(x):
        return reference_relu_forward(x, keep_positive)
    return _fast(x).relu_forward(x)


def relu_backward(grad, positive):
    """grad where the forward's output was positive, else 0, given ``positive`` from relu_forward."""
    if getattr(positive, "dtype", None) == bool:  # the reference's boolean array
        return reference_relu_backward(grad, positive)
    return _fast(grad).relu_backward(grad, positive)
