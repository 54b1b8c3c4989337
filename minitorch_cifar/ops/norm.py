"""Batch, group and layer normalisation, each with its backward in closed form (group and layer norm share one op,
``Standardize``, below).

BatchNorm, per channel c, over the M = N * (spatial size) values of a batch:
    mean = sum(x) / M,   var = sum((x - mean)^2) / M,   xhat = (x - mean) / sqrt(var + eps)
    y = weight * xhat + bias
Backward, with g = dL/dy and the batch statistics (which depend on x):
    dL/dbias = sum(g),   dL/dweight = sum(g * xhat)
    dL/dx = weight / sqrt(var + eps) * (g - sum(g) / M - xhat * sum(g * xhat) / M)
In eval mode the running statistics are constants, and dL/dx = weight / sqrt(running_var + eps) * g.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from ..kernels.batchnorm import channel_affine, channel_sums
from ..kernels.switch import reference
from ..tensor import Tensor


class BatchNorm(Function):
    def forward(self, x, weight=None, bias=None, running_mean=None, running_var=None, training=True,
                momentum=0.1, eps=1e-5):
        xp = backend.get_array_module(x)
        count = x.size // x.shape[1]
        # on a GPU the (C,) coefficient math runs as one CUDA kernel each way, not about ten tiny ones
        self.fused = backend.is_cupy_array(x) and not reference()
        if training:
            sample = x[(0, slice(None)) + (0,) * (x.ndim - 2)].astype(xp.float64)  # the shift of channel_sums
            sum_shifted, sum_squares = channel_sums(x, sample, x, sample)
            statistics = _cuda().batch_statistics if self.fused else _batch_statistics
            mean, invstd, scale = statistics(sample, sum_shifted, sum_squares, count, weight, running_mean,
                                             running_var, momentum, eps)
        else:
            mean = running_mean.astype(xp.float64)
            invstd = 1 / xp.sqrt(running_var.astype(xp.float64) + eps)
            scale = invstd if weight is None else invstd * weight
        self.x, self.mean, self.invstd, self.scale = x, mean, invstd, scale
        self.training, self.count = training, count
        return channel_affine(x, mean, scale, xp.zeros_like(mean) if bias is None else bias)

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        need_x, need_weight, need_bias = self.needs_grad
        grad_x = grad_weight = grad_bias = None
        if self.training or need_weight or need_bias:
            # sum(g) and sum(g * (x - mean)) = sum(g * xhat) / invstd
            sum_g, sum_gx = channel_sums(grad, xp.zeros_like(self.mean), self.x, self.mean)
            coefficients = _cuda().backward_coefficients if self.fused else _backward_coefficients
            grad_weight, grad_bias, b, c = coefficients(sum_g, sum_gx, self.invstd, self.scale, self.count, grad.dtype)
            grad_weight, grad_bias = (grad_weight if need_weight else None), (grad_bias if need_bias else None)
        if need_x and self.training:
            grad_x = channel_affine(self.x, self.mean, b, c, grad=grad, grad_scale=self.scale)
        elif need_x:
            zeros = xp.zeros_like(self.mean)
            grad_x = channel_affine(grad, zeros, self.scale, zeros)
        return grad_x, grad_weight, grad_bias


def _batch_statistics(sample, sum_shifted, sum_squares, count, weight, running_mean, running_var, momentum, eps):
    """(mean, invstd, scale) per channel from the shifted sums; updates the running statistics in place."""
    xp = backend.get_array_module(sample)
    mean = sample + sum_shifted / count
    var = xp.maximum(sum_squares / count - (sum_shifted / count) ** 2, 0)
    if running_mean is not None:
        running_mean[...] = (1 - momentum) * running_mean + momentum * mean
        running_var[...] = (1 - momentum) * running_var + momentum * var * (count / (count - 1))
    invstd = 1 / xp.sqrt(var + eps)
    return mean, invstd, invstd if weight is None else invstd * weight


def _backward_coefficients(sum_g, sum_gx, invstd, scale, count, dtype):
    """dL/dweight, dL/dbias, and b, c of dL/dx = scale * (g - sum_g/M - (x - mean) * invstd^2 * sum_gx/M)
    written as (x - mean) * b + c + g * scale."""
    b = -scale * invstd ** 2 * sum_gx / count
    c = -scale * sum_g / count
    return (sum_gx * invstd).astype(dtype), sum_g.astype(dtype), b, c


def _cuda():
    from ..kernels import batchnorm_cuda
    return batchnorm_cuda


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Normalise each channel (axis 1) of (N, C, ...) input with the batch's statistics (``training``,
    which also updates the running ones in place when given) or with the running statistics."""
    if input.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C, ...), got {input.shape}")
    channels = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f"batch_norm: {name} of shape {tuple(t.shape)} does not fit {channels} channels "
                             f"of input {input.shape}")
    if (running_mean is None) != (running_var is None):
        raise ValueError("batch_norm: give both running_mean and running_var, or neither")
    if not training and running_mean is None:
        raise ValueError("batch_norm: eval mode (training=False) needs running_mean and running_var")
    if training and input.numel() // max(channels, 1) <= 1:
        raise ValueError(f"batch_norm: expected more than 1 value per channel when training, got input of "
                         f"shape {input.shape}")
    running = {name: t.array if isinstance(t, Tensor) else t
               for name, t in (("running_mean", running_mean), ("running_var", running_var))}
    if running_mean is not None:
        backend.check_same_device([input.array, running["running_mean"], running["running_var"]], "batch_norm")
    return BatchNorm.apply(input, weight, bias, **running, training=training, momentum=momentum, eps=eps)


class Standardize(Function):
    """xhat = (x - mean) / sqrt(var + eps), the mean and the biased variance taken over the last ``dims`` axes.

    With g = dL/dxhat, sigma = sqrt(var + eps) and means over the same axes (xhat depends on x also through the
    mean and the variance):
        dL/dx = (g - mean(g) - xhat * mean(g * xhat)) / sigma
    """

    def forward(self, x, dims, eps):
        xp = backend.get_array_module(x)
        axes = tuple(range(x.ndim - dims, x.ndim))
        work = x.astype(np.promote_types(x.dtype, np.float32), copy=False)  # float16 input: statistics in float32
        centred = work - work.mean(axis=axes, keepdims=True)
        invstd = 1 / xp.sqrt((centred * centred).mean(axis=axes, keepdims=True) + eps)
        xhat = centred * invstd
        if True in self.needs_grad:
            self.xhat, self.invstd, self.axes = xhat, invstd, axes
        return xhat.astype(x.dtype, copy=False)

    def backward(self, grad):
        g, xhat, axes = grad.astype(self.xhat.dtype, copy=False), self.xhat, self.axes
        grad_x = (g - g.mean(axis=axes, keepdims=True) - xhat * (g * xhat).mean(axis=axes, keepdims=True)) * self.invstd
        return grad_x.astype(grad.dtype, copy=False), None, None


def _scaled(xhat, weight, bias, shape):
    """xhat * weight + bias, ``weight`` and ``bias`` (either may be None) reshaped to ``shape`` to broadcast."""
    if weight is not None:
        xhat = xhat * weight.reshape(shape)
    return xhat if bias is None else xhat + bias.reshape(shape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise (N, C, ...) input over each group of C / num_groups channels (and all positions), then scale and
    shift each channel by ``weight`` and ``bias`` of shape (C,)."""
    if input.ndim < 2:
        raise ValueError(f"group_norm: expected input of shape (N, C, ...), got {input.shape}")
    batch, channels = input.shape[:2]
    if channels % num_groups:
        raise ValueError(f"group_norm: the {channels} channels of input {input.shape} do not split into "
                         f"num_groups={num_groups} groups")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != (channels,):
            raise ValueError(f"group_norm: {name} of shape {tuple(t.shape)} does not fit the {channels} channels of "
                             f"input {input.shape}")
    xhat = Standardize.apply(input.reshape(batch, num_groups, -1), dims=1, eps=eps).reshape(input.shape)
    return _scaled(xhat, weight, bias, (channels,) + (1,) * (input.ndim - 2))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise input over its trailing axes, those of ``normalized_shape``, then scale and shift elementwise by
    ``weight`` and ``bias`` of that shape."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or tuple(input.shape[input.ndim - len(shape):]) != shape:
        raise ValueError(f"layer_norm: normalized_shape={shape} needs input of shape (*, {', '.join(map(str, shape))})"
                         f", got {input.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise ValueError(f"layer_norm: {name} of shape {tuple(t.shape)} is not normalized_shape={shape}")
    return _scaled(Standardize.apply(input, dims=len(shape), eps=eps), weight, bias, shape)
