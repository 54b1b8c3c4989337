"""Raw array kernels, apart from autograd: each op's plain reference, and its fast twins (numba on the
CPU, CuPy kernels on the GPU).

``kernels/<op>.py`` holds an op's reference implementation, the NumPy (or CuPy) array code to read
first, and the one choice between it and the fast kernels (``switch``: ``MINITORCH_CIFAR_KERNELS``,
``mt.set_kernels``). ``<op>_numba.py`` and ``<op>_cuda.py`` hold the fast kernels; both are imported
on first use, so reference mode never imports numba at all.

Threads: importing the package in fast mode (in reference mode, loading the first numba kernels with
``numba_kernels``) sets numba's threading layer to 'tbb' (or 'workqueue' where tbb is not installed)
and NumPy's OpenBLAS to one thread, unless NUMBA_THREADING_LAYER(_PRIORITY) or OPENBLAS_NUM_THREADS say
otherwise (``workers`` says why); this comes before any call of numba.set_num_threads, which starts
numba's threads with the layer set at that moment. numba's parallel loops (pooling, BatchNorm,
optimizers) then use numba.get_num_threads() threads, and so does the convolution, which runs its
chunks on threads of its own with single-threaded BLAS; numba.set_num_threads(n) sets both. The
'workqueue' layer must not start parallel loops from two threads at once (numba stops the process):
without tbb, to train from several Python threads at a time, install tbb or set
NUMBA_THREADING_LAYER=omp before importing the package.
"""
import functools
import importlib

from . import switch


@functools.cache
def numba_kernels(name):
    """The module ``kernels/<name>.py`` of numba code, imported on first use, after the process's thread
    defaults are set (``workers.configure_threads``)."""
    _configure_threads()
    return importlib.import_module(f"{__name__}.{name}")


@functools.cache
def _configure_threads():
    from . import workers
    workers.configure_threads()


if not switch.reference():
    _configure_threads()
