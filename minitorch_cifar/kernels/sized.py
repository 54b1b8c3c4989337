"""numba kernels built twice: parallel for big arrays, serial for small ones.

Starting numba's thread pool for a parallel loop costs about 50-70 us with the 'workqueue' threading
layer (the package's choice where tbb is not installed, see ``workers``), and 1-10 us with 'tbb'. The
pooling and BatchNorm loops stream memory; measured on 2 cores with workqueue, their parallel build beats
the serial one from about 2M elements on, and loses below 1M. With tbb, parallel loops from 256K elements
on were faster per layer (BatchNorm2d(128) at 8x8, 1M elements: 0.75 -> 0.56 ms) but made no model's
training step faster, so the one bound serves both layers.
"""
import types

import numba

PARALLEL_MIN_ELEMENTS = 1 << 21


class SizedKernel:
    """Call as ``kernel(*arrays, elements=n)``: the parallel build when n >= ``parallel_factor`` *
    PARALLEL_MIN_ELEMENTS and numba has more than one thread, else the serial build (where numba.prange is a
    plain range); without ``elements``, n is the size of the first array."""

    def __init__(self, py_func, parallel_factor=1, **options):
        self.parallel_factor = parallel_factor
        self.parallel = numba.njit(parallel=True, cache=True, **options)(py_func)
        self.serial = numba.njit(cache=True, **options)(_renamed(py_func, "_serial"))

    def __call__(self, *args, elements=None):
        size = args[0].size if elements is None else elements
        big = size >= self.parallel_factor * PARALLEL_MIN_ELEMENTS and numba.get_num_threads() > 1
        return (self.parallel if big else self.serial)(*args)


def sized_kernel(parallel_factor=1, **options):
    """Decorator: a ``SizedKernel`` of the function, parallel from ``parallel_factor`` times PARALLEL_MIN_ELEMENTS
    on, with numba options such as fastmath."""
    return lambda py_func: SizedKernel(py_func, parallel_factor, **options)


def _renamed(func, suffix):
    """A copy of ``func`` under another qualified name: numba's on-disk cache is keyed by the name and
    not by the parallel option, so the two builds must not share one."""
    copy = types.FunctionType(func.__code__, func.__globals__, func.__name__ + suffix, func.__defaults__,
                              func.__closure__)
    copy.__qualname__ = func.__qualname__ + suffix
    return copy
