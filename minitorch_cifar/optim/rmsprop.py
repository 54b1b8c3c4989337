"""RMSprop (with momentum, centering and L2 weight decay)."""
from .. import backend
from ..kernels.optim import _lerp
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative


class RMSprop(Optimizer):
    """PyTorch's RMSprop, op for op. With g the gradient (negated if ``maximize``)::

        g = g + weight_decay * p                               (if weight_decay)
        v = alpha * v + (1 - alpha) * g * g
        a = lerp(a, g, 1 - alpha); avg = sqrt(v - a * a)       (if centered; else avg = sqrt(v))
        b = momentum * b + g / (avg + eps); p = p - lr * b     (if momentum; else p = p - lr * g / (avg + eps))

    State per parameter: ``step`` (an int), ``square_avg`` (v), ``momentum_buffer`` (b), ``grad_avg`` (a)."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False):
        check_nonnegative("RMSprop", lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        super().__init__(params, dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                                      weight_decay=weight_decay, maximize=maximize))

    def _update_group(self, group):
        # float(): NumPy float64 options would turn float32 arithmetic into float64
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        for p, param, grad, state in self._with_gradients(group):
            if not state:
                xp = backend.get_array_module(param)
                names = ("square_avg",) + (("momentum_buffer",) if momentum > 0 else ()) + \
                    (("grad_avg",) if group["centered"] else ())
                state.update(step=0, **{name: Tensor._wrap(xp.zeros_like(param)) for name in names})
            state["step"] += 1
            g = -grad if group["maximize"] else grad
            if weight_decay != 0:
                g = g + weight_decay * param
            square_avg = state["square_avg"].array
            square_avg[...] = alpha * square_avg + (1 - alpha) * g * g
            if group["centered"]:
                grad_avg = state["grad_avg"].array
                grad_avg[...] = _lerp(grad_avg, g, param.dtype.type(1 - alpha))
                avg = backend.get_array_module(param).sqrt(square_avg - grad_avg * grad_avg)
            else:
                avg = backend.get_array_module(param).sqrt(square_avg)
            avg += eps
            if momentum > 0:
                buf = state["momentum_buffer"].array
                buf[...] = momentum * buf + g / avg
                param -= lr * buf
            else:
                param -= lr * (g / avg)
