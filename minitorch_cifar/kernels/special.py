"""Special functions that NumPy lacks, compiled with numba."""
import math

import numba
import numpy as np


@numba.vectorize(["float32(float32)", "float64(float64)"], cache=True)
def _erf(x):
    return math.erf(x)


def erf(x):
    """The error function, elementwise, keeping the input's float dtype."""
    return _erf(np.asarray(x))
