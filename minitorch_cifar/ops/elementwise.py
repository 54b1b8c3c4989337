"""Elementwise ops: arithmetic with NumPy broadcasting, and the unary maths and activations.

Each backward multiplies the upstream gradient by the local derivative and, for binary ops, sums
it back to each input's shape (``unbroadcast``), since broadcasting copied that input.
"""
import math
import operator

import numpy as np

from .. import backend
from ..kernels import activation, special
from ..autograd import Function, unbroadcast


def _shape(x):
    return getattr(x, "shape", ())


_FLOAT64 = np.dtype(np.float64)


def _promoted(result, a, b):
    """``result`` in PyTorch's dtype where NumPy's promotion differs: integer or bool arrays with a Python float
    (``labels * 0.9``) or divided by integers give float64 in NumPy but PyTorch's default float32, and with a
    float32 or float16 array that array's dtype; a float64 input keeps float64."""
    if result.dtype is not _FLOAT64:  # the common case, decided first: this runs for every addition and product
        return result
    dtypes = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if dtypes[0] is _FLOAT64 or dtypes[1] is _FLOAT64:  # identity, not `in`: a dtype equals None (read as float64)
        return result
    floats = [d for d in dtypes if d is not None and d.kind == "f"]
    return result.astype(floats[0] if floats else np.float32)


class Add(Function):
    saves_arrays = False

    def forward(self, a, b):
        if True in self.needs_grad:  # what backward needs; skipped where none will run
            self.shapes = _shape(a), _shape(b)
        return _promoted(a + b, a, b)

    def backward(self, grad):
        sa, sb = self.shapes
        return (unbroadcast(grad, sa) if self.needs_grad[0] else None,
                unbroadcast(grad, sb) if self.needs_grad[1] else None)


class Sub(Function):
    saves_arrays = False

    def forward(self, a, b):
        if True in self.needs_grad:  # what backward needs; skipped where none will run
            self.shapes = _shape(a), _shape(b)
        return _promoted(a - b, a, b)

    def backward(self, grad):
        sa, sb = self.shapes
        return (unbroadcast(grad, sa) if self.needs_grad[0] else None,
                unbroadcast(-grad, sb) if self.needs_grad[1] else None)


class Mul(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return _promoted(a * b, a, b)

    def backward(self, grad):
        a, b = self.a, self.b
        return (unbroadcast(grad * b, _shape(a)) if self.needs_grad[0] else None,
                unbroadcast(grad * a, _shape(b)) if self.needs_grad[1] else None)


class Div(Function):
    def forward(self, a, b):
        self.a, self.b = a, b
        return _promoted(a / b, a, b)

    def backward(self, grad):
        a, b = self.a, self.b
        grad_a = grad / b
        # d(a/b)/db = -a / b^2 = -(grad/b) * (a/b)
        return (unbroadcast(grad_a, _shape(a)) if self.needs_grad[0] else None,
                unbroadcast(-grad_a * a / b, _shape(b)) if self.needs_grad[1] else None)


class Neg(Function):
    saves_arrays = False

    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class Pow(Function):
    """a ** b for a tensor or number on either side."""

    def forward(self, a, b):
        self.a, self.b = a, b
        self.out = _promoted(a ** b, a, b)
        return self.out

    def backward(self, grad):
        a, b, out = self.a, self.b, self.out
        grad_a = grad_b = None
        if self.needs_grad[0]:
            # d(a^b)/da = b a^(b-1); written so that b = 0, 1, 2 need no division by a
            grad_a = unbroadcast(grad * b * a ** (b - 1), _shape(a))
        if self.needs_grad[1]:
            xp = backend.get_array_module(out)
            grad_b = unbroadcast(grad * out * xp.log(a), _shape(b))  # d(a^b)/db = a^b ln a
        return grad_a, grad_b


class Exp(Function):
    def forward(self, a):
        self.out = backend.get_array_module(a).exp(a)
        return self.out

    def backward(self, grad):
        return grad * self.out


class Log(Function):
    def forward(self, a):
        self.a = a
        return backend.get_array_module(a).log(a)

    def backward(self, grad):
        return grad / self.a


class Sqrt(Function):
    def forward(self, a):
        self.out = backend.get_array_module(a).sqrt(a)
        return self.out

    def backward(self, grad):
        return grad / (2 * self.out)


class Abs(Function):
    def forward(self, a):
        self.a = a
        return abs(a)

    def backward(self, grad):
        return grad * backend.get_array_module(grad).sign(self.a)  # sign(0) = 0, as PyTorch


class Rounding(Function):
    """floor, ceil or round (``decimals`` places, halves to even): piecewise constant, so the gradient is zero (taken
    as zero at the jumps too, as PyTorch does)."""

    def forward(self, a, how, decimals=0):
        xp = backend.get_array_module(a)
        return xp.round(a, decimals) if how == "round" else getattr(xp, how)(a)

    def backward(self, grad):
        return backend.get_array_module(grad).zeros_like(grad)


class Tanh(Function):
    def forward(self, a):
        self.out = backend.get_array_module(a).tanh(a)
        return self.out

    def backward(self, grad):
        return grad * (1 - self.out * self.out)


class Sigmoid(Function):
    def forward(self, a):
        xp = backend.get_array_module(a)
        # 1 / (1 + e^-a) overflows for large negative a; tanh form is stable everywhere
        self.out = 0.5 * (xp.tanh(0.5 * a) + 1)
        return self.out

    def backward(self, grad):
        return grad * self.out * (1 - self.out)


class ReLU(Function):
    """max(a, 0); the gradient passes where the output is positive (zero at a = 0, as PyTorch)."""

    def forward(self, a):
        # where out > 0, kept in less memory than out (kernels); not computed where no gradient will be asked for
        out, self.positive = activation.relu_forward(a, keep_positive=True in self.needs_grad)
        return out

    def backward(self, grad):
        return activation.relu_backward(grad, self.positive)


class LeakyReLU(Function):
    def forward(self, a, negative_slope=0.01):
        xp = backend.get_array_module(a)
        self.mask = a > 0
        self.slope = negative_slope
        return xp.where(self.mask, a, a * negative_slope)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        return xp.where(self.mask, grad, grad * self.slope)


class GELU(Function):
    """x Φ(x), exactly (erf) or with PyTorch's tanh approximation."""

    def forward(self, a, approximate="none"):
        xp = backend.get_array_module(a)
        self.a, self.approximate = a, approximate
        if approximate == "tanh":
            self.t = xp.tanh(math.sqrt(2 / math.pi) * (a + 0.044715 * a ** 3))
            return 0.5 * a * (1 + self.t)
        if approximate != "none":
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.cdf = 0.5 * (1 + special.erf(a * (1 / math.sqrt(2))))
        return a * self.cdf

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        a = self.a
        if self.approximate == "tanh":
            t = self.t
            # d/da of 0.5 a (1 + t), with t = tanh(k (a + c a^3))
            dinner = math.sqrt(2 / math.pi) * (1 + 3 * 0.044715 * a * a)
            return grad * (0.5 * (1 + t) + 0.5 * a * (1 - t * t) * dinner)
        pdf = xp.exp(-0.5 * a * a) * (1 / math.sqrt(2 * math.pi))
        return grad * (self.cdf + a * pdf)  # d(x Φ(x))/dx = Φ(x) + x φ(x)


class SiLU(Function):
    """a sigmoid(a), as one op: a fused backward saves the passes of sigmoid and product."""

    def forward(self, a):
        xp = backend.get_array_module(a)
        s = 0.5 * (xp.tanh(0.5 * a) + 1)  # sigmoid, stable as in Sigmoid
        if True in self.needs_grad:
            self.a, self.s = a, s
        return a * s

    def backward(self, grad):
        s = self.s
        return grad * (s * (1 + self.a * (1 - s)))  # d(a s)/da = s + a s (1 - s)


class ELU(Function):
    """a where a > 0, else alpha (e^a - 1); the gradient at a = 0 is alpha, as PyTorch."""

    def forward(self, a, alpha=1.0):
        xp = backend.get_array_module(a)
        positive = a > 0
        out = xp.where(positive, a, alpha * xp.expm1(xp.minimum(a, 0)))  # minimum: no overflow in the unused branch
        if True in self.needs_grad:
            self.positive, self.out, self.alpha = positive, out, alpha
        return out

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        return xp.where(self.positive, grad, grad * (self.out + self.alpha))  # d(alpha (e^a - 1))/da = out + alpha


class Hardtanh(Function):
    """a clamped to [min_val, max_val]; unlike clamp, the gradient is zero at both ends too (PyTorch's hardtanh,
    relu6)."""

    def forward(self, a, min_val=-1.0, max_val=1.0):
        if True in self.needs_grad:
            self.inside = (a > min_val) & (a < max_val)
        return backend.get_array_module(a).clip(a, min_val, max_val)

    def backward(self, grad):
        return grad * self.inside


class Hardsigmoid(Function):
    """(a + 3) / 6 clamped to [0, 1]; the gradient 1/6 strictly inside (-3, 3), zero at and beyond, as PyTorch."""

    def forward(self, a):
        if True in self.needs_grad:
            self.inside = (a > -3) & (a < 3)
        return backend.get_array_module(a).clip(a * (1 / 6) + 0.5, 0, 1)

    def backward(self, grad):
        return grad * self.inside * (1 / 6)


class Hardswish(Function):
    """a (a + 3) / 6, 0 below -3 and a above 3. PyTorch's gradient: 0 for a <= -3, a/3 + 1/2 inside (-3, 3),
    1 for a >= 3."""

    def forward(self, a):
        xp = backend.get_array_module(a)
        if True in self.needs_grad:
            self.a = a
        return a * xp.clip(a * (1 / 6) + 0.5, 0, 1)

    def backward(self, grad):
        a = self.a
        inside = (a > -3) & (a < 3)
        return grad * (inside * (a * (1 / 3) + 0.5) + (a >= 3))


class Softplus(Function):
    """log(1 + e^(beta a)) / beta, and a itself where beta a > threshold (as PyTorch)."""

    def forward(self, a, beta=1.0, threshold=20.0):
        xp = backend.get_array_module(a)
        scaled = a * beta
        # log(1 + e^z) = max(z, 0) + log(1 + e^-|z|): no overflow for large z, no lost digits for very negative z
        smooth = (xp.maximum(scaled, 0) + xp.log1p(xp.exp(-abs(scaled)))) * (1 / beta)
        if True in self.needs_grad:
            self.scaled, self.threshold = scaled, threshold
        return xp.where(scaled > threshold, a, smooth)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        z = self.scaled
        sigmoid = 0.5 * (xp.tanh(0.5 * z) + 1)  # d softplus/da = sigmoid(beta a)
        return xp.where(z > self.threshold, grad, grad * sigmoid)


class Clamp(Function):
    def forward(self, a, min=None, max=None):
        xp = backend.get_array_module(a)
        self.a, self.lo, self.hi = a, min, max
        return xp.clip(a, min, max)

    def backward(self, grad):
        # the gradient passes where min <= a <= max (both ends included, as PyTorch)
        keep = True
        if self.lo is not None:
            keep = self.a >= self.lo
        if self.hi is not None:
            keep = keep & (self.a <= self.hi)
        return grad * keep


class Maximum(Function):
    """Elementwise max (or min) of two tensors; at ties each side gets half the gradient, as PyTorch."""

    def forward(self, a, b, take_max=True):
        xp = backend.get_array_module(a, b)
        self.a, self.b, self.take_max = a, b, take_max
        return xp.maximum(a, b) if take_max else xp.minimum(a, b)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        a, b = self.a, self.b
        out_is_a = (a > b) if self.take_max else (a < b)
        share_a = xp.where(a == b, 0.5, out_is_a.astype(grad.dtype))
        return (unbroadcast(grad * share_a, _shape(a)) if self.needs_grad[0] else None,
                unbroadcast(grad * (1 - share_a), _shape(b)) if self.needs_grad[1] else None)


class Where(Function):
    def forward(self, condition, a, b):
        xp = backend.get_array_module(condition, a, b)
        self.condition, self.shapes = condition, (_shape(a), _shape(b))
        return xp.where(condition, a, b)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        zero = xp.zeros((), dtype=grad.dtype)
        return (None,
                unbroadcast(xp.where(self.condition, grad, zero), self.shapes[0]) if self.needs_grad[1] else None,
                unbroadcast(xp.where(self.condition, zero, grad), self.shapes[1]) if self.needs_grad[2] else None)


def _is_integral(x):
    """An integer or bool array, or a Python int or bool."""
    return x.dtype.kind in "iub" if hasattr(x, "dtype") else isinstance(x, (int, np.integer))


def check_integer_divisor(a, b, what):
    """PyTorch's ZeroDivisionError for an integer division by zero (where NumPy gives 0 and a warning)."""
    if _is_integral(a) and _is_integral(b) and not (b.all() if hasattr(b, "all") else b):
        raise ZeroDivisionError(f"integer {what} by zero")


def floor_divide(a, b):
    """a / b rounded down (integers stay integers); not differentiable, as in PyTorch."""
    check_integer_divisor(a, b, "floor_divide")
    return _promoted(backend.get_array_module(a, b).floor_divide(a, b), a, b)


class Remainder(Function):
    """PyTorch's ``remainder`` (``how="floor"``: the sign of the divisor, Python's ``%``) or ``fmod`` (``"trunc"``:
    the sign of the dividend). a - q b with q = a / b rounded by ``how``, piecewise constant: d/da = 1, d/db = -q."""

    def forward(self, a, b, how="floor"):
        xp = backend.get_array_module(a, b)
        check_integer_divisor(a, b, "remainder" if how == "floor" else "fmod")
        if self.needs_grad[1]:
            self.a, self.b, self.how = a, b, how
        if True in self.needs_grad:  # what backward needs; skipped where none will run
            self.shapes = _shape(a), _shape(b)
        return _promoted(xp.remainder(a, b) if how == "floor" else xp.fmod(a, b), a, b)

    def backward(self, grad):
        grad_b = None
        if self.needs_grad[1]:
            xp = backend.get_array_module(grad)
            quotient = getattr(xp, self.how)(self.a / self.b)
            grad_b = unbroadcast(-grad * quotient, self.shapes[1])
        return unbroadcast(grad, self.shapes[0]) if self.needs_grad[0] else None, grad_b


class Erf(Function):
    def forward(self, a):
        self.a = a
        return special.erf(a)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        return grad * (2 / math.sqrt(math.pi)) * xp.exp(-self.a * self.a)  # d erf(a)/da = 2/sqrt(pi) e^(-a^2)


def _bitwise(op):
    """``op`` (``operator.and_`` ...) of bool or integer arrays and Python ints or bools: logical on bools, bitwise on
    integers; floats refused, as PyTorch does."""
    def on_integers(*arrays):
        for x in arrays:
            dtype = x.dtype if hasattr(x, "dtype") else np.result_type(x)
            if dtype.kind not in "biu":
                raise TypeError(f"bitwise {op.__name__.strip('_')}: only bool and integer tensors, got dtype {dtype}")
        return op(*arrays)
    return on_integers


bitwise_and, bitwise_or, bitwise_xor, bitwise_not = map(_bitwise, (operator.and_, operator.or_, operator.xor,
                                                                    operator.invert))
