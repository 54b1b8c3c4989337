"""What the benchmark scripts share: one thread count for both frameworks, best-of timing, and the GPU settings
of both frameworks (TF32 off or on, cuDNN's autotuner)."""
import time

import numba
import numpy as np
import torch

SETTLE_S = 0.02  # before each timing: PyTorch's idle OpenMP threads spin for a while after its work


def set_threads(threads):
    """Give PyTorch and our numba kernels the same thread count; returns a line naming it and the versions."""
    torch.set_num_threads(threads)
    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    return f"threads: {threads}; torch {torch.__version__}, numpy {np.__version__}, numba {numba.__version__}"


def best_of(steps, rounds, inner=3, warmup=3):
    """Milliseconds per call of each step: the best of ``rounds`` timings of ``inner`` calls. Each round
    times every step once, so the samples of each step spread over the whole run and a noisy stretch of
    the machine cannot spoil all of them. Before each timing a short pause and an untimed call let the
    other framework's idle threads stop spinning."""
    for step in steps:
        for _ in range(warmup):
            step()
    best = [float("inf")] * len(steps)
    for _ in range(rounds):
        for i, step in enumerate(steps):
            time.sleep(SETTLE_S)
            step()
            start = time.perf_counter()
            for _ in range(inner):
                step()
            best[i] = min(best[i], (time.perf_counter() - start) / inner * 1e3)
    return best


def our_tf32_switch():
    """``minitorch_cifar.backends.cuda.matmul`` (whose ``allow_tf32`` mirrors PyTorch's), or None where this
    version of minitorch_cifar has no such switch."""
    try:
        from minitorch_cifar import backends
        matmul = backends.cuda.matmul
    except (ImportError, AttributeError):
        return None
    return matmul if hasattr(matmul, "allow_tf32") else None


def set_gpu_float32(tf32):
    """Both frameworks' float32 settings on the GPU: TF32 matrix products (and PyTorch's TF32 convolutions) on or
    off, and cuDNN's autotuner on (PyTorch's best plain float32 setting for fixed shapes). Returns a line saying so,
    or raises RuntimeError when TF32 is asked for and our side has no switch for it."""
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32  # on by default in PyTorch: off unless asked for
    ours = our_tf32_switch()
    if ours is None:
        if tf32:
            raise RuntimeError("minitorch_cifar has no minitorch_cifar.backends.cuda.matmul.allow_tf32 switch")
    else:
        ours.allow_tf32 = tf32
    return f"TF32 {'on' if tf32 else 'off'} in both; cuDNN benchmark mode on in PyTorch"
