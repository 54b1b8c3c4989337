"""Adagrad (with learning-rate decay and L2 weight decay)."""
from .. import backend
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative


class Adagrad(Optimizer):
    """PyTorch's Adagrad, op for op. At step t, with g the gradient (negated if ``maximize``)::

        g = g + weight_decay * p                               (if weight_decay)
        s = s + g * g
        p = p - lr / (1 + (t - 1) * lr_decay) * g / (sqrt(s) + eps)

    State per parameter, made for every parameter when the optimizer is built (as in PyTorch): ``step`` (an
    int) and ``sum`` (s), which starts at ``initial_accumulator_value``."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10, *,
                 maximize=False):
        check_nonnegative("Adagrad", lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                          initial_accumulator_value=initial_accumulator_value, eps=eps)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, maximize=maximize))
        for group in self.param_groups:
            for p in group["params"]:
                self._init_state(p)

    def _init_state(self, p):
        # PyTorch takes the constructor's value for every group (a group's own is ignored)
        with backend.on_device_of(p.array):
            total = backend.get_array_module(p.array).full_like(p.array, self.defaults["initial_accumulator_value"])
        self.state[p].update(step=0, sum=Tensor._wrap(total))

    def _update_group(self, group):
        lr, lr_decay = float(group["lr"]), float(group["lr_decay"])
        eps, weight_decay = float(group["eps"]), float(group["weight_decay"])
        for p, param, grad, state in self._with_gradients(group):
            if not state:  # a parameter of a group added later
                self._init_state(p)
            elif state["sum"].device != p.device:  # the parameter was moved (model.to(device)) after
                state["sum"] = state["sum"].to(p.device)
            state["step"] += 1
            g = -grad if group["maximize"] else grad
            if weight_decay != 0:
                g = g + weight_decay * param
            clr = lr / (1 + (state["step"] - 1) * lr_decay)
            total = state["sum"].array
            total += g * g
            std = backend.get_array_module(param).sqrt(total)
            std += eps
            param -= clr * (g / std)
