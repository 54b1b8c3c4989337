"""minitorch_cifar: a deep-learning framework written from scratch on NumPy (CPU) and CuPy (GPU).

The API follows PyTorch's: ``Tensor``, ``no_grad``, ``nn``, ``optim``, ``manual_seed``, ``device``, ``save`` and
``load`` (without pickle), and the top-level functions PyTorch code calls (``cat``, ``max``, ``floor`` ...).
"""
import numpy as _np

from . import backend, backends
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import cuda_is_available, get_array_module
from .devices import cuda, device
from .kernels.switch import get_kernels, set_kernels, use_kernels
from .factories import (Generator, arange, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
                        ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like)
from .ops import cat, maximum, minimum, pad, stack, where
from .tensor import Tensor, bool_, float16, float32, float64, int32, int64, long, set_printoptions, uint8
from . import amp, data, models, nn, optim, train
from .amp import autocast, is_autocast_enabled
from .nn.functional import avg_pool2d, max_pool2d
from .serialization import load, save
from . import viz  # summary() and to_dot(); its plots load matplotlib only when first used
from . import utils  # torch.utils.data's names (minitorch_cifar.vision, torchvision's, is imported on request)

__version__ = "0.1.0"


def manual_seed(seed):
    """Seed every random generator the framework uses (NumPy's and, when present, CuPy's)."""
    backend.manual_seed(seed)


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def compile(model, *args, **kwargs):
    """PyTorch's ``torch.compile``, accepted as a pass-through: the model is returned unchanged (nothing to compile)."""
    return model


def inference_mode(mode=True):
    """PyTorch's ``inference_mode``: here the same as ``no_grad()`` (or ``enable_grad()`` with ``mode=False``)."""
    return no_grad() if mode else enable_grad()


def as_tensor(data, dtype=None, device=None):
    """A tensor sharing ``data``'s memory where its device and dtype already fit (a copy otherwise)."""
    return Tensor(data, dtype=dtype, device=device)


def get_default_dtype():
    """The dtype of new float tensors: float32 (fixed here; PyTorch's ``set_default_dtype`` has no counterpart)."""
    return float32


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """``input.repeat_interleave(repeats, dim)``; with ``input`` alone, each index i repeated ``input[i]`` times."""
    if repeats is None:
        return arange(len(input), device=input.device).repeat_interleave(input)
    return input.repeat_interleave(repeats, dim, output_size=output_size)


def _method_as_function(name):
    def fn(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    fn.__name__ = name
    fn.__doc__ = f"``input.{name}(...)`` as a function."
    return fn


for _name in ("exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "clamp", "clip", "sum", "mean", "var", "std",
              "max", "min", "amax", "amin", "argmax", "argmin", "softmax", "log_softmax", "reshape", "flatten",
              "transpose", "permute", "unsqueeze", "squeeze", "matmul", "floor", "ceil", "round", "add", "sub",
              "mul", "div", "pow", "eq", "masked_fill", "topk", "clone", "detach", "t", "split", "chunk", "unbind",
              "index_select", "gather", "scatter", "scatter_add", "flip", "roll", "isnan", "isinf", "isfinite", "all",
              "any", "norm", "sign", "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "floor_divide",
              "remainder", "fmod", "sort", "argsort", "cumsum", "prod", "logsumexp", "count_nonzero", "masked_select",
              "nonzero", "unique", "bincount", "square", "rsqrt", "reciprocal", "erf", "lerp", "addcmul", "addcdiv",
              "mm", "bmm", "dot", "outer", "tril", "triu", "isclose", "allclose", "equal"):
    globals()[_name] = _method_as_function(_name)
del _name

# PyTorch's other dtype names (``dtype=torch.float``); they shadow the builtins only as attributes of this package
float, double, half, int, bool = float32, float64, float16, int32, bool_
short = int16 = _np.int16
int8 = _np.int8
