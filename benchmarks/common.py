"""What the benchmark scripts share: one thread count for both frameworks, and best-of timing."""
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
