"""Stochastic gradient descent with momentum, dampening, Nesterov momentum and L2 weight decay."""
from .. import backend
from ..kernels import switch
from ..kernels import optim as kernels
from ..tensor import Tensor
from .optimizer import Optimizer, check_nonnegative, fused_views


class SGD(Optimizer):
    """PyTorch's SGD, op for op. With g the gradient (negated if ``maximize``)::

        g = g + weight_decay * p                               (if weight_decay)
        b = g on the first step, else momentum * b + (1 - dampening) * g
        g = g + momentum * b if nesterov else b                (if momentum)
        p = p - lr * g

    The momentum buffer is ``state[p]['momentum_buffer']``."""

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *,
                 maximize=False):
        check_nonnegative("SGD", lr=lr, momentum=momentum, weight_decay=weight_decay)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize))

    def _update_group(self, group):
        # float() turns NumPy float64 scalars (say, from an LR range test) into Python floats, which
        # NumPy casts to the parameters' dtype: float32 arithmetic stays float32.
        options = dict(lr=float(group["lr"]), momentum=float(group["momentum"]),
                       dampening=float(group["dampening"]), weight_decay=float(group["weight_decay"]),
                       nesterov=bool(group["nesterov"]), maximize=bool(group["maximize"]))
        for p, param, grad, state in self._with_gradients(group):
            buf, first = None, False
            if options["momentum"] != 0:
                first = "momentum_buffer" not in state
                if first:
                    state["momentum_buffer"] = Tensor._wrap(backend.get_array_module(param).empty_like(param))
                buf = state["momentum_buffer"].array
            flat = None if switch.reference() else fused_views(param, grad, *([] if buf is None else [buf]))
            if flat is None:
                kernels.reference_sgd(param, grad, buf, first=first, **options)
            else:
                _sgd_fused(*flat, first=first, **options)


def _sgd_fused(param, grad, buf=None, *, first, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """The same update as ``kernels.optim.reference_sgd`` in one pass over flat arrays (numba, or CUDA
    for CuPy arrays: ``kernels.optim.fast_kernels``)."""
    scalar = param.dtype.type
    if buf is None:
        buf = param[:0]
    kernels.fast_kernels(param).sgd(param, grad, buf, scalar(lr), scalar(weight_decay), scalar(momentum),
                                    scalar(1 - dampening), first, nesterov, maximize)
