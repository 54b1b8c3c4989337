"""Dropout's mask and scaling for CuPy arrays: the uniform draws become the mask, and the output, in one kernel."""
import functools

from .. import backend


@functools.cache
def _kernels():
    cp = backend.cupy()
    mask = cp.ElementwiseKernel("T p, T scale", "T u", "u = u >= p ? scale : (T)0;", "minitorch_dropout_mask")
    apply = cp.ElementwiseKernel(
        "T a, T p, T scale", "T u, T out", "u = u >= p ? scale : (T)0;\nout = a * u;", "minitorch_dropout")
    return mask, apply


def dropout(a, uniform, p, scale):
    """(out, mask): the mask (``scale`` where ``uniform >= p``, else 0) is written over ``uniform``. With a
    ``uniform`` of a's shape both come from one kernel; a smaller (broadcast) one is masked, then multiplied."""
    mask_kernel, apply_kernel = _kernels()
    if uniform.shape == a.shape:
        out = backend.cupy().empty_like(uniform)
        apply_kernel(a, p, scale, uniform, out)
        return out, uniform
    mask_kernel(p, scale, uniform)
    return a * uniform, uniform
