"""Threads on the CPU: the process-wide settings, and chunks of work run on all cores.

The convolution (``kernels.conv_methods``) cuts its batch into chunks and runs, for each chunk,
im2col, the matrix product and col2im on one of ``num_threads()`` threads: the numba kernels and
NumPy's matrix products release the GIL, the chunk's patch matrix stays in that core's cache, no
thread waits for another inside a chunk, and a thread that other work on the machine slows down
simply takes fewer chunks. BLAS runs single-threaded inside the chunks (threadpoolctl; where it is
not installed, the chunks run one after the other on multi-threaded BLAS instead).

``configure_threads`` (run when the kernels package is imported) sets, unless the user's
environment already chooses:
- numba's threading layer to 'tbb' where the tbb package is installed (a dependency on x86-64), else
  to 'workqueue', never to 'omp'. Measured on a 2-core EPYC guest: tbb starts a parallel loop in 1-10 us
  and its idle threads spin for about half a millisecond before they sleep; workqueue's threads sleep at
  once, and waking them costs 50-80 us per loop; OpenMP's spin for about 10 ms after each loop and take
  a core from the chunk threads that follow (on 2 cores a training step ran up to 2-3x slower). With tbb
  rather than workqueue, a training step alone in its process, three pairs of runs in turn: cnn2 41-48
  -> 38-41 ms, cnn3 105-112 -> 99-110, resnet10 219-230 -> 207-224, LeNet and the MLP unchanged; and tbb,
  unlike workqueue, lets parallel loops start from several Python threads at once;
- NumPy's OpenBLAS to one thread (OPENBLAS_NUM_THREADS overrides): its idle threads likewise spin
  after each call, and the work that matters (convolution) is parallel at the level of chunks.

Each run of chunks keeps the chunk threads off the CPU of the thread that starts it (see
``_keep_chunk_threads_off_callers_cpu``), so that they do not wake on the caller's core. Between runs the chunk
threads look for the next one for about a millisecond, giving up the CPU between looks, before they sleep
(``_ChunkThreads``): waking a thread costs more than a small convolution's chunk in a virtual machine.
"""
import contextlib
import ctypes
import functools
import itertools
import math
import os
import sys
import threading

import llvmlite.ir
import numba
import numba.core.cgutils
import numba.extending
import numpy as np

from . import big_arrays

_local = threading.local()


def num_threads():
    """How many threads the CPU kernels use: numba's setting (NUMBA_NUM_THREADS, numba.set_num_threads)."""
    return numba.get_num_threads()


@functools.cache
def _openblas():
    """threadpoolctl's handle on the OpenBLAS that NumPy uses, or None without threadpoolctl."""
    try:
        import threadpoolctl
    except ImportError:
        return None
    np.ones((2, 2)) @ np.ones((2, 2))  # make sure NumPy's BLAS is loaded
    return threadpoolctl.ThreadpoolController().select(internal_api="openblas")


def _load_pip_installed_tbb():
    """Load the tbb wheel's library where pip put it, under the environment's ``lib`` folder, which the system's
    loader does not search in a virtual environment: numba's tbb layer then finds it already loaded (without
    this, numba falls back to workqueue there). Nothing happens where there is no such file."""
    library = os.path.join(sys.prefix, "lib", "libtbb.so.12")
    if os.path.exists(library):
        with contextlib.suppress(OSError):
            ctypes.CDLL(library, mode=ctypes.RTLD_GLOBAL)


def configure_threads():
    """The process-wide defaults described in this module's docstring."""
    chosen = {"NUMBA_THREADING_LAYER", "NUMBA_THREADING_LAYER_PRIORITY"} & set(os.environ)
    if numba.config.THREADING_LAYER == "default" and not chosen:
        _load_pip_installed_tbb()
        numba.config.THREADING_LAYER_PRIORITY = ["tbb", "workqueue", "omp"]  # the first that loads
    if _openblas() is not None and "OPENBLAS_NUM_THREADS" not in os.environ:
        _openblas().limit(limits=1)


_kept_off = {}  # native id of each chunk thread -> the CPU it may not run on (None: not known yet)


def _register_chunk_thread():
    _kept_off[threading.get_native_id()] = None


# How many times a chunk thread that has finished looks for the next run of chunks, giving up the CPU between
# looks, before it sleeps (and a caller, for its chunk threads to finish): a look takes 0.2-0.4 us where nothing else
# waits for the CPU, so this is about a millisecond, the gaps between a training step's convolutions. In a KVM guest
# waking a sleeping thread takes 50 us and more (0.5 ms after 20 ms of idling) each way: on a 2-core Xeon guest a run
# of four empty chunks on two threads took 146 us, and about 100 with the threads looking instead. The price: a
# looking thread is runnable, so a thread of another library that spins without giving up the CPU (OpenBLAS's own
# after a multi-threaded call outside ``run_chunks``) keeps it waiting for the rest of a time slice, where a sleeping
# one would be woken at once: runs of chunks back to back after 30 such calls took 4 ms each instead of 0.3.
LOOKS = 5000


@numba.extending.intrinsic
def _sched_yield(typingctx):
    """The C library's sched_yield(): give the CPU to a thread that waits for it, if any (numba can call it only
    through its symbol: a ctypes function would keep ``_look`` out of numba's on-disk cache)."""
    def codegen(context, builder, signature, args):
        function = numba.core.cgutils.get_or_insert_function(
            builder.module, llvmlite.ir.FunctionType(llvmlite.ir.IntType(32), []), "sched_yield")
        return builder.call(function, [])
    return numba.core.types.int32(), codegen


@numba.extending.intrinsic
def _fence(typingctx):
    """A full memory fence: this thread's stores before it reach the other threads before its loads after it."""
    def codegen(context, builder, signature, args):
        builder.fence("seq_cst")
        return context.get_dummy_value()
    return numba.core.types.none(), codegen


@numba.njit(cache=True, nogil=True)
def _look(counters, first, stop, target, looks):
    """Whether counters[first:stop] all reach ``target`` within ``looks`` looks, the CPU given up between them; runs
    without the GIL (the call to sched_yield, unknown to the compiler, makes it read the counters anew each time)."""
    for _ in range(looks):
        if counters[first:stop].min() >= target:
            return True
        _sched_yield()
    return counters[first:stop].min() >= target


_POSTED, _ASLEEP, _DONE = 0, 1, 2  # counters: jobs posted; the caller sleeps; each thread's last job done, from 2 on
_WAKE_CALLER = 2  # what _finish_and_look returns where the caller sleeps


@numba.njit(cache=True, nogil=True)
def _finish_and_look(counters, slot, job, looks):
    """A chunk thread's step between jobs, without the GIL: say it is done with ``job`` (counters[slot]), then
    _WAKE_CALLER where the caller sleeps waiting for that, else whether job + 1 is posted within ``looks`` looks."""
    counters[slot] = job
    _fence()  # the caller stores _ASLEEP, then checks the threads' jobs done: one of the two sees the other
    if counters[_ASLEEP]:
        return _WAKE_CALLER
    return int(_look(counters, _POSTED, _POSTED + 1, job + 1, looks))


@numba.njit(cache=True, nogil=True)
def _asleep_unless_done(counters, job):
    """The caller's step before it sleeps: mark it asleep, then whether every thread is done with ``job`` after all
    (then it is not asleep)."""
    counters[_ASLEEP] = 1
    _fence()
    done = counters[_DONE:].min() >= job
    if done:
        counters[_ASLEEP] = 0
    return done


class _ChunkThreads:
    """Threads that run a job beside the caller: each looks for the next job for a while (``LOOKS``) before it
    sleeps, so that runs of chunks close together start and end without waking threads.

    A thread says it is done with a job from numba code, without the GIL, and looks on from there: where it took the
    GIL to say so, the caller, looking for that, would find the GIL taken and sleep until the thread let it go,
    which costs 25-30 us in a KVM guest (the 2-core Xeon), as does every handover of the GIL to a sleeping thread.
    A run of two empty chunks took 55-80 us, and 23-27 so; LeNet's training step back to back 7.9-8.2 -> 7.4-7.8 ms.
    A caller that sleeps all the same (its chunk threads took longer than LOOKS) says so, and the thread that finds
    it asleep wakes it."""

    def __init__(self, count):
        self.count = count
        self.counters = np.zeros(_DONE + count, np.int64)
        self.posted, self.done = threading.Condition(), threading.Condition()
        self.in_use = threading.Lock()
        self.job = self.error = None
        looks = LOOKS if os.name == "posix" else 0  # sched_yield is POSIX: elsewhere the threads sleep at once
        for slot in range(_DONE, _DONE + count):
            threading.Thread(target=self._serve, args=(slot, looks), name="minitorch-chunks", daemon=True).start()
        self.looks = looks

    def _serve(self, slot, looks):
        _register_chunk_thread()
        seen = 0
        while True:
            state = _finish_and_look(self.counters, slot, seen, looks)
            if state == _WAKE_CALLER:
                with self.done:
                    self.done.notify()
                state = _look(self.counters, _POSTED, _POSTED + 1, seen + 1, looks)
            if not state:
                with self.posted:
                    self.posted.wait_for(lambda: self.counters[_POSTED] > seen)
            seen += 1
            try:
                self.job()
            except BaseException as error:  # the caller raises it
                self.error = error

    def run(self, job):
        """job() on the caller and on each thread; returns when all have returned, raising what one raised. Where
        another caller (another Python thread, or a chunk itself) has the threads, the caller runs job() alone."""
        if not self.in_use.acquire(blocking=False):
            job()
            return
        try:
            self.job, self.error = job, None
            with self.posted:
                self.counters[_POSTED] += 1
                self.posted.notify_all()
            posted = int(self.counters[_POSTED])
            try:
                job()
            finally:
                if not _look(self.counters, _DONE, len(self.counters), posted, self.looks):
                    with self.done:
                        if not _asleep_unless_done(self.counters, posted):
                            self.done.wait_for(lambda: self.counters[_DONE:].min() >= posted)
                        self.counters[_ASLEEP] = 0
            if self.error is not None:
                raise self.error
        finally:
            self.job = self.error = None
            self.in_use.release()


@functools.cache
def _chunk_threads(count):
    return _ChunkThreads(count)


@functools.cache
def _sched_getcpu():
    """The C library's sched_getcpu (the CPU the calling thread is on), or None where there is none."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    try:
        return ctypes.CDLL(None).sched_getcpu
    except (OSError, AttributeError):
        return None


def _keep_chunk_threads_off_callers_cpu():
    """Let the chunk threads run on any of the caller's CPUs but the one the caller is on (where it has others).

    Linux wakes a sleeping thread on the CPU of the thread that wakes it when it does not see another CPU as
    idle, and in a KVM guest a vCPU that has been idle for a while may not count as idle: after 20 ms without
    work (the pause before each step of bench_models.py), every chunk thread woke on the caller's CPU, for a
    whole training step, and two threads shared one core. Measured on the 2-core EPYC guest after such a pause:
    two 440 us chunks on two threads took 900 us, and 500 with the chunk thread kept off the caller's CPU;
    LeNet's training step at batch 128 took 10.3 ms, and 8.0 (6.7 without the pause). One system call per
    chunk thread, and only when the caller has moved to another CPU."""
    getcpu = _sched_getcpu()
    if getcpu is None:
        return
    cpu, caller = getcpu(), threading.get_native_id()
    for thread, kept_off in list(_kept_off.items()):
        if kept_off != cpu and thread != caller:
            others = os.sched_getaffinity(0) - {cpu}  # 0: the calling thread
            try:
                if others:
                    os.sched_setaffinity(thread, others)
            except OSError:  # a CPU set the system refuses: the thread runs where it may
                pass
            _kept_off[thread] = cpu


def _blas_on_one_thread():
    """A context in which NumPy's OpenBLAS runs on one thread: nothing to do where it does already, as
    ``configure_threads`` set it (threadpoolctl's limit took 8 us a run of chunks, and 60-260 us after 20 ms of
    idling, on the 2-core Xeon guest; asking the thread count, half a microsecond)."""
    blas = _openblas()
    if all(library.get_num_threads() == 1 for library in blas.lib_controllers):
        return contextlib.nullcontext()
    return blas.limit(limits=1)


_PENDING = object()  # a result not computed yet


def run_chunks(count, work, threads=None, fold=None):
    """Call ``work(index)`` for every index in range(count) on up to ``threads`` (default: num_threads())
    threads, each taking the next index as soon as it is free (a thread slowed down by other work on the machine
    takes fewer). Returns the results in index order, so that sums over them do not depend on timing; or, with
    ``fold``, fold(...fold(fold(results[0], results[1]), results[2])..., results[count - 1]), each result folded in
    as soon as those before it are, so that few results are held at once (the convolution's per-chunk weight
    gradients: resnet9 held 128 of 1.1 MiB for one layer)."""
    threads = min(num_threads() if threads is None else threads, count)
    if threads <= 1 or _openblas() is None:
        if fold is None:
            return [work(i) for i in range(count)]
        total = None
        for i in range(count):
            total = work(i) if i == 0 else fold(total, work(i))
        return total
    results = [_PENDING] * count
    folded = {"next": 0, "total": None}  # results[:next] are folded into total (and dropped)
    lock = threading.Lock()
    indices = itertools.count()  # next() on it is atomic under the GIL

    def take():
        for i in indices:
            if i >= count:
                return
            results[i] = work(i)
            if fold is not None:
                with lock:
                    while folded["next"] < count and results[folded["next"]] is not _PENDING:
                        j = folded["next"]
                        folded["total"] = results[j] if j == 0 else fold(folded["total"], results[j])
                        results[j], folded["next"] = None, j + 1

    with _blas_on_one_thread():
        _keep_chunk_threads_off_callers_cpu()
        _chunk_threads(threads - 1).run(take)
    return results if fold is None else folded["total"]


# Products are split over threads from this many multiply-adds in all, or from this many elements of their
# matrices (read and written) in all. Below both a second thread costs more than it saves. At batch 128 on 2 threads,
# split against one BLAS call: on the 2-core EPYC the break-even was ~8M multiply-adds; on the 2-core Xeon guest 8.4M
# took 201 us against 138, 16.8M 289 against 281, 33.5M 496 against 574, and a linear layer's two backward products
# side by side, 6.1M each (LeNet's 400 -> 120), 220 against 197, 16.8M each 416 against 551. A thin product (batch
# 4) is bound by memory rather than by multiply-adds: mlp_final's 3072 -> 1024 weight (3.1M elements) at batch 4,
# 12.6M multiply-adds, took 976 us split against 1343 for dx, 684 against 1028 forward; its 1024 -> 512 (0.5M)
# 230 against 189 for dx.
SPLIT_MATMUL_MIN_PRODUCTS = 1 << 24
SPLIT_MATMUL_MIN_ELEMENTS = 1 << 21


def matmul(a, b, owned=False):
    """a @ b of 2-D NumPy arrays, the result's rows (or columns, where it has more of them) split over
    num_threads() threads, each a single-threaded BLAS call: with BLAS kept on one thread (see
    configure_threads), this is how a large matrix product, such as a linear layer's, still uses every core.
    Each result element comes from one BLAS call over the whole of k, so the result does not depend on which
    thread ran what. A big result is in ``big_arrays``' reused memory, unless ``owned`` asks for an array that
    owns its memory (a weight's gradient, which autograd then keeps as its .grad without a copy)."""
    return matmuls([(a, b)], [owned])[0]


def matmuls(pairs, owned):
    """[a @ b for (a, b) in pairs], as ``matmul`` computes one, the products side by side: each cut into row (or
    column) blocks, about as many blocks in all as threads, shared out in proportion to each product's multiply-adds. A
    linear layer's two backward products, dx = G W and dW = G^T x, on two threads so run one whole on each, where
    cutting each in two cost a handover to the other thread per product and thinner BLAS calls: at batch 128 on the
    2-core Xeon guest, the two of mlp_final's 1024 -> 512 layer 1.62 -> 1.26 ms, of its 512 -> 256 layer 0.72 ->
    0.41, its training step 0.97-1.00 -> 0.96-0.97 of PyTorch's time."""
    sizes = [a.shape[0] * a.shape[1] * b.shape[1] for a, b in pairs]
    total, elements = sum(sizes), sum(a.size + b.size + a.shape[0] * b.shape[1] for a, b in pairs)
    # decided first: asking numba its thread count takes a microsecond; no multiply-adds (k = 0): zeros
    if total == 0 or (total < SPLIT_MATMUL_MIN_PRODUCTS and elements < SPLIT_MATMUL_MIN_ELEMENTS):
        return [a @ b for a, b in pairs]
    threads = num_threads()
    if threads <= 1 or _openblas() is None:
        return [a @ b for a, b in pairs]
    outs, blocks = [], []  # the results, and the (a, b, out) of each block
    for (a, b), size, own in zip(pairs, sizes, owned):
        (m, k), n = a.shape, b.shape[1]
        out = (np.empty if own else big_arrays.empty)((m, n), np.result_type(a, b))
        outs.append(out)
        count = min(max(1, round(threads * size / total)), max(m, n))
        if m >= n:
            cuts = [m * i // count for i in range(count + 1)]
            blocks += [(a[start:stop], b, out[start:stop]) for start, stop in zip(cuts, cuts[1:])]
        else:
            cuts = [n * i // count for i in range(count + 1)]
            blocks += [(a, b[:, start:stop], out[:, start:stop]) for start, stop in zip(cuts, cuts[1:])]
    run_chunks(len(blocks), lambda i: np.matmul(*blocks[i][:2], out=blocks[i][2]))
    return outs


def workspace(nbytes, slot=0):
    """Scratch byte buffer number ``slot`` of the calling thread, at least ``nbytes`` long, reused between calls."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buffer = buffers.get(slot)
    if buffer is None or buffer.nbytes < nbytes:
        buffer = buffers[slot] = np.empty(nbytes, np.uint8)
    return buffer


def scratch(shape, dtype, slot=0):
    """A scratch array of ``shape`` and ``dtype`` in the calling thread's buffer ``slot`` (overwritten by the
    next call for that slot)."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    return workspace(nbytes, slot)[:nbytes].view(dtype).reshape(shape)
