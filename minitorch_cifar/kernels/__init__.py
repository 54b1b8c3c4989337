"""Raw array kernels, apart from autograd: numba on the CPU, CuPy kernels on the GPU.

Threads: importing this package sets numba's threading layer to 'workqueue' and NumPy's OpenBLAS to
one thread, unless NUMBA_THREADING_LAYER or OPENBLAS_NUM_THREADS say otherwise (``workers`` says
why). numba's parallel loops (pooling, BatchNorm, optimizers) then use numba.get_num_threads()
threads, and so does the convolution, which runs its chunks on threads of its own with
single-threaded BLAS; numba.set_num_threads(n) sets both.
"""
from . import workers

workers.configure_threads()
