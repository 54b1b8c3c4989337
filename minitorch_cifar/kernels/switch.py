"""Which implementation every op runs: the fast kernels (the default) or the plain reference ones.

``reference`` runs each op on its plain array code, the version to read first: convolution as im2col
and one matrix product, pooling, BatchNorm, ReLU, dropout and the optimizers' updates written in NumPy
(or CuPy) a learner can step through in a debugger; numba is not even imported. ``fast`` (the default)
runs the numba kernels, threads, Winograd and kernel rows on the CPU and the CUDA kernels on the GPU;
each of them is tested against its reference.

Chosen by the environment variable ``MINITORCH_CIFAR_KERNELS`` (``fast`` or ``reference``) when the
package is imported, and from Python:

    import minitorch_cifar as mt
    mt.set_kernels("reference")          # from here on
    with mt.use_kernels("reference"):    # inside the block only
        loss = model(x).sum()
"""
import contextlib
import os

KERNELS = ("fast", "reference")
ENVIRONMENT_VARIABLE = "MINITORCH_CIFAR_KERNELS"


def _checked(mode, where):
    if mode not in KERNELS:
        raise ValueError(f"{where}: kernels must be 'fast' or 'reference', got {mode!r}")
    return mode


_mode = _checked(os.environ.get(ENVIRONMENT_VARIABLE, "fast"), f"environment variable {ENVIRONMENT_VARIABLE}")


def get_kernels():
    """'fast' or 'reference': the implementation the ops run now."""
    return _mode


def reference():
    """True when the ops run their plain reference implementation."""
    return _mode == "reference"


def set_kernels(mode):
    """Run every op from now on with 'fast' kernels or the plain 'reference' ones."""
    global _mode
    _mode = _checked(mode, "set_kernels")


@contextlib.contextmanager
def use_kernels(mode):
    """``with use_kernels("reference"):`` runs the block's ops with those kernels, then restores the previous choice."""
    previous = get_kernels()
    set_kernels(mode)
    try:
        yield
    finally:
        set_kernels(previous)
