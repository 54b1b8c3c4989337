"""The table of checks: every differentiable op, layer, loss and optimizer of the framework, dropout, the batch
augmentations, and a few zoo models end to end. A check's name starts with the op it checks (``--ops`` picks by
that first word).

The shapes are small, so that the float64 gradient check (two evaluations per input element) stays quick. Inputs
keep away from kinks and ties where it matters (``sign=True``: magnitudes of at least 0.1). The float32
tolerances are the comparison's (atol, rtol) against float64: about 1e-5 for a few roundings, more where long
sums or BatchNorm's division by a small batch's spread amplify them.
"""
import numpy as np

from .. import nn, optim
from ..data import color
from ..data import transforms as T
from ..models import get_model
from ..nn import functional as F
from ..ops import cat, stack, where
from .kinds import Arg, Augmentation, Differentiable, DropoutMask, OptimizerStep


def x(*shape, low=-2.0, high=2.0, sign=False):
    """A differentiable float input."""
    return Arg(shape, low, high, sign=sign)


def away(*shape):
    """A differentiable input with magnitudes in [0.1, 2): no value near a kink at 0."""
    return Arg(shape, 0.1, 2.0, sign=True)


def labels(*shape, classes):
    return Arg(shape, 0, classes, kind="labels")


def constant(*shape, low=-2.0, high=2.0):
    return Arg(shape, low, high, grad=False)


def op(name, inputs, fn, tolerance=(1e-5, 1e-5), **gradcheck):
    return Differentiable(name, tuple(inputs), fn=fn, tolerance=tolerance, gradcheck=gradcheck)


def layer(name, inputs, module, tolerance=(1e-5, 1e-5), fn=None, **gradcheck):
    return Differentiable(name, tuple(inputs), fn=fn, module=module, tolerance=tolerance, gradcheck=gradcheck)


def model(name, batch=2, tolerance=(1e-9, 1e-9)):
    """A zoo model on random images in training mode (but for dropout), its fast kernels on the device against the
    reference kernels, both in float64: that they compose to the same network. Float32 accuracy is each layer's
    check: a whole network has ReLU and max-pool kinks near which a 1e-5 relative change of the images moves some
    gradients by percents (resnet10 here), so any float32 algorithm's rounding may cross one."""
    return Differentiable(f"model {name}", (x(batch, 3, 32, 32),), module=lambda: _without_dropout(get_model(name)),
                          tolerance=tolerance, gradcheck=None, dtype=np.float64)


def _without_dropout(module):
    for layer in module.modules():
        if isinstance(layer, nn.Dropout):
            layer.eval()
    return module


IMAGE = (2, 3, 6, 6)

ELEMENTWISE = [
    op("add broadcast", [x(3, 4), x(4)], lambda a, b: a + b),
    op("sub broadcast", [x(3, 1), x(1, 4)], lambda a, b: a - b),
    op("mul broadcast", [x(2, 3, 4), x(3, 1)], lambda a, b: a * b),
    op("div", [x(3, 4), away(3, 4)], lambda a, b: a / b),
    op("neg", [x(3, 4)], lambda a: -a),
    op("pow scalar", [x(3, 4, low=0.5)], lambda a: a ** 2.5),
    op("pow tensor", [x(3, 4, low=0.5), x(3, 4)], lambda a, b: a ** b),
    op("exp", [x(3, 4)], lambda a: a.exp()),
    op("log", [x(3, 4, low=0.2)], lambda a: a.log()),
    op("sqrt", [x(3, 4, low=0.2)], lambda a: a.sqrt()),
    op("abs", [away(3, 4)], lambda a: a.abs()),
    op("tanh", [x(3, 4)], lambda a: a.tanh()),
    op("sigmoid", [x(3, 4)], F.sigmoid),
    op("relu", [away(4, 5)], F.relu),
    op("leaky_relu", [away(4, 5)], lambda a: F.leaky_relu(a, 0.1)),
    op("gelu exact", [x(4, 5)], F.gelu),
    op("gelu tanh", [x(4, 5)], lambda a: F.gelu(a, approximate="tanh")),
    op("silu", [x(4, 5)], F.silu),
    op("mish", [x(4, 5)], F.mish),
    op("elu", [away(4, 5)], lambda a: F.elu(a, 0.5)),
    # the piecewise ones on inputs scaled to cross their kinks (6; -1.5 and 2.5; +-3), which no draw lands near
    op("relu6", [away(4, 5)], lambda a: F.relu6(a * 4)),
    op("hardtanh", [x(4, 5)], lambda a: F.hardtanh(a * 2, -1.5, 2.5)),
    op("hardsigmoid", [x(4, 5)], lambda a: F.hardsigmoid(a * 2)),
    op("hardswish", [x(4, 5)], lambda a: F.hardswish(a * 2)),
    op("softplus", [x(4, 5)], lambda a: F.softplus(a * 4, beta=2.0, threshold=6.0)),
    op("clamp", [x(4, 5)], lambda a: a.clamp(-0.95, 1.05)),
    op("maximum", [x(3, 4), x(3, 4)], lambda a, b: a.maximum(b)),
    op("minimum", [x(3, 4), x(4)], lambda a, b: a.minimum(b)),
    op("where", [Arg((3, 4), kind="mask"), x(3, 4), x(4)], where),
    op("remainder", [x(3, 4)], lambda a: a % 0.75),
    op("fmod", [x(3, 4), away(4)], lambda a, b: a.fmod(b)),
    op("square", [x(3, 4)], lambda a: a.square()),
    op("rsqrt", [x(3, 4, low=0.2)], lambda a: a.rsqrt()),
    op("reciprocal", [away(3, 4)], lambda a: a.reciprocal()),
    op("erf", [x(3, 4)], lambda a: a.erf()),
    op("lerp", [x(3, 4), x(3, 4), x(4)], lambda a, b, w: a.lerp(b, w)),
    op("addcmul", [x(3, 4), x(3, 4), x(4)], lambda a, b, c: a.addcmul(b, c, value=0.5)),
    op("addcdiv", [x(3, 4), x(3, 4), x(3, 4, low=0.5)], lambda a, b, c: a.addcdiv(b, c, value=-2)),
]

REDUCTIONS = [
    op("sum dim", [x(3, 4, 5)], lambda a: a.sum(dim=(0, 2), keepdim=True)),
    op("mean", [x(3, 4, 5)], lambda a: a.mean(dim=1)),
    op("var", [x(3, 4, 5)], lambda a: a.var(dim=2)),
    op("std", [x(3, 4, 5)], lambda a: a.std(dim=0, unbiased=False)),
    op("max dim", [x(3, 4, 5)], lambda a: a.max(dim=1)[0]),
    op("amax", [x(3, 4, 5)], lambda a: a.amax(dim=(1, 2))),
    op("softmax", [x(3, 5)], lambda a: a.softmax(dim=1)),
    op("log_softmax", [x(3, 5)], lambda a: a.log_softmax(dim=0)),
    op("sort", [x(3, 5)], lambda a: a.sort(dim=1, descending=True).values),
    op("cumsum", [x(3, 4, 5)], lambda a: a.cumsum(dim=1)),
    op("prod", [x(3, 4)], lambda a: a.prod(dim=1)),
    op("logsumexp", [x(3, 4, 5)], lambda a: a.logsumexp(dim=(0, 2))),
    op("masked_select", [x(3, 4), Arg((4,), kind="mask")], lambda a, m: a.masked_select(m)),
    op("repeat_interleave", [x(3, 4)], lambda a: a.repeat_interleave(2, dim=0)),
]

SHAPES = [
    op("reshape", [x(3, 4)], lambda a: a.reshape(2, 6) * 1.5),
    op("permute", [x(2, 3, 4)], lambda a: a.permute(2, 0, 1) * 1.5),
    op("expand", [x(3, 1)], lambda a: a.expand(3, 4) * 1.5),
    op("getitem slice", [x(4, 5)], lambda a: a[1:, ::2]),
    op("getitem repeated index", [x(4, 5)], lambda a: a[np.array([0, 2, 2, 3, 0])]),
    op("cat", [x(2, 3), x(4, 3)], lambda a, b: cat([a, b], dim=0)),
    op("stack", [x(2, 3), x(2, 3)], lambda a, b: stack([a, b], dim=1)),
    op("split sections", [x(3, 5)], lambda a: cat(a.split([2, 3], dim=1)[::-1], dim=1)),
    op("chunk uneven", [x(5, 3)], lambda a: cat(a.chunk(3)[::-1])),
    op("unbind", [x(3, 4)], lambda a: stack(a.unbind(1)[::-1])),
    op("index_select repeated index", [x(3, 4)], lambda a: a.index_select(1, np.array([3, 0, 3]))),
    op("gather", [x(4, 5), labels(3, 6, classes=5)], lambda a, i: a.gather(1, i)),
    op("scatter", [x(4, 5), x(3, 2)], lambda a, b: a.scatter(1, np.array([[0, 3], [4, 1], [2, 0]]), b)),
    op("scatter value", [x(4, 5), labels(3, 1, classes=5)], lambda a, i: a.scatter(1, i, 0.5)),
    op("scatter_add", [x(4, 5), labels(3, 6, classes=5), x(3, 6)], lambda a, i, b: a.scatter_add(1, i, b)),
    op("flip", [x(2, 3, 4)], lambda a: a.flip(0, 2)),
    op("roll", [x(3, 4)], lambda a: a.roll((1, -3), (0, 1))),
    op("norm fro", [x(3, 4)], lambda a: a.norm()),
    op("norm 2 dim", [x(3, 4)], lambda a: a.norm(2, dim=1)),
    op("norm 1", [away(3, 4)], lambda a: a.norm(1, dim=0)),
    op("norm 3", [away(3, 4)], lambda a: a.norm(3, dim=(0, 1))),
    op("norm inf", [away(3, 4)], lambda a: a.norm(float("inf"), dim=1)),
    op("normalize", [x(3, 4)], lambda a: F.normalize(a, dim=-1)),
    op("cosine_similarity", [x(3, 4, 2), x(4, 2)], F.cosine_similarity),
    op("sign", [away(3, 4)], lambda a: a.sign() * a),
    op("pad constant", [x(*IMAGE)], lambda a: F.pad(a, (1, 2, 0, 1), value=0.5)),
    op("pad reflect", [x(*IMAGE)], lambda a: F.pad(a, (2, 1, 1, 2), mode="reflect")),
    op("pad replicate", [x(*IMAGE)], lambda a: F.pad(a, (2, 1, 1, 2), mode="replicate")),
    op("pad circular", [x(*IMAGE)], lambda a: F.pad(a, (2, 1, 1, 2), mode="circular")),
    op("pixel_shuffle", [x(2, 8, 2, 3)], lambda a: F.pixel_shuffle(a, 2)),
    op("pixel_unshuffle", [x(2, 3, 4, 6)], lambda a: F.pixel_unshuffle(a, 2)),
    op("tril", [x(2, 3, 4)], lambda a: a.tril(1)),
    op("triu", [x(4, 3)], lambda a: a.triu(-1)),
    op("mT", [x(2, 3, 4)], lambda a: a.mT * 1.5),
]

LINALG = [
    op("matmul batched", [x(2, 3, 4), x(4, 5)], lambda a, b: a @ b),
    op("linear", [x(3, 4), x(5, 4), x(5)], F.linear),
    op("mm", [x(3, 4), x(4, 5)], lambda a, b: a.mm(b)),
    op("bmm", [x(2, 3, 4), x(2, 4, 5)], lambda a, b: a.bmm(b)),
    op("dot", [x(4), x(4)], lambda a, b: a.dot(b)),
    op("outer", [x(3), x(4)], lambda a, b: a.outer(b)),
    # W x^T; sums of 1024 products reach about 40 to 140, so float32 rounding walks to about 1e-4 (8e-5 at most
    # over 50 random draws with OpenBLAS's AVX2 kernels), past 1e-5 + 1e-5 |y| where y is small
    op("linear 1024 -> 256, big weight", [x(2, 1024), x(256, 1024), x(256)], F.linear, tolerance=(2e-4, 1e-5),
       directions=6),
]

# Convolution: direct (stride 1, up to 16 channels in and out), kernel rows (4 to 16 channels in, more than 16
# out, vertical stride 1), Winograd (stride 1, 16+ channels; 3x3: F(2x2,3x3) below 4x4 outputs, F(4x4,3x3) from
# 4x4; 5x5: F(4x4,5x5) up to 64 channels, F(2x2,5x5) above) and im2col (the rest, RGB input with more than 16
# output channels, and every conv on the GPU, through im2col/col2im kernels).
CONVOLUTIONS = [
    op("conv2d pad 1", [x(2, 3, 5, 5), x(4, 3, 3, 3), x(4)], lambda a, w, b: F.conv2d(a, w, b, padding=1),
       tolerance=(1e-5, 1e-4)),
    op("conv2d stride 2 pad 2", [x(2, 3, 7, 7), x(4, 3, 3, 3)], lambda a, w: F.conv2d(a, w, stride=2, padding=2),
       tolerance=(1e-5, 1e-4)),
    op("conv2d dilation 2", [x(2, 3, 7, 7), x(4, 3, 3, 3)], lambda a, w: F.conv2d(a, w, padding=1, dilation=2),
       tolerance=(1e-5, 1e-4)),
    op("conv2d groups 2", [x(2, 4, 5, 5), x(6, 2, 3, 3), x(6)], lambda a, w, b: F.conv2d(a, w, b, groups=2),
       tolerance=(1e-5, 1e-4)),
    op("conv2d 1x1 stride 2", [x(2, 3, 6, 6), x(4, 3, 1, 1)], lambda a, w: F.conv2d(a, w, stride=2)),
    op("conv2d rectangular", [x(2, 3, 6, 7), x(2, 3, 2, 3)],
       lambda a, w: F.conv2d(a, w, stride=(2, 1), padding=(1, 0)), tolerance=(1e-5, 1e-4)),
    op("conv2d 4 -> 17 channels", [x(2, 4, 5, 5), x(17, 4, 3, 3)], lambda a, w: F.conv2d(a, w, padding=1),
       tolerance=(1e-5, 1e-4), directions=12),
    op("conv2d 16 channels 3x3", [x(2, 16, 3, 3), x(4, 16, 3, 3)], lambda a, w: F.conv2d(a, w, padding=1),
       tolerance=(1e-4, 1e-4), directions=12),
    op("conv2d 16 channels 8x8", [x(2, 16, 8, 8), x(4, 16, 3, 3)], lambda a, w: F.conv2d(a, w, padding=1),
       tolerance=(1e-4, 1e-4), directions=12),
    op("conv2d 5x5 16 channels", [x(2, 16, 6, 6), x(4, 16, 5, 5)], lambda a, w: F.conv2d(a, w, padding=2),
       tolerance=(1e-4, 1e-4), directions=12),
    op("conv2d 5x5 72 channels", [x(1, 72, 4, 4), x(2, 72, 5, 5)], lambda a, w: F.conv2d(a, w, padding=2),
       tolerance=(1e-4, 1e-4), directions=12),
    op("conv_transpose2d stride 2 outpad 1", [x(2, 4, 3, 4), x(4, 3, 3, 3), x(3)],
       lambda a, w, b: F.conv_transpose2d(a, w, b, stride=2, padding=1, output_padding=1), tolerance=(1e-5, 1e-4)),
    op("conv_transpose2d groups, dilation", [x(2, 4, 3, 3), x(4, 3, 3, 3)],
       lambda a, w: F.conv_transpose2d(a, w, groups=2, dilation=2), tolerance=(1e-5, 1e-4)),
    op("conv_transpose2d 16 channels", [x(2, 16, 3, 3), x(16, 4, 3, 3)],
       lambda a, w: F.conv_transpose2d(a, w, padding=1), tolerance=(1e-4, 1e-4), directions=12),
]

# Pooling: overlapping windows (kernel 3, stride 2), ceil mode, padding, dilation, and a channels-last input (what
# a conv hands on).
POOLING = [
    op("max_pool2d 2x2", [x(*IMAGE)], lambda a: F.max_pool2d(a, 2)),
    op("max_pool2d overlapping", [x(2, 3, 7, 7)], lambda a: F.max_pool2d(a, 3, 2, 1)),
    op("max_pool2d ceil mode", [x(2, 3, 6, 6)], lambda a: F.max_pool2d(a, 3, 2, ceil_mode=True)),
    op("max_pool2d dilation", [x(2, 2, 7, 7)], lambda a: F.max_pool2d(a, 2, 1, dilation=2)),
    op("max_pool2d channels-last", [x(2, 3, 6, 6), x(4, 3, 1, 1)], lambda a, w: F.max_pool2d(F.conv2d(a, w), 3, 1)),
    op("avg_pool2d overlapping", [x(2, 3, 7, 7)], lambda a: F.avg_pool2d(a, 3, 2, 1)),
    op("avg_pool2d ceil, no pad count", [x(2, 3, 6, 6)],
       lambda a: F.avg_pool2d(a, 3, 2, 1, ceil_mode=True, count_include_pad=False)),
    op("avg_pool2d channels-last", [x(2, 3, 6, 6), x(4, 3, 1, 1)], lambda a, w: F.avg_pool2d(F.conv2d(a, w), 2)),
    op("adaptive_avg_pool2d", [x(2, 3, 7, 5)], lambda a: F.adaptive_avg_pool2d(a, (3, 2))),
    op("adaptive_max_pool2d", [x(2, 3, 7, 5)], lambda a: F.adaptive_max_pool2d(a, (3, 2))),
    op("interpolate nearest", [x(2, 3, 3, 4)], lambda a: F.interpolate(a, size=(7, 6))),
    op("interpolate bilinear", [x(2, 3, 3, 4)], lambda a: F.interpolate(a, scale_factor=1.5, mode="bilinear")),
    op("interpolate bilinear align_corners", [x(2, 3, 3, 4)],
       lambda a: F.interpolate(a, size=(5, 3), mode="bilinear", align_corners=True)),
]

LOSSES = [
    op("cross_entropy", [x(6, 5), labels(6, classes=5)], F.cross_entropy),
    op("cross_entropy weighted, smoothed", [x(6, 5), labels(6, classes=5)],
       lambda a, t: F.cross_entropy(a, t, weight=np.linspace(0.5, 2.0, 5), label_smoothing=0.2)),
    op("cross_entropy ignore_index", [x(6, 5), labels(6, classes=5)],
       lambda a, t: F.cross_entropy(a, t, ignore_index=0, reduction="sum")),
    op("cross_entropy soft targets", [x(6, 5), constant(6, 5, low=0.0, high=1.0)],
       lambda a, p: F.cross_entropy(a, p / p.sum(dim=1, keepdim=True))),
    op("cross_entropy spatial", [x(2, 4, 3, 3), labels(2, 3, 3, classes=4)],
       lambda a, t: F.cross_entropy(a, t, reduction="none")),
    op("nll_loss", [x(6, 5), labels(6, classes=5)], lambda a, t: F.nll_loss(a.log_softmax(dim=1), t)),
    op("mse_loss", [x(4, 5), constant(4, 5)], F.mse_loss),
    op("l1_loss", [x(4, 5), constant(4, 5)], F.l1_loss),
    op("smooth_l1_loss", [x(4, 5), x(4, 5)], lambda a, b: F.smooth_l1_loss(a, b, reduction="sum", beta=0.5)),
    op("huber_loss", [x(4, 5), constant(4, 5)], lambda a, t: F.huber_loss(a, t, reduction="none", delta=1.5)),
    op("binary_cross_entropy", [x(4, 5, low=0.05, high=0.95), x(4, 5, low=0.0, high=1.0)], F.binary_cross_entropy),
    op("binary_cross_entropy_with_logits", [x(4, 5), constant(4, 5, low=0.0, high=1.0), constant(5, low=0.5, high=3.0)],
       lambda a, t, p: F.binary_cross_entropy_with_logits(a, t, pos_weight=p)),
    op("kl_div batchmean", [x(4, 5), constant(4, 5, low=0.0, high=1.0)],
       lambda a, t: F.kl_div(a.log_softmax(dim=1), t / t.sum(dim=1, keepdim=True), reduction="batchmean")),
    layer("CrossEntropyLoss", [x(6, 5), labels(6, classes=5)], lambda: nn.CrossEntropyLoss(label_smoothing=0.1)),
    layer("NLLLoss", [x(6, 5), labels(6, classes=5)], lambda: nn.NLLLoss(), fn=lambda m, a, t: m(a.log_softmax(1), t)),
    layer("MSELoss", [x(4, 5), constant(4, 5)], lambda: nn.MSELoss(reduction="sum")),
    layer("L1Loss", [x(4, 5), constant(4, 5)], lambda: nn.L1Loss()),
    layer("SmoothL1Loss", [x(4, 5), constant(4, 5)], lambda: nn.SmoothL1Loss(beta=0.5)),
    layer("HuberLoss", [x(4, 5), constant(4, 5)], lambda: nn.HuberLoss(delta=1.5)),
    layer("BCELoss", [x(4, 5, low=0.05, high=0.95), constant(4, 5, low=0.0, high=1.0)], lambda: nn.BCELoss()),
    layer("BCEWithLogitsLoss", [x(4, 5), constant(4, 5, low=0.0, high=1.0)], lambda: nn.BCEWithLogitsLoss()),
    layer("KLDivLoss", [x(4, 5), constant(4, 5, low=0.1, high=1.0)], lambda: nn.KLDivLoss(reduction="batchmean"),
          fn=lambda m, a, t: m(a.log_softmax(1), t / t.sum(dim=1, keepdim=True))),
]

# BatchNorm divides by the batch's spread: with few values per channel that amplifies float32 rounding.
LAYERS = [
    layer("Linear", [x(3, 4)], lambda: nn.Linear(4, 5)),
    layer("Conv2d", [x(2, 3, 6, 6)], lambda: nn.Conv2d(3, 4, 3, stride=2, padding=1), tolerance=(1e-5, 1e-4)),
    layer("ConvTranspose2d", [x(2, 4, 3, 3)], lambda: nn.ConvTranspose2d(4, 3, 4, stride=2, padding=1),
          tolerance=(1e-5, 1e-4)),
    layer("Embedding", [labels(2, 3, classes=6)], lambda: nn.Embedding(6, 4)),
    op("embedding", [labels(2, 3, classes=6), x(6, 4)], F.embedding),
    layer("BatchNorm2d train", [x(4, 3, 3, 3)], lambda: nn.BatchNorm2d(3), tolerance=(1e-4, 1e-4)),
    layer("BatchNorm2d eval", [x(4, 3, 3, 3)], lambda: _with_statistics(nn.BatchNorm2d(3)).eval()),
    layer("BatchNorm2d channels-last", [x(4, 3, 4, 4), x(5, 3, 1, 1)], lambda: nn.BatchNorm2d(5),
          fn=lambda m, a, w: m(F.conv2d(a, w)), tolerance=(1e-4, 1e-4)),
    layer("BatchNorm1d", [x(6, 4)], lambda: nn.BatchNorm1d(4), tolerance=(1e-4, 1e-4)),
    layer("GroupNorm", [x(2, 6, 3, 3)], lambda: nn.GroupNorm(3, 6)),
    layer("GroupNorm a group per channel", [x(2, 4, 3, 3)], lambda: nn.GroupNorm(4, 4)),
    op("group_norm", [x(2, 4, 3, 3), x(4), x(4)], lambda a, w, b: F.group_norm(a, 1, w, b)),
    layer("InstanceNorm2d", [x(2, 3, 4, 4)], lambda: nn.InstanceNorm2d(3, affine=True)),
    op("instance_norm", [x(2, 3, 4, 4), x(3), x(3)], lambda a, w, b: F.instance_norm(a, weight=w, bias=b)),
    layer("LayerNorm", [x(3, 5, 6)], lambda: nn.LayerNorm(6)),
    layer("LayerNorm over C, H, W", [x(2, 3, 3, 3)], lambda: nn.LayerNorm((3, 3, 3))),
    op("layer_norm", [x(2, 5, 6), x(5, 6), x(5, 6)], lambda a, w, b: F.layer_norm(a, (5, 6), w, b)),
    layer("MaxPool2d", [x(2, 3, 7, 7)], lambda: nn.MaxPool2d(3, 2, ceil_mode=True)),
    layer("AvgPool2d", [x(2, 3, 7, 7)], lambda: nn.AvgPool2d(3, 2, padding=1)),
    layer("AdaptiveAvgPool2d", [x(2, 3, 5, 5)], lambda: nn.AdaptiveAvgPool2d(1)),
    layer("AdaptiveMaxPool2d", [x(2, 3, 5, 5)], lambda: nn.AdaptiveMaxPool2d(1)),
    layer("Upsample", [x(2, 3, 3, 3)], lambda: nn.Upsample(scale_factor=2)),
    layer("UpsamplingBilinear2d", [x(2, 3, 3, 3)], lambda: nn.UpsamplingBilinear2d(scale_factor=2)),
    layer("Flatten", [x(2, 3, 2, 2)], lambda: nn.Flatten()),
    layer("Unflatten", [x(2, 12)], lambda: nn.Unflatten(1, (3, -1))),
    layer("PixelShuffle", [x(2, 8, 2, 3)], lambda: nn.PixelShuffle(2)),
    layer("PixelUnshuffle", [x(2, 3, 4, 6)], lambda: nn.PixelUnshuffle(2)),
    layer("ZeroPad2d", [x(*IMAGE)], lambda: nn.ZeroPad2d((1, 2, 0, 1))),
    layer("ConstantPad2d", [x(*IMAGE)], lambda: nn.ConstantPad2d(1, 0.5)),
    layer("ReflectionPad2d", [x(*IMAGE)], lambda: nn.ReflectionPad2d((2, 1, 1, 2))),
    layer("ReplicationPad2d", [x(*IMAGE)], lambda: nn.ReplicationPad2d(2)),
    layer("ReLU", [away(3, 4)], lambda: nn.ReLU()),
    layer("LeakyReLU", [away(3, 4)], lambda: nn.LeakyReLU(0.2)),
    layer("PReLU", [away(2, 3, 4)], lambda: nn.PReLU(3)),
    op("prelu", [away(2, 3, 4), x(1)], F.prelu),
    layer("GELU", [x(3, 4)], lambda: nn.GELU()),
    layer("SiLU", [x(3, 4)], lambda: nn.SiLU()),
    layer("Mish", [x(3, 4)], lambda: nn.Mish()),
    layer("ELU", [away(3, 4)], lambda: nn.ELU(0.5)),
    layer("ReLU6", [away(3, 4)], lambda: nn.ReLU6(), fn=lambda m, a: m(a * 4)),
    layer("Hardtanh", [x(3, 4)], lambda: nn.Hardtanh(-1.5, 2.5), fn=lambda m, a: m(a * 2)),
    layer("Hardsigmoid", [x(3, 4)], lambda: nn.Hardsigmoid(), fn=lambda m, a: m(a * 2)),
    layer("Hardswish", [x(3, 4)], lambda: nn.Hardswish(), fn=lambda m, a: m(a * 2)),
    layer("Softplus", [x(3, 4)], lambda: nn.Softplus(beta=2.0)),
    layer("Sigmoid", [x(3, 4)], lambda: nn.Sigmoid()),
    layer("Tanh", [x(3, 4)], lambda: nn.Tanh()),
    layer("Softmax", [x(3, 4)], lambda: nn.Softmax(dim=1)),
    layer("LogSoftmax", [x(3, 4)], lambda: nn.LogSoftmax(dim=1)),
    layer("Sequential conv-bn-relu-pool", [x(4, 3, 8, 8)],
          lambda: nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2)),
          tolerance=(1e-4, 1e-3), directions=12),
]

MODELS = [model("softmax"), model("mlp_final"), model("cnn3", batch=4), model("lenet"),
          model("resnet10", batch=4), model("resnet9", batch=4)]

OPTIMIZERS = [
    OptimizerStep("SGD", lambda p: optim.SGD(p, lr=0.1)),
    OptimizerStep("SGD momentum, weight decay", lambda p: optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=5e-4,
                                                                    dampening=0.1)),
    OptimizerStep("SGD nesterov", lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)),
    OptimizerStep("Adam", lambda p: optim.Adam(p, lr=1e-2, weight_decay=1e-2)),
    OptimizerStep("Adam amsgrad", lambda p: optim.Adam(p, lr=1e-2, amsgrad=True)),
    OptimizerStep("AdamW", lambda p: optim.AdamW(p, lr=1e-2, weight_decay=1e-2)),
    # its momentum buffer sums steps g / sqrt(v) of about 10 each: float32 leaves ~2e-6 where they cancel
    OptimizerStep("RMSprop momentum, weight decay", lambda p: optim.RMSprop(p, momentum=0.9, weight_decay=5e-4),
                  tolerance=(1e-5, 1e-5)),
    OptimizerStep("RMSprop centered", lambda p: optim.RMSprop(p, centered=True)),
    OptimizerStep("Adagrad", lambda p: optim.Adagrad(p, lr_decay=1e-2, weight_decay=5e-4)),
]

DROPOUT = [
    DropoutMask("Dropout", lambda: nn.Dropout(0.3), 0.3),
    DropoutMask("Dropout2d", lambda: nn.Dropout2d(0.25), 0.25, block=True),
]


# ---------------------------------------------------------------------------- augmentation, one image at a time
def crop_reference(transform, batch, corners):
    p, (height, width) = transform.padding, transform.size
    padded = [np.pad(image, ((0, 0), (p, p), (p, p)), mode=transform.padding_mode) for image in batch]
    return np.stack([image[:, i:i + height, j:j + width] for image, (i, j) in zip(padded, corners)])


def flip_reference(transform, batch, flips):
    return np.stack([image[:, :, ::-1] if flip else image for image, flip in zip(batch, flips)])


def cutout_reference(transform, batch, centres):
    out = batch.copy()
    for image, (row, col) in zip(out, centres):
        top, left = row - transform.size // 2, col - transform.size // 2
        image[:, max(top, 0):top + transform.size, max(left, 0):left + transform.size] = 0
    return out


def normalize_reference(transform, batch, params):
    images = batch / 255 if batch.dtype == np.uint8 else batch.astype(np.float64)
    mean, std = (np.array(v).reshape(-1, 1, 1) for v in (transform.mean, transform.std))
    return np.stack([(image - mean) / std for image in images]).astype(np.float32)


def vertical_flip_reference(transform, batch, flips):
    return np.stack([image[:, ::-1] if flip else image for image, flip in zip(batch, flips)])


def center_crop_reference(transform, batch, params):
    (height, width), (crop_height, crop_width) = batch.shape[2:], transform.size
    top, left = int(round((height - crop_height) / 2)), int(round((width - crop_width) / 2))
    return np.stack([image[:, top:top + crop_height, left:left + crop_width] for image in batch])


def grayscale_reference(transform, batch, chosen):
    red, green, blue = (np.float32(w) * batch[:, c].astype(np.float32) for c, w in enumerate(color.GRAY_WEIGHTS))
    gray = np.repeat((red + green + blue).astype(np.uint8)[:, None], 3, axis=1)
    return np.stack([g if pick else image for image, g, pick in zip(batch, gray, chosen)])


def erasing_reference(transform, batch, params):
    out = batch.copy()
    for n, (top, left), (height, width) in zip(*params[:3]):
        out[n, :, top:top + height, left:left + width] = np.reshape(transform.value, (-1, 1, 1))
    return out


def jitter_reference(transform, batch, params):
    orders, factors = params
    out = []
    for n, image in enumerate(batch):
        for k in orders[n]:
            if factors[k] is not None:
                image = transform.ADJUSTMENTS[k](image[None], factors[k][n:n + 1])[0]
        out.append(image)
    return np.stack(out)


AUGMENTATIONS = [
    Augmentation("RandomCrop zeros", T.RandomCrop(12, padding=4), crop_reference),
    Augmentation("RandomCrop reflect", T.RandomCrop((10, 12), padding=3, padding_mode="reflect"), crop_reference),
    Augmentation("RandomHorizontalFlip", T.RandomHorizontalFlip(), flip_reference),
    Augmentation("Cutout", T.Cutout(5), cutout_reference),
    Augmentation("RandomVerticalFlip", T.RandomVerticalFlip(), vertical_flip_reference),
    Augmentation("CenterCrop", T.CenterCrop((7, 10)), center_crop_reference),
    Augmentation("RandomGrayscale", color.RandomGrayscale(0.5), grayscale_reference),
    Augmentation("RandomErasing", T.RandomErasing(0.7, value=(10, 20, 30)), erasing_reference),
    # a GPU may sum the grey's mean in another order: a pixel may then land one level off
    Augmentation("ColorJitter", color.ColorJitter(0.4, 0.4, 0.4, 0.1), jitter_reference, tolerance=(1.0, 0.0)),
    Augmentation("Normalize", T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD), normalize_reference,
                 tolerance=(1e-6, 1e-6)),
    Augmentation("Compose crop-flip-cutout-normalize",
                 T.Compose([T.RandomCrop(12, 4, "reflect"), T.RandomHorizontalFlip(), T.Cutout(4),
                            T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)]),
                 [crop_reference, flip_reference, cutout_reference, normalize_reference], tolerance=(1e-6, 1e-6)),
]


def _with_statistics(bn):
    """A BatchNorm layer with running statistics other than the initial 0 and 1."""
    rng = np.random.default_rng(2)
    bn.running_mean.array[...] = rng.uniform(-1, 1, bn.running_mean.shape)
    bn.running_var.array[...] = rng.uniform(0.5, 2, bn.running_var.shape)
    return bn


CASES = (ELEMENTWISE + REDUCTIONS + SHAPES + LINALG + CONVOLUTIONS + POOLING + LOSSES + LAYERS + MODELS + OPTIMIZERS
         + DROPOUT + AUGMENTATIONS)
