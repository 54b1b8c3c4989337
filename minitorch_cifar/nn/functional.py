"""Stateless functions of layers and losses, as ``torch.nn.functional``."""
import warnings

import numpy as np

from .. import backend
from ..ops import elementwise as ew
from ..ops import linalg, loss, pad  # noqa: F401  (pad is part of this namespace, as in PyTorch)
from ..ops.conv import conv2d  # noqa: F401
from ..ops.conv_transpose import conv_transpose2d  # noqa: F401
from ..ops.norm import batch_norm, group_norm, layer_norm  # noqa: F401
from ..ops.pool import adaptive_avg_pool2d, adaptive_max_pool2d, avg_pool2d, max_pool2d  # noqa: F401
from ..ops.random import Dropout
from ..ops.upsample import interpolate  # noqa: F401
from ..tensor import Tensor

_REDUCTIONS = ("mean", "sum", "none")


def linear(input, weight, bias=None):
    """y = input @ weight.T + bias."""
    return linalg.Linear.apply(input, weight, bias) if bias is not None else linalg.Linear.apply(input, weight)


def relu(input, inplace=False):
    return ew.ReLU.apply(input)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    return ew.LeakyReLU.apply(input, negative_slope=negative_slope)


def prelu(input, weight):
    """max(0, x) + weight min(0, x), with ``weight`` one slope or one per channel (axis 1) of the input."""
    channels = input.shape[1] if input.ndim >= 2 else 1
    if weight.ndim > 1 or weight.numel() not in (1, channels):
        raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                           f"{weight.numel()} and channel size = {channels}.")
    shape = (1,) * input.ndim if weight.numel() == 1 else (channels,) + (1,) * (input.ndim - 2)
    return ew.Where.apply(input.detach() > 0, input, weight.reshape(shape) * input)


def gelu(input, approximate="none"):
    return ew.GELU.apply(input, approximate=approximate)


def silu(input, inplace=False):
    """x sigmoid(x), also called swish."""
    return ew.SiLU.apply(input)


def mish(input, inplace=False):
    """x tanh(softplus(x))."""
    return input * softplus(input).tanh()


def elu(input, alpha=1.0, inplace=False):
    return ew.ELU.apply(input, alpha=alpha)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    return ew.Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def relu6(input, inplace=False):
    """min(max(x, 0), 6); the gradient is zero at 0 and 6, as PyTorch's."""
    return ew.Hardtanh.apply(input, min_val=0.0, max_val=6.0)


def hardsigmoid(input, inplace=False):
    return ew.Hardsigmoid.apply(input)


def hardswish(input, inplace=False):
    return ew.Hardswish.apply(input)


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta x)) / beta, computed without overflow; x itself where beta x > threshold."""
    return ew.Softplus.apply(input, beta=beta, threshold=threshold)


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


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p`` (and scale the rest by 1/(1-p))
    while training."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input (N, C, L) or (C, L), but received a {input.ndim}D "
                           f"input of shape {input.shape}")
    return _dropout(input, p, training, input.shape[:-1] + (1,))


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


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample of (N, C, ...) input over its positions, then scale and shift each
    channel by ``weight`` and ``bias`` of shape (C,): group norm with a group per channel."""
    if running_mean is not None or running_var is not None or not use_input_stats:
        raise NotImplementedError("instance_norm: running statistics (running_mean, running_var, "
                                  "use_input_stats=False) are not supported here; each sample's own are used")
    if input.ndim < 3 or np.prod(input.shape[2:]) <= 1:
        raise ValueError(f"instance_norm: expected input of shape (N, C, ...) with more than 1 spatial element, "
                         f"got input size {input.shape}")
    return group_norm(input, input.shape[1], weight, bias, eps)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """input / max(||input||_p, eps) along ``dim``."""
    return input / input.norm(p, dim, keepdim=True).clamp(min=eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """x1 . x2 / (max(||x1||, eps) max(||x2||, eps)) along ``dim`` of the shape that x1 and x2 broadcast to."""
    try:
        shape = np.broadcast_shapes(x1.shape, x2.shape)
    except ValueError:
        raise RuntimeError(f"cosine_similarity: x1 of shape {x1.shape} and x2 of shape {x2.shape} do not "
                           f"broadcast") from None

    def unit(x):  # as PyTorch's: divided by the clamped norm, whose gradient is the norm's own, clamped or not
        norm = x.norm(2, dim, keepdim=True)
        return x / (norm + (norm.detach().clamp(min=eps) - norm.detach()))

    return (unit(x1.expand(shape)) * unit(x2.expand(shape))).sum(dim)


def _check_shuffle(input, factor, name, what):
    if input.ndim < 3:
        raise RuntimeError(f"{name} expects input of shape (*, C, H, W), got {input.shape}")
    if not isinstance(factor, int) or factor <= 0:
        raise RuntimeError(f"{name} expects a positive integer {what}, got {factor!r}")


def pixel_shuffle(input, upscale_factor):
    """(*, C r^2, H, W) -> (*, C, H r, W r): each pixel's r^2 channels of a group become an r x r block."""
    _check_shuffle(input, upscale_factor, "pixel_shuffle", "upscale_factor")
    *batch, channels, height, width = input.shape
    r, n = upscale_factor, len(batch)
    if channels % (r * r):
        raise RuntimeError(f"pixel_shuffle expects the channels of input {input.shape} to be divisible by "
                         f"upscale_factor^2 = {r * r}")
    blocks = input.reshape(*batch, channels // (r * r), r, r, height, width)
    return blocks.permute(*range(n), n, n + 3, n + 1, n + 4, n + 2).reshape(*batch, -1, height * r, width * r)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H r, W r) -> (*, C r^2, H, W), the inverse of pixel_shuffle."""
    _check_shuffle(input, downscale_factor, "pixel_unshuffle", "downscale_factor")
    *batch, channels, height, width = input.shape
    r, n = downscale_factor, len(batch)
    if height % r or width % r:
        raise RuntimeError(f"pixel_unshuffle expects the height and width of input {input.shape} to be divisible by "
                         f"downscale_factor={r}")
    blocks = input.reshape(*batch, channels, height // r, r, width // r, r)
    return blocks.permute(*range(n), n, n + 2, n + 4, n + 1, n + 3).reshape(*batch, -1, height // r, width // r)


def _check_reduction(reduction, known=_REDUCTIONS):
    if reduction not in known:
        raise ValueError(f"reduction must be one of {known}, got {reduction!r}")


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


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated ``size_average`` and ``reduce``, where given, decide the reduction as they do there."""
    if size_average is None and reduce is None:
        return reduction
    return "none" if reduce is False else "sum" if size_average is False else "mean"


def _paired(input, target, name):
    """``target`` as a tensor on the input's device, of the input's shape: PyTorch warns and broadcasts where the
    shapes differ, which is nearly always a bug (a (N,) target against (N, 1) outputs), so here it is an error."""
    if not isinstance(target, Tensor):
        target = Tensor(target, dtype=input.dtype, device=input.device)
    if target.shape != input.shape:
        raise ValueError(f"{name}: input of shape {input.shape} and target of shape {target.shape} differ")
    return target


def _reduce(per_element, reduction):
    return per_element if reduction == "none" else per_element.sum() if reduction == "sum" else per_element.mean()


def mse_loss(input, target, reduction="mean"):
    """Mean (or summed) squared error between tensors of one shape."""
    _check_reduction(reduction)
    diff = input - _paired(input, target, "mse_loss")
    return _reduce(diff * diff, reduction)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Mean (or summed) absolute error between tensors of one shape."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _reduce((input - _paired(input, target, "l1_loss")).abs(), reduction)


def _huber(diff, delta):
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2): quadratic near zero, linear beyond."""
    size = diff.abs()
    return ew.Where.apply(size.detach() < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))


def huber_loss(input, target, reduction="mean", delta=1.0):
    """0.5 d^2 where |d| < delta, else delta (|d| - delta / 2), for the difference d of tensors of one shape."""
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError(f"huber_loss does not support non-positive values for delta, got {delta}")
    return _reduce(_huber(input - _paired(input, target, "huber_loss"), delta), reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    """Huber loss divided by beta: 0.5 d^2 / beta where |d| < beta, else |d| - beta / 2 (beta = 0: L1)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError(f"smooth_l1_loss does not support negative values for beta, got {beta}")
    diff = input - _paired(input, target, "smooth_l1_loss")
    return _reduce(_huber(diff, beta) * (1 / beta) if beta > 0 else diff.abs(), reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Cross-entropy of probabilities in [0, 1] against targets of their shape; ``weight`` scales each element (it
    broadcasts). Each log is clamped at -100, as PyTorch's."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = _paired(input, target, "binary_cross_entropy")
    probabilities = input.array
    if backend.get_array_module(probabilities) is np and probabilities.size and not (
            0 <= probabilities.min() and probabilities.max() <= 1):  # on a GPU not checked: it would cost a sync
        raise RuntimeError(f"binary_cross_entropy: all elements of input should be between 0 and 1, got values in "
                           f"[{probabilities.min()}, {probabilities.max()}] (for logits use "
                           f"binary_cross_entropy_with_logits)")
    per_element = loss.BinaryCrossEntropy.apply(input, target)
    return _reduce(per_element if weight is None else per_element * weight, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid and binary cross-entropy in one, stable for any logit x: (1 - y) x + (1 + (p - 1) y) log(1 + e^-x),
    with p = ``pos_weight`` (the weight of positive targets; it broadcasts, as (C,) over (N, C)) and ``weight``
    scaling each element."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = _paired(input, target, "binary_cross_entropy_with_logits")
    log_one_plus_exp = ew.Softplus.apply(-input, threshold=np.inf)  # max(-x, 0) + log1p(e^-|x|): exact everywhere
    if pos_weight is not None:
        log_one_plus_exp = log_one_plus_exp * (1 + (pos_weight - 1) * target)
    per_element = (1 - target) * input + log_one_plus_exp
    return _reduce(per_element if weight is None else per_element * weight, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """Pointwise KL divergence target (log target - input) of log-probabilities ``input`` from ``target``
    (probabilities, or log-probabilities with ``log_target``); a target of 0 adds 0. reduction='batchmean' gives
    the KL divergence per sample; 'mean' divides by the number of elements (PyTorch warns about it too)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn("kl_div: reduction='mean' divides the total loss by both the batch size and the support size; "
                      "'batchmean' divides only by the batch size, as the KL divergence's definition does",
                      stacklevel=2)
    target = _paired(input, target, "kl_div")
    if log_target:
        per_element = target.exp() * (target - input)
    else:
        per_element = target * (target.masked_fill(target.detach() == 0, 1).log() - input)  # 0 log 0 = 0
    if reduction == "batchmean":
        return per_element.sum() / input.shape[0] if input.ndim else per_element.sum()
    return _reduce(per_element, reduction)


def one_hot(tensor, num_classes=-1):
    """An int64 tensor of shape (*tensor.shape, num_classes), 1 at each class index of ``tensor`` and 0 elsewhere;
    num_classes=-1 takes the largest index + 1."""
    if tensor.dtype.kind not in "iu":
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor, got dtype {tensor.dtype}")
    labels = tensor.array
    xp = backend.get_array_module(labels)
    if num_classes == -1:
        if labels.size == 0:
            raise RuntimeError("one_hot: Can not infer total number of classes from empty tensor.")
        num_classes = int(labels.max()) + 1  # a sync on a GPU, as in PyTorch
    if xp is not np:
        _track_target_range(labels, num_classes, "one_hot")  # checked at the next check_targets(), without a sync
    elif labels.size and labels.min() < 0:
        raise RuntimeError(f"one_hot: Class values must be non-negative, got {labels.min()}")
    elif labels.size and labels.max() >= num_classes:
        raise RuntimeError(f"one_hot: Class values must be smaller than num_classes ({num_classes}), got "
                           f"{labels.max()}")
    return Tensor._wrap((labels[..., None] == xp.arange(num_classes)).astype(np.int64))


def check_embedding_options(rows, padding_idx, max_norm, scale_grad_by_freq, sparse):
    """``padding_idx`` counted from the start (None stays None), checked against the ``rows`` of the weight; and
    NotImplementedError for the options of embedding that this framework lacks."""
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm (renormalising the picked rows in place) is not supported here")
    if scale_grad_by_freq or sparse:
        raise NotImplementedError("embedding: scale_grad_by_freq and sparse gradients are not supported here")
    if padding_idx is None:
        return None
    if not -rows <= padding_idx < rows:
        raise ValueError(f"Padding_idx must be within num_embeddings: got padding_idx={padding_idx} for {rows}")
    return padding_idx % rows


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """The rows of ``weight`` (num_embeddings, embedding_dim) at the integer indices ``input`` (any shape), of shape
    (*input.shape, embedding_dim). Each row's gradient adds up over the places it was picked; row ``padding_idx``
    (negative: counted from the end) gets none."""
    if not isinstance(input, Tensor) or input.dtype.kind not in "iu":
        raise TypeError(f"embedding: expected a tensor of integer indices (int64 or int32), got "
                        f"{getattr(input, 'dtype', type(input).__name__)}")
    if weight.ndim != 2:
        raise ValueError(f"embedding: weight must be 2-d (num_embeddings, embedding_dim), got shape {weight.shape}")
    rows = weight.shape[0]
    padding_idx = check_embedding_options(rows, padding_idx, max_norm, scale_grad_by_freq, sparse)
    indices = input.array
    if backend.get_array_module(indices) is not np:
        _track_target_range(indices, rows, "embedding")  # checked at the next check_targets(), without a sync now
    elif indices.size and (indices.min() < 0 or indices.max() >= rows):
        bad = indices.min() if indices.min() < 0 else indices.max()
        raise IndexError(f"embedding: index {bad} is out of range for {rows} embeddings (0..{rows - 1})")
    out = weight[input]  # its backward adds each output row's gradient into its source row, repeats in order
    if padding_idx is None:
        return out
    # the same values, but where the padding row was picked the gradient goes to a constant copy, not to the row
    return ew.Where.apply((indices != padding_idx)[..., None], out, out.detach())
