"""Run independent chunks of CPU work on all cores, each chunk's whole pipeline on one thread.

The convolution cuts its batch into chunks and runs, for each chunk, im2col, the matrix product and
col2im on one of ``num_threads()`` threads: the numba kernels and NumPy's matrix products release
the GIL, the chunk's patch matrix stays in that core's cache, and no thread waits for another inside
a chunk. For this, BLAS is held to one thread while the chunks run (with threadpoolctl; where it is
not installed, chunks run one after the other on multi-threaded BLAS instead).
"""
import concurrent.futures
import functools
import threading

import numba
import numpy as np

_local = threading.local()


def num_threads():
    """How many threads the CPU kernels use: numba's setting (NUMBA_NUM_THREADS, numba.set_num_threads)."""
    return numba.get_num_threads()


@functools.cache
def _blas_controller():
    try:
        import threadpoolctl
    except ImportError:
        return None
    return threadpoolctl.ThreadpoolController()


@functools.cache
def _executor(workers):
    return concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="minitorch-chunks")


def _single_threaded_blas():
    controller = _blas_controller()
    return controller.limit(limits=1, user_api="blas")


def run_chunks(count, work, reduce=None):
    """Call ``work(index)`` for every index in range(count); thread t takes indices t, t + T, t + 2T, ...
    With ``reduce(total, result)`` (total is None at first), each thread folds its results in index order;
    the per-thread totals come back in thread order, so that sums of them do not depend on timing."""
    threads = min(num_threads(), count)

    def share(t, step):
        total = None
        for i in range(t, count, step):
            result = work(i)
            total = reduce(total, result) if reduce is not None else None
        return total

    if threads <= 1 or _blas_controller() is None:
        return [share(0, 1)]
    with _single_threaded_blas():
        others = [_executor(threads - 1).submit(share, t, threads) for t in range(1, threads)]
        mine = share(0, threads)
        return [mine] + [f.result() for f in others]


def workspace(nbytes):
    """A scratch byte buffer of at least ``nbytes`` for the calling thread, reused between calls."""
    buffer = getattr(_local, "buffer", None)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = _local.buffer = np.empty(nbytes, np.uint8)
    return buffer


def scratch(shape, dtype):
    """A scratch array of ``shape`` and ``dtype`` in the calling thread's workspace (overwritten by the next call)."""
    dtype = np.dtype(dtype)
    count = int(np.prod(shape))
    return workspace(count * dtype.itemsize)[:count * dtype.itemsize].view(dtype).reshape(shape)
