"""Gradient checking: compare autograd's gradients with central finite differences.

Use it to test an op you write yourself::

    from minitorch_cifar.testing import gradcheck
    x = mt.randn(3, 4, dtype=mt.float64, requires_grad=True)
    gradcheck(lambda x: my_op(x), [x])

How it works: a random upstream gradient v turns the output y = f(x) into one number
s(x) = sum(v * f(x)). Autograd gives ds/dx with one backward pass. The numeric estimate of each
component is the central difference  (s(x + eps e_i) - s(x - eps e_i)) / (2 eps),  whose error
shrinks as eps^2, which is why the check runs in float64 (in float32, eps = 1e-6 would be lost
in rounding). Inputs should stay away from kinks (relu at 0) and ties (max of equal values),
where the function is not differentiable and the two estimates rightly disagree.
"""
import numpy as np

from . import backend
from .autograd import InvalidGradientError, no_grad
from .tensor import Tensor


class GradcheckError(AssertionError):
    """Analytic and numeric gradients disagree; the message says where and by how much."""


def _scalarize(fn, inputs, upstream):
    out = fn(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"gradcheck: fn must return a Tensor, got {type(out).__name__}")
    return out, float((out.array * upstream).sum())


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, directions=None, return_error=False):
    """Check ``fn``'s gradients with respect to every input that has ``requires_grad``.

    ``directions=None`` differentiates along every element (2 evaluations of fn per element);
    ``directions=k`` checks k random directions instead (Chainer's approach, for large inputs).
    Returns True (with ``return_error``: the largest |analytic - numeric| found), or raises ``GradcheckError``
    naming the input, the worst index, and both values (or, for a gradient of the wrong shape or dtype, the
    ``Function`` that returned it and the input's index).
    """
    inputs = list(inputs)
    checked = [i for i, t in enumerate(inputs) if isinstance(t, Tensor) and t.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input has requires_grad=True")
    for i in checked:
        if inputs[i].dtype != np.float64:
            raise TypeError(f"gradcheck: input {i} is {inputs[i].dtype}; use float64 inputs, whose rounding error "
                            f"is far below the finite-difference step")
    rng = np.random.default_rng(seed)
    xp = backend.get_array_module(inputs[checked[0]].array)
    for i in checked:
        inputs[i].grad = None
    out, _ = _scalarize(fn, inputs, 0.0)
    upstream = xp.asarray(rng.standard_normal(out.shape))
    if not out.requires_grad:
        raise GradcheckError("gradcheck: the output does not depend on any input that requires grad")
    try:
        out.backward(Tensor._wrap(upstream.astype(out.dtype)))
    except InvalidGradientError as error:
        raise GradcheckError(f"gradcheck: {error}") from None
    analytic = {i: (inputs[i].grad.array if inputs[i].grad is not None else xp.zeros_like(inputs[i].array))
                for i in checked}

    def s():
        with no_grad():
            return _scalarize(fn, inputs, upstream)[1]

    if directions is None:
        error = max(_check_elementwise(i, inputs[i].array, analytic[i], s, eps, atol, rtol) for i in checked)
    else:
        error = _check_directions(checked, inputs, analytic, s, eps, atol, rtol, directions, rng, xp)
    return error if return_error else True


def _check_elementwise(i, data, analytic, s, eps, atol, rtol):
    if not data.flags.c_contiguous:
        raise ValueError(f"gradcheck: input {i} must be C-contiguous, so that it can be nudged in place")
    numeric = np.zeros(data.shape)
    flat = data.reshape(-1)  # a view: writing flat[k] nudges the input itself
    for k in range(data.size):
        original = flat[k].item()
        flat[k] = original + eps
        plus = s()
        flat[k] = original - eps
        minus = s()
        flat[k] = original
        numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
    analytic = backend.to_device(analytic, "cpu").astype(np.float64)
    error = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
    if (error > 0).any():
        worst = np.unravel_index(int(np.argmax(error)), data.shape)
        raise GradcheckError(f"gradcheck: input {i} (shape {data.shape}) disagrees at index {tuple(map(int, worst))}: "
                             f"analytic {analytic[worst]:.10g}, numeric {numeric[worst]:.10g} "
                             f"(atol={atol}, rtol={rtol}; {int((error > 0).sum())} of {data.size} elements off)")
    return float(np.abs(analytic - numeric).max(initial=0.0))


def _check_directions(checked, inputs, analytic, s, eps, atol, rtol, directions, rng, xp):
    worst = 0.0
    for d in range(directions):
        steps = {i: xp.asarray(rng.standard_normal(inputs[i].shape)) for i in checked}
        for i in checked:
            inputs[i].array += eps * steps[i]
        plus = s()
        for i in checked:
            inputs[i].array -= 2 * eps * steps[i]
        minus = s()
        for i in checked:
            inputs[i].array += eps * steps[i]
        numeric = (plus - minus) / (2 * eps)
        exact = sum(float((analytic[i] * steps[i]).sum()) for i in checked)
        if abs(exact - numeric) > atol + rtol * abs(numeric):
            raise GradcheckError(f"gradcheck: along random direction {d} the directional derivative is "
                                 f"{exact:.10g} by autograd but {numeric:.10g} by finite differences "
                                 f"(inputs {checked}; atol={atol}, rtol={rtol})")
        worst = max(worst, abs(exact - numeric))
    return worst
