"""Special functions that NumPy lacks: the error function, for GELU.

The reference applies Python's ``math.erf`` to each element; fast mode compiles the same scalar function
into a NumPy ufunc with numba (built on first use); CuPy arrays use ``cupyx.scipy.special.erf``.
"""
import functools
import math

import numpy as np

from .. import backend
from . import switch


def _erf_scalar(x):
    return math.erf(x)


# ----------------------------------------------------------------------------- reference: read this first
def reference_erf(x):
    """The error function, element by element with ``math.erf``, keeping the input's float dtype."""
    x = np.asarray(x)
    return np.vectorize(_erf_scalar, otypes=[x.dtype])(x)


# ----------------------------------------------------------------------------- fast and entry point
@functools.cache
def _numba_erf():
    """``_erf_scalar`` compiled by numba as a float32 and float64 ufunc."""
    import numba
    return numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)(_erf_scalar)


def erf(x):
    """The error function, elementwise, keeping the input's float dtype, on either backend."""
    if backend.is_cupy_array(x):
        import cupyx.scipy.special
        return cupyx.scipy.special.erf(x)
    if switch.reference():
        return reference_erf(x)
    return _numba_erf()(np.asarray(x))
