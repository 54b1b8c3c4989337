"""The one-pass SGD and Adam updates of ``optim`` for CuPy arrays: one CUDA kernel per parameter and step.

Each thread does, for one element, the float operations of the numba kernels in the same order and dtype.
NVRTC would fuse a multiply and an add into one FMA (rounded once, not twice), so these kernels are compiled
with ``--fmad=false``: the GPU's updates equal the CPU's bit for bit (the CUDA tests check it).
"""
import functools

from .. import backend

_EXACT = ("--fmad=false",)

_SGD = """
    T d = maximize ? -grad : grad;
    if (weight_decay != (T)0) d = param * weight_decay + d;
    if (momentum != (T)0) {
        const T b = first ? d : buf[i] * momentum + d * undamped;
        buf[i] = b;
        d = nesterov ? b * momentum + d : b;
    }
    param = param - d * lr;
"""

_ADAM = """
    T g = maximize ? -grad : grad;
    T p = param;
    if (weight_decay != (T)0) {
        if (decoupled) p = p * decay;
        else g = p * weight_decay + g;
    }
    const T m = weight < (T)0.5 ? exp_avg + (g - exp_avg) * weight           // PyTorch's lerp: from the near end
                                : g - (g - exp_avg) * one_minus_weight;
    T v = exp_avg_sq * beta2 + g * one_minus_beta2 * g;
    exp_avg = m;
    exp_avg_sq = v;
    if (amsgrad) {
        const T top = max_exp_avg_sq[i];
        v = (top != top || top > v) ? top : v;                                 // np.maximum: a NaN wins
        max_exp_avg_sq[i] = v;
    }
    const T denom = sqrt(v) / bias_correction2_sqrt + eps;
    param = p + m * neg_step_size / denom;
"""


@functools.cache
def _kernels():
    cp = backend.cupy()
    sgd = cp.ElementwiseKernel(
        "T grad, T lr, T weight_decay, T momentum, T undamped, bool first, bool nesterov, bool maximize",
        "T param, raw T buf", _SGD, "minitorch_sgd", options=_EXACT)
    adam = cp.ElementwiseKernel(
        "T grad, T weight, T one_minus_weight, T beta2, T one_minus_beta2, T weight_decay, T decay, "
        "T neg_step_size, T bias_correction2_sqrt, T eps, bool amsgrad, bool decoupled, bool maximize",
        "T param, T exp_avg, T exp_avg_sq, raw T max_exp_avg_sq", _ADAM, "minitorch_adam", options=_EXACT)
    return sgd, adam


def sgd(param, grad, buf, lr, weight_decay, momentum, undamped, first, nesterov, maximize):
    _kernels()[0](grad, lr, weight_decay, momentum, undamped, first, nesterov, maximize, param, buf)


def adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, weight, one_minus_weight, beta2, one_minus_beta2,
         weight_decay, decay, neg_step_size, bias_correction2_sqrt, eps, amsgrad, decoupled, maximize):
    _kernels()[1](grad, weight, one_minus_weight, beta2, one_minus_beta2, weight_decay, decay, neg_step_size,
                  bias_correction2_sqrt, eps, amsgrad, decoupled, maximize, param, exp_avg, exp_avg_sq,
                  max_exp_avg_sq)
