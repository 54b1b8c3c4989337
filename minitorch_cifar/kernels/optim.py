"""The optimizers' updates on raw arrays, in place: SGD and Adam written as PyTorch's equations in array
code (NumPy or CuPy). Read these first: ``optim/sgd.py`` and ``optim/adam.py`` run them in reference
mode (``switch``), and in fast mode for non-contiguous parameters; otherwise one-pass kernels compute per
element exactly the same float operations: ``optim_numba`` on the CPU, ``optim_cuda`` (one CUDA kernel per
parameter) for CuPy arrays.

Python floats combine with float32 arrays in float32 (NumPy's casting rules), so the arithmetic stays
in the parameter's dtype, as PyTorch's does.
"""
from .. import backend
from . import numba_kernels


def reference_sgd(param, grad, buf, *, first, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """One SGD step. ``buf`` is the momentum buffer (None without momentum); ``first`` says it is still empty."""
    d_p = -grad if maximize else grad
    if weight_decay != 0:
        d_p = d_p + weight_decay * param                         # the gradient of the L2 penalty
    if momentum != 0:
        if first:
            buf[...] = d_p
        else:
            buf[...] = momentum * buf + (1 - dampening) * d_p
        d_p = d_p + momentum * buf if nesterov else buf
    param -= lr * d_p


def reference_adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, lr, beta1, beta2, eps, weight_decay,
                   amsgrad, decoupled, maximize, step_size, bias_correction2_sqrt):
    """One Adam step on the moments m (``exp_avg``) and v (``exp_avg_sq``), at step t:
    ``step_size`` = lr / (1 - beta1^t), ``bias_correction2_sqrt`` = sqrt(1 - beta2^t)."""
    xp = backend.get_array_module(param)
    g = -grad if maximize else grad
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay                       # AdamW: decay the weights themselves
        else:
            g = g + weight_decay * param                         # Adam: the gradient of the L2 penalty
    exp_avg[...] = _lerp(exp_avg, g, param.dtype.type(1 - beta1))  # m = beta1 m + (1 - beta1) g
    exp_avg_sq[...] = beta2 * exp_avg_sq + (1 - beta2) * g * g     # v = beta2 v + (1 - beta2) g^2
    v = exp_avg_sq
    if amsgrad:
        max_exp_avg_sq[...] = xp.maximum(max_exp_avg_sq, exp_avg_sq)
        v = max_exp_avg_sq
    denom = xp.sqrt(v) / bias_correction2_sqrt + eps               # sqrt(v / (1 - beta2^t)) + eps
    param -= step_size * exp_avg / denom


def _lerp(start, end, weight):
    """start + weight * (end - start), computed as PyTorch's lerp: from the far end when weight >= 0.5."""
    if weight < 0.5:
        return start + weight * (end - start)
    return end - (1 - weight) * (end - start)


# ----------------------------------------------------------------------------- fast kernels
def fast_kernels(param):
    """The module of one-pass updates (``sgd``, ``adam`` on flat arrays) for ``param``'s arrays: ``optim_cuda``
    for CuPy arrays, ``optim_numba`` otherwise."""
    if backend.is_cupy_array(param):
        from . import optim_cuda
        return optim_cuda
    return numba_kernels("optim_numba")
