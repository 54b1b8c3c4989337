"""Stateless functions of layers and losses, as ``torch.nn.functional``."""
import numpy as np

from .. import backend
from ..ops import elementwise as ew
from ..ops import linalg, loss, pad  # noqa: F401  (pad is part of this namespace, as in PyTorch)
from ..ops.conv import conv2d  # noqa: F401
from ..ops.norm import batch_norm  # noqa: F401
from ..ops.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d  # noqa: F401
from ..ops.random import Dropout
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias."""
    return linalg.Linear.apply(input, weight, bias) if bias is not None else linalg.Linear.apply(input, weight)


def relu(input, inplace=False):
    return ew.ReLU.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return ew.LeakyReLU.apply(input, negative_slope=negative_slope)


def gelu(input, approximate="none"):
    return ew.GELU.apply(input, approximate=approximate)


def sigmoid(input):
    return ew.Sigmoid.apply(input)


def tanh(input):
    return ew.Tanh.apply(input)


def softmax(input, dim):
    return input.softmax(dim)


def log_softmax(input, dim):
    return input.log_softmax(dim)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero elements with probability ``p`` (and scale the rest by 1/(1-p)) while training."""
    return _dropout(input, p, training, None)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input with probability ``p`` (and scale the rest by 1/(1-p)) while
    training. A 3-D input is taken as (N, C, L), as PyTorch does."""
    if input.ndim not in (3, 4):
        raise ValueError(f"dropout2d: expected input of shape (N, C, H, W) or (N, C, L), got {input.shape}")
    return _dropout(input, p, training, input.shape[:2] + (1,) * (input.ndim - 2))


def _dropout(input, p, training, mask_shape):
    if not 0 <= p <= 1:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0
    return Dropout.apply(input, p=p, mask_shape=mask_shape)


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"reduction must be one of {_REDUCTIONS}, got {reduction!r}")


def _rows(input, target, name):
    """View (N, C, d1, ...) input and (N, d1, ...) target as (N*d1*..., C) rows and flat targets."""
    if input.ndim < 2:
        raise ValueError(f"{name}: input must have shape (N, C) or (N, C, d1, ...), got {input.shape}")
    spatial = input.shape[2:]
    rows = input if not spatial else input.permute(0, *range(2, input.ndim), 1).reshape(-1, input.shape[1])
    soft = target.dtype.kind == "f"
    if soft:
        if target.shape != input.shape:
            raise ValueError(f"{name}: a float target holds class probabilities and must have the input's shape "
                             f"{input.shape}, got {target.shape}; for class indices pass an integer tensor (.long())")
        flat = target if not spatial else target.permute(0, *range(2, target.ndim), 1).reshape(-1, input.shape[1])
    else:
        if target.dtype.kind not in "iu":
            raise TypeError(f"{name}: target must hold class indices (an integer tensor), got dtype {target.dtype}")
        expected = (input.shape[0],) + spatial
        if target.shape != expected:
            raise ValueError(f"{name}: target of shape {target.shape} does not fit input of shape {input.shape} "
                             f"(expected a target of shape {expected})")
        flat = target.reshape(-1)
    return rows, flat, soft, (input.shape[0],) + spatial


def _coefficients(rows, target, weight, ignore_index, label_smoothing, soft, name):
    """The matrix A with loss_i = sum_c A[i, c] logp[i, c], and the 'mean' divisor."""
    xp = backend.get_array_module(rows.array)
    n, classes = rows.shape
    dtype = rows.dtype
    w = None
    if weight is not None:
        w = weight.array if isinstance(weight, Tensor) else xp.asarray(weight)
        if w.shape != (classes,):
            raise ValueError(f"{name}: weight of shape {tuple(w.shape)} does not fit {classes} classes")
        w = w.astype(dtype, copy=False)
    eps = label_smoothing
    if soft:
        probabilities = target.array.astype(dtype, copy=False) * (1 - eps) + eps / classes
        a = -probabilities if w is None else -probabilities * w
        return a, n
    t = target.array
    valid = t != ignore_index
    safe = xp.where(valid, t, 0)
    if xp is np and safe.size and (safe.min() < 0 or safe.max() >= classes):
        bad = int(safe[(safe < 0) | (safe >= classes)][0])
        raise IndexError(f"{name}: target holds class {bad}, outside 0..{classes - 1}")
    if xp is not np:
        _track_target_range(safe, classes, name)  # checked at the next check_targets(), without a sync now
    row_weight = valid.astype(dtype) if w is None else w[safe] * valid
    a = xp.zeros((n, classes), dtype=dtype)
    a[xp.arange(n), safe] = -(1 - eps) * row_weight
    if eps:
        a -= (eps / classes) * (1 if w is None else w) * valid[:, None].astype(dtype)
    return a, row_weight.sum()


# Class indices on the GPU are range-checked without a host sync per step (CuPy's indexing would silently wrap a
# bad label round to a valid class): each loss folds its targets' smallest and largest label into running
# extremes on the device, which check_targets() reads; the Trainer calls it wherever it reads its metrics, and
# Tensor.item() on a GPU tensor (a custom loop's loss.item(), where PyTorch's device-side assert would surface).
_target_ranges = {}  # (device, loss name, classes) -> device array [smallest, largest] label since the last check


def _track_target_range(labels, classes, name):
    if labels.size == 0:
        return
    xp = backend.get_array_module(labels)
    key = (backend.device_of(labels), name, classes)
    extremes = xp.stack([labels.min(), labels.max()])
    seen = _target_ranges.get(key)
    if seen is None:
        _target_ranges[key] = extremes
    else:
        xp.minimum(seen[:1], extremes[:1], out=seen[:1])
        xp.maximum(seen[1:], extremes[1:], out=seen[1:])


def check_targets():
    """Raise IndexError if a cross_entropy or nll_loss on a GPU got a class index outside 0..C-1 since the last
    check (on the CPU they check at once). Reads one pair of numbers per loss and device; the Trainer and
    lr_find call it whenever they read their metrics, and ``Tensor.item()`` whenever it reads a GPU tensor."""
    pending = list(_target_ranges.items())
    _target_ranges.clear()
    for (device, name, classes), extremes in pending:
        low, high = (int(v) for v in backend.to_device(extremes, "cpu"))
        if low < 0 or high >= classes:
            raise IndexError(f"{name}: target holds class {low if low < 0 else high}, outside 0..{classes - 1} "
                             f"(on {device}, the labels since the last check ranged over {low}..{high})")


def _log_likelihood(input, target, weight, ignore_index, reduction, label_smoothing, from_logits, name):
    _check_reduction(reduction)
    if not 0 <= label_smoothing <= 1:
        raise ValueError(f"{name}: label_smoothing must be in [0, 1], got {label_smoothing}")
    if isinstance(target, Tensor):
        backend.check_same_device([input.array, target.array], name)
    else:
        target = Tensor(target, device=input.device)
    rows, flat, soft, out_shape = _rows(input, target, name)
    a, divisor = _coefficients(rows, flat, weight, ignore_index, label_smoothing, soft, name)
    out = loss.LogLikelihood.apply(rows, a, reduction=reduction, scale=1 / divisor, from_logits=from_logits)
    return out.reshape(out_shape) if reduction == "none" else out


def cross_entropy(input, target, weight=None, ignore_index=-100, reduction="mean", label_smoothing=0.0):
    """Softmax cross-entropy of logits against class indices (or class probabilities of the input's shape)."""
    return _log_likelihood(input, target, weight, ignore_index, reduction, label_smoothing, True, "cross_entropy")


def nll_loss(input, target, weight=None, ignore_index=-100, reduction="mean"):
    """Negative log-likelihood of log-probabilities against class indices."""
    return _log_likelihood(input, target, weight, ignore_index, reduction, 0.0, False, "nll_loss")


def mse_loss(input, target, reduction="mean"):
    """Mean (or summed) squared error between tensors of one shape."""
    _check_reduction(reduction)
    if tuple(np.shape(getattr(target, "data", target))) != input.shape:
        raise ValueError(f"mse_loss: input of shape {input.shape} and target of shape "
                         f"{tuple(np.shape(getattr(target, 'data', target)))} differ")
    diff = input - target
    squared = diff * diff
    return squared if reduction == "none" else squared.sum() if reduction == "sum" else squared.mean()
