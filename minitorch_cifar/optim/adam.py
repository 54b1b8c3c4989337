"""Adam (with L2 weight decay and AMSGrad) and AdamW (decoupled weight decay)."""
from .. import backend
from ..kernels import optim as kernels
from ..tensor import Tensor
from .optimizer import Optimizer, fused_views


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
        if lr < 0:
            raise ValueError(f"{name}: invalid learning rate {lr} (must be >= 0)")
        if eps < 0:
            raise ValueError(f"{name}: invalid eps {eps} (must be >= 0)")
        for i, beta in enumerate(betas):
            if not 0.0 <= beta < 1.0:
                raise ValueError(f"{name}: invalid betas[{i}] = {beta} (must be in [0, 1))")
        if weight_decay < 0:
            raise ValueError(f"{name}: invalid weight_decay {weight_decay} (must be >= 0)")
        super().__init__(params, dict(lr=lr, betas=(float(betas[0]), float(betas[1])), eps=eps,
                                      weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                                      decoupled_weight_decay=decoupled_weight_decay))

    def _update_group(self, group):
        lr, beta1, beta2 = float(group["lr"]), float(group["betas"][0]), float(group["betas"][1])
        options = dict(eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
                       amsgrad=bool(group["amsgrad"]), decoupled=bool(group["decoupled_weight_decay"]),
                       maximize=bool(group["maximize"]), lr=lr, beta1=beta1, beta2=beta2)
        for p in group["params"]:
            if p.grad is None:
                continue
            param, grad = p.array, p.grad.array
            state = self.state[p]
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
            flat = fused_views(param, grad, *moments)
            update = _adam_arrays if flat is None else _adam_fused
            update(*(flat or [param, grad, *moments]), step_size=step_size,
                   bias_correction2_sqrt=bias_correction2_sqrt, **options)


def _adam_arrays(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, lr, beta1, beta2, eps, weight_decay,
                 amsgrad, decoupled, maximize, step_size, bias_correction2_sqrt):
    """One Adam update with array ops (NumPy or CuPy), in place on the parameter and moments."""
    xp = backend.get_array_module(param)
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled:
            param *= 1 - lr * weight_decay
        else:
            decayed = param * weight_decay
            decayed += grad
            grad = decayed
    # PyTorch's lerp weight, in the parameter's dtype; from 0.5 up, lerp starts from the far end.
    weight = param.dtype.type(1 - beta1)
    scratch = grad - exp_avg                                     # m = lerp(m, g, 1 - beta1)
    if weight < 0.5:
        scratch *= weight
        exp_avg += scratch
    else:
        scratch *= 1 - weight
        xp.subtract(grad, scratch, out=exp_avg)
    exp_avg_sq *= beta2                                          # v = beta2 v + (1 - beta2) g g
    xp.multiply(grad, 1 - beta2, out=scratch)
    scratch *= grad
    exp_avg_sq += scratch
    second_moment = exp_avg_sq
    if amsgrad:
        second_moment = xp.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
    denom = xp.sqrt(second_moment, out=scratch)
    denom /= bias_correction2_sqrt
    denom += eps
    update = exp_avg * -step_size
    update /= denom
    param += update


def _adam_fused(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq=None, *, lr, beta1, beta2, eps, weight_decay,
                amsgrad, decoupled, maximize, step_size, bias_correction2_sqrt):
    """The same update in one numba pass over flat NumPy arrays."""
    scalar = param.dtype.type
    weight = scalar(1 - beta1)
    if max_exp_avg_sq is None:
        max_exp_avg_sq = param[:0]
    kernels.adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, scalar(weight), scalar(1 - weight), scalar(beta2),
                 scalar(1 - beta2), scalar(weight_decay), scalar(1 - lr * weight_decay), scalar(-step_size),
                 scalar(bias_correction2_sqrt), scalar(eps), amsgrad, decoupled, maximize)


class AdamW(Adam):
    """Adam with decoupled weight decay: ``p = p * (1 - lr * weight_decay)`` before the Adam step."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True)
