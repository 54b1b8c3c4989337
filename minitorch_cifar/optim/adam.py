"""Adam (with L2 weight decay and AMSGrad) and AdamW (decoupled weight decay)."""
from .. import backend
from ..kernels import switch
from ..kernels import optim as kernels
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative, fused_views


class Adam(Optimizer):
    """PyTorch's Adam, op for op. At step t, with g the gradient (negated if ``maximize``)::

        p = p * (1 - lr * weight_decay)      if decoupled_weight_decay (AdamW), else
        g = g + weight_decay * p             (L2 penalty)
        m = lerp(m, g, 1 - beta1)            v = beta2 * v + (1 - beta2) * g * g
        v_max = max(v_max, v)                (amsgrad; then v_max replaces v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    State per parameter: ``step`` (an int), ``exp_avg`` (m), ``exp_avg_sq`` (v), ``max_exp_avg_sq``."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        name = type(self).__name__
        check_nonnegative(name, lr=lr, eps=eps, weight_decay=weight_decay)
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: invalid betas[{i}] = {beta} (must be in [0, 1))")
        super().__init__(params, dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update_group(self, group):
        lr, beta1, beta2 = float(group["lr"]), float(group["betas"][0]), float(group["betas"][1])
        options = dict(eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
                       amsgrad=bool(group["amsgrad"]), decoupled=bool(group["decoupled_weight_decay"]),
                       maximize=bool(group["maximize"]), lr=lr, beta1=beta1, beta2=beta2)
        for p, param, grad, state in self._with_gradients(group):
            if not state:
                xp = backend.get_array_module(param)
                state["step"] = 0
                names = ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if options["amsgrad"] else ())
                state.update({name: Tensor._wrap(xp.zeros_like(param)) for name in names})
            state["step"] += 1
            # Python floats, as in PyTorch (which reads its float32 step count back as a float)
            step_size = lr / (1 - beta1 ** state["step"])
            bias_correction2_sqrt = (1 - beta2 ** state["step"]) ** 0.5
            moments = [state["exp_avg"].array, state["exp_avg_sq"].array]
            if options["amsgrad"]:
                moments.append(state["max_exp_avg_sq"].array)
            flat = None if switch.reference() else fused_views(param, grad, *moments)
            update = kernels.reference_adam if flat is None else _adam_fused
            update(*(flat or [param, grad, *moments]), step_size=step_size,
                   bias_correction2_sqrt=bias_correction2_sqrt, **options)


def _adam_fused(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, lr, beta1, beta2, eps, weight_decay,
                amsgrad, decoupled, maximize, step_size, bias_correction2_sqrt):
    """The same update as ``kernels.optim.reference_adam`` in one pass over flat arrays (numba, or CUDA
    for CuPy arrays: ``kernels.optim.fast_kernels``)."""
    scalar = param.dtype.type
    weight = scalar(1 - beta1)
    if max_exp_avg_sq is None:
        max_exp_avg_sq = param[:0]
    kernels.fast_kernels(param).adam(
        param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalar(weight), scalar(1 - weight), scalar(beta2),
        scalar(1 - beta2), scalar(weight_decay), scalar(1 - lr * weight_decay), scalar(-step_size),
        scalar(bias_correction2_sqrt), scalar(eps), amsgrad, decoupled, maximize)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p = p * (1 - lr * weight_decay)`` before the Adam step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
