"""``torch.nn.utils``: gradient clipping, as PyTorch's (``nn.utils.clip_grad_norm_(model.parameters(), 1.0)``)."""
from .. import backend
from ..tensor import Tensor


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients in place so that their norm, all of them taken as one vector, is at most ``max_norm``;
    returns that norm before clipping (a 0-d tensor). The factor is PyTorch's: max_norm / (norm + 1e-6), at most 1.
    ``norm_type`` is any p of the p-norm, or ``inf``. ``foreach`` is accepted for PyTorch's signature."""
    grads = _gradients(parameters)
    if not grads:
        return Tensor(0.0)
    xp = backend.get_array_module(grads[0])
    # the norm of the per-tensor norms is the norm of all elements together, for every p
    norm = xp.linalg.norm(xp.stack([xp.linalg.norm(g.ravel(), ord=norm_type) for g in grads]), ord=norm_type)
    if error_if_nonfinite and not bool(xp.isfinite(norm)):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {norm_type} of the gradients is {float(norm)}")
    factor = xp.minimum(max_norm / (norm + 1e-6), 1.0)  # in the norm's dtype, as PyTorch's; on a GPU, no host sync
    for g in grads:
        g *= factor
    return Tensor._wrap(norm)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value], in place."""
    for g in _gradients(parameters):
        backend.get_array_module(g).clip(g, -clip_value, clip_value, out=g)


def _gradients(parameters):
    """The gradient arrays of ``parameters`` (a tensor or an iterable of them) that have one."""
    parameters = [parameters] if isinstance(parameters, Tensor) else list(parameters)
    return [p.grad.array for p in parameters if p.grad is not None]
