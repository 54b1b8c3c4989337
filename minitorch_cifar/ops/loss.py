"""The log-likelihood losses (cross-entropy and NLL) as one fused op.

Every variant (class indices or probabilities as targets, class weights, label smoothing,
ignore_index, each reduction) is a weighted sum of log-probabilities:
    loss_i = sum_c A[i, c] * logp[i, c]
with a coefficient matrix A built from the targets. Then dL/dlogp = A (times the reduction's
scale), and through log-softmax  dL/dlogits = G - softmax * rowsum(G).

Binary cross-entropy of probabilities is an op of its own too (elementwise; nn.functional reduces it), for
PyTorch's clamped logs and gradients; the other losses are composed in nn.functional.
"""
import numpy as np

from .. import backend
from ..autograd import Function
from .reduce import log_softmax_array


class LogLikelihood(Function):
    def forward(self, x, coefficients, reduction="mean", scale=1.0, from_logits=True):
        self.logp = log_softmax_array(x, axis=1) if from_logits else x
        self.coefficients, self.reduction, self.scale, self.from_logits = coefficients, reduction, scale, from_logits
        per_sample = (coefficients * self.logp).sum(axis=1)
        if reduction == "none":
            return per_sample
        total = per_sample.sum()
        return total * scale if reduction == "mean" else total

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        if self.reduction == "none":
            g = grad[:, None]
        else:
            g = grad * self.scale if self.reduction == "mean" else grad
        g_logp = self.coefficients * g
        if not self.from_logits:
            return g_logp, None
        return g_logp - xp.exp(self.logp) * g_logp.sum(axis=1, keepdims=True), None


class BinaryCrossEntropy(Function):
    """-(y log x + (1 - y) log(1 - x)) elementwise, each log clamped at -100 (x = 0 or 1 costs 100, not inf), with
    PyTorch's gradients, which ignore the clamp: (x - y) / max(x (1 - x), 1e-12) for x, log(1 - x) - log(x) for y."""

    def forward(self, x, y):
        xp = backend.get_array_module(x)
        if True in self.needs_grad:
            self.x, self.y = x, y
        with np.errstate(divide="ignore"):  # log(0) = -inf, clamped below
            return -(y * xp.maximum(xp.log(x), -100) + (1 - y) * xp.maximum(xp.log1p(-x), -100))

    def backward(self, grad):
        xp = backend.get_array_module(grad)
        x, grad_x, grad_y = self.x, None, None
        if self.needs_grad[0]:
            grad_x = grad * (x - self.y) / xp.maximum(x * (1 - x), 1e-12)
        if self.needs_grad[1]:
            with np.errstate(divide="ignore"):
                grad_y = grad * (xp.log1p(-x) - xp.log(x))
        return grad_x, grad_y
