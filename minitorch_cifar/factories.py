"""Functions that make new tensors: from data, filled with a value, a range, or random numbers."""
import numpy as np

from . import backend
from .tensor import Tensor


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data``."""
    data = data.array if isinstance(data, Tensor) else data
    out = Tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)
    if out.array is data:
        out.array = out.array.copy()
    return out


def _shape(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def _make(fill, size, dtype, device, requires_grad, default=np.float32):
    xp = np if device is None else backend.array_module_for(device)
    with backend.on_device(device):
        array = fill(xp, _shape(size), np.dtype(dtype or default))
    return Tensor._wrap(array).requires_grad_(requires_grad) if requires_grad else Tensor._wrap(array)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.zeros(s, dtype=d), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.ones(s, dtype=d), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    default = np.int64 if isinstance(fill_value, (int, np.integer)) and not isinstance(fill_value, bool) else np.float32
    return _make(lambda xp, s, d: xp.full(s, fill_value, dtype=d), (size,), dtype, device, requires_grad, default)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.empty(s, dtype=d), size, dtype, device, requires_grad)


def rand(*size, dtype=None, device=None, requires_grad=False):
    """Uniform on [0, 1), from the generator that ``manual_seed`` seeds."""
    return _make(lambda xp, s, d: backend.generator(xp).random(s, dtype=d), size, dtype, device, requires_grad)


def randn(*size, dtype=None, device=None, requires_grad=False):
    """Standard normal, from the generator that ``manual_seed`` seeds."""
    return _make(lambda xp, s, d: backend.generator(xp).standard_normal(s, dtype=d), size, dtype, device, requires_grad)


def randint(low, high=None, size=(), dtype=None, device=None):
    if high is None:
        low, high = 0, low
    return _make(lambda xp, s, d: backend.generator(xp).integers(low, high, size=s).astype(d),
                 (size,), dtype, device, False, np.int64)


def randperm(n, dtype=None, device=None):
    """A random order of 0..n-1: the one that sorts n uniform draws (CuPy's Generator has no ``permutation``)."""
    return _make(lambda xp, s, d: xp.argsort(backend.generator(xp).random(n)).astype(d), ((),), dtype, device, False,
                 np.int64)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    if end is None:
        start, end = 0, start
    is_int = all(isinstance(v, (int, np.integer)) for v in (start, end, step))
    default = np.int64 if is_int else np.float32
    return _make(lambda xp, s, d: xp.arange(start, end, step).astype(d), ((),), dtype, device, requires_grad, default)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    return _make(lambda xp, s, d: xp.linspace(start, end, steps).astype(d), ((),), dtype, device, requires_grad)


def _like(maker):
    def like(input, dtype=None, device=None, requires_grad=False):
        return maker(*input.shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)
    like.__name__ = maker.__name__ + "_like"
    like.__doc__ = f"``{maker.__name__}`` with the shape, dtype and device of ``input``."
    return like


zeros_like, ones_like, rand_like, randn_like, empty_like = map(_like, (zeros, ones, rand, randn, empty))


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False):
    return full(input.shape, fill_value, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def from_numpy(array):
    """A tensor sharing memory with a NumPy array."""
    return Tensor(array)


class Generator(np.random.Generator):
    """PyTorch's ``Generator``, for ``generator=`` of ``random_split`` and ``DataLoader``: a NumPy generator (PCG64),
    so ``Generator().manual_seed(42)`` draws what ``np.random.default_rng(42)`` draws."""

    def __init__(self, device="cpu"):
        super().__init__(np.random.PCG64())
        self.device = device

    def manual_seed(self, seed):
        """Restart from ``seed``; returns the generator, as PyTorch's (``Generator().manual_seed(42)``)."""
        self.bit_generator.state = np.random.PCG64(seed).state
        return self


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    """An n x m matrix (n x n without ``m``) with ones on the diagonal, zeros elsewhere."""
    return _make(lambda xp, s, d: xp.eye(n, m, dtype=d), ((),), dtype, device, requires_grad)
