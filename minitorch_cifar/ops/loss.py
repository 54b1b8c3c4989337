"""The log-likelihood losses (cross-entropy and NLL) as one fused op.

Every variant (class indices or probabilities as targets, class weights, label smoothing,
ignore_index, each reduction) is a weighted sum of log-probabilities:
    loss_i = sum_c A[i, c] * logp[i, c]
with a coefficient matrix A built from the targets. Then dL/dlogp = A (times the reduction's
scale), and through log-softmax  dL/dlogits = G - softmax * rowsum(G).
"""
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
