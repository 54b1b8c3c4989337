"""Raw array kernels, apart from autograd: numba on the CPU, CuPy kernels on the GPU.

Threads: importing this package sets numba's threading layer to 'workqueue' and NumPy's OpenBLAS to
one thread, unless NUMBA_THREADING_LAYER or OPENBLAS_NUM_THREADS say otherwise (``workers`` says
why). numba's parallel loops (pooling, BatchNorm, optimizers, Winograd's weight transforms) then use
numba.get_num_threads() threads, and so does the convolution, which runs its chunks on threads of
its own with single-threaded BLAS; numba.set_num_threads(n) sets both. The 'workqueue' layer must not
start parallel loops from two threads at once (numba stops the process): to train from several
Python threads at a time, set NUMBA_THREADING_LAYER=omp (or tbb) before importing the package.
"""
from . import workers

workers.configure_threads()
