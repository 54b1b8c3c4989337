"""Every differentiable op: a float64 numeric gradient check, and forward + gradient parity with PyTorch.

One table drives both checks. Shapes exercise broadcasting and axes; input ranges keep away from
kinks (relu, abs at 0) and from the edges of a function's domain (log, sqrt near 0).
"""
import os
import threading
import time

import numpy as np
import pytest

import minitorch_cifar as mt
import minitorch_cifar.nn.functional as F
from minitorch_cifar.kernels import workers
from minitorch_cifar.testing import gradcheck
from helpers import check_against_torch, torch

pytestmark = pytest.mark.usefixtures("kernels")  # each test runs with the fast and the reference kernels

TF = torch.nn.functional


def away_from_zero(shape, rng):
    """Uniform values with |x| in [0.2, 2]: differentiable for relu, abs, leaky_relu, clamp at 0."""
    return rng.uniform(0.2, 2.0, shape) * rng.choice([-1.0, 1.0], shape)


def distinct(shape, rng):
    """Distinct values (a shuffled grid), so that max/min have no ties."""
    n = int(np.prod(shape))
    return (rng.permutation(n).reshape(shape) - n / 2) / n * 4.0


def positive(shape, rng):
    return rng.uniform(0.5, 2.0, shape)


def off_integers(shape, rng):
    """Values in [-8, 8) at least 0.1 from every integer: clear of the kinks of relu6, hardtanh, hardswish..."""
    return rng.integers(-8, 8, shape) + rng.uniform(0.1, 0.9, shape)


def probabilities(shape, rng):
    return rng.uniform(0.05, 0.95, shape)


def signs(shape, rng):
    """-1 or 1: a divisor by which off_integers' values stay clear of the jumps of % and fmod."""
    return rng.choice([-1.0, 1.0], shape)


def with_zeros(shape, rng):
    """Uniform values with one 0 in the first row and two in the second (products with a zero factor)."""
    values = rng.uniform(-2, 2, shape)
    values[0, 1] = values[1, 0] = values[1, 2] = 0.0
    return values


# name: (ours, theirs, input makers or shapes)
OPS = {
    "add_broadcast": (lambda a, b: a + b, lambda a, b: a + b, [(3, 4), (4,)]),
    "add_scalar": (lambda a: 2.5 + a, lambda a: 2.5 + a, [(3, 4)]),
    "sub_broadcast": (lambda a, b: a - b, lambda a, b: a - b, [(2, 3, 4), (3, 1)]),
    "rsub": (lambda a: 1.0 - a, lambda a: 1.0 - a, [(5,)]),
    "mul_broadcast": (lambda a, b: a * b, lambda a, b: a * b, [(2, 1, 4), (3, 1)]),
    "mul_self": (lambda a: a * a, lambda a: a * a, [(3, 3)]),
    "div": (lambda a, b: a / b, lambda a, b: a / b, [(3, 4), positive]),
    "rdiv": (lambda a: 3.0 / a, lambda a: 3.0 / a, [positive]),
    "neg": (lambda a: -a, lambda a: -a, [(3, 4)]),
    "pow_scalar": (lambda a: a ** 3, lambda a: a ** 3, [(3, 4)]),
    "pow_half": (lambda a: a ** 0.5, lambda a: a ** 0.5, [positive]),
    "pow_tensor": (lambda a, b: a ** b, lambda a, b: a ** b, [positive, (3, 4)]),
    "rpow": (lambda a: 2.0 ** a, lambda a: 2.0 ** a, [(3, 4)]),
    "matmul_2d": (lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4, 5)]),
    "matmul_batched_broadcast": (lambda a, b: a @ b, lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    "matmul_vector": (lambda a, b: a @ b, lambda a, b: a @ b, [(4,), (2, 4, 3)]),
    "matmul_matrix_vector": (lambda a, b: a @ b, lambda a, b: a @ b, [(3, 4), (4,)]),
    "exp": (lambda a: a.exp(), torch.exp, [(3, 4)]),
    "log": (lambda a: a.log(), torch.log, [positive]),
    "sqrt": (lambda a: a.sqrt(), torch.sqrt, [positive]),
    "abs": (lambda a: a.abs(), torch.abs, [away_from_zero]),
    "tanh": (lambda a: a.tanh(), torch.tanh, [(3, 4)]),
    "sigmoid": (lambda a: a.sigmoid(), torch.sigmoid, [(3, 4)]),
    "relu": (lambda a: F.relu(a), TF.relu, [away_from_zero]),
    "leaky_relu": (lambda a: F.leaky_relu(a, 0.1), lambda a: TF.leaky_relu(a, 0.1), [away_from_zero]),
    "gelu": (lambda a: F.gelu(a), TF.gelu, [(3, 4)]),
    "gelu_tanh": (lambda a: F.gelu(a, "tanh"), lambda a: TF.gelu(a, approximate="tanh"), [(3, 4)]),
    "silu": (F.silu, TF.silu, [off_integers]),
    "mish": (F.mish, TF.mish, [off_integers]),
    "elu_alpha": (lambda a: F.elu(a, 0.5), lambda a: TF.elu(a, 0.5), [off_integers]),
    "hardtanh": (lambda a: F.hardtanh(a, -2.0, 3.0), lambda a: TF.hardtanh(a, -2.0, 3.0), [off_integers]),
    "relu6": (F.relu6, TF.relu6, [off_integers]),
    "hardsigmoid": (F.hardsigmoid, TF.hardsigmoid, [off_integers]),
    "hardswish": (F.hardswish, TF.hardswish, [off_integers]),
    "softplus": (F.softplus, TF.softplus, [off_integers]),
    "softplus_beta_threshold": (lambda a: F.softplus(a, 2.0, 4.0), lambda a: TF.softplus(a, 2.0, 4.0), [off_integers]),
    "softmax": (lambda a: a.softmax(1), lambda a: a.softmax(1), [(3, 5)]),
    "softmax_dim0": (lambda a: F.softmax(a, 0), lambda a: TF.softmax(a, 0), [(3, 5, 2)]),
    "log_softmax": (lambda a: a.log_softmax(-1), lambda a: a.log_softmax(-1), [(3, 5)]),
    "sum_all": (lambda a: a.sum(), torch.sum, [(3, 4)]),
    "sum_axis_keepdim": (lambda a: a.sum(1, keepdim=True), lambda a: a.sum(1, keepdim=True), [(2, 3, 4)]),
    "sum_axes_tuple": (lambda a: a.sum(axis=(0, 2)), lambda a: a.sum((0, 2)), [(2, 3, 4)]),
    "mean_all": (lambda a: a.mean(), torch.mean, [(3, 4)]),
    "mean_axis": (lambda a: a.mean(-1), lambda a: a.mean(-1), [(2, 3, 4)]),
    "mean_axes_keepdims": (lambda a: a.mean(axis=(0, 1), keepdims=True), lambda a: a.mean((0, 1), keepdim=True),
                           [(2, 3, 4)]),
    "var_unbiased": (lambda a: a.var(1), lambda a: a.var(1), [(3, 5)]),
    "var_biased_tuple": (lambda a: a.var((0, 2), unbiased=False, keepdim=True),
                         lambda a: a.var((0, 2), unbiased=False, keepdim=True), [(2, 3, 4)]),
    "std": (lambda a: a.std(0), lambda a: a.std(0), [(4, 3)]),
    "max_all": (lambda a: a.max(), torch.max, [distinct]),
    "max_dim_values": (lambda a: a.max(1).values, lambda a: a.max(1).values, [distinct]),
    "min_dim_keepdim": (lambda a: a.min(0, keepdim=True)[0], lambda a: a.min(0, keepdim=True)[0], [distinct]),
    "amax_tuple": (lambda a: a.amax((0, 2)), lambda a: a.amax((0, 2)), [lambda s, r: distinct((2, 3, 4), r)]),
    "reshape": (lambda a: a.reshape(4, 3) * 1.5, lambda a: a.reshape(4, 3) * 1.5, [(3, 4)]),
    "view_infer": (lambda a: a.view(-1, 2), lambda a: a.view(-1, 2), [(3, 4)]),
    "flatten": (lambda a: a.flatten(1), lambda a: a.flatten(1), [(2, 3, 4)]),
    "transpose": (lambda a: a.transpose(0, 2), lambda a: a.transpose(0, 2), [(2, 3, 4)]),
    "permute": (lambda a: a.permute(2, 0, 1), lambda a: a.permute(2, 0, 1), [(2, 3, 4)]),
    "T": (lambda a: a.T @ a, lambda a: a.T @ a, [(3, 4)]),
    "unsqueeze": (lambda a: a.unsqueeze(1) * a.unsqueeze(0), lambda a: a.unsqueeze(1) * a.unsqueeze(0), [(3,)]),
    "squeeze": (lambda a: a.squeeze(1), lambda a: a.squeeze(1), [(3, 1, 2)]),
    "expand": (lambda a: a.expand(2, 3, 4), lambda a: a.expand(2, 3, 4), [(3, 1)]),
    "index_int_slice": (lambda a: a[1, 1:3], lambda a: a[1, 1:3], [(3, 4)]),
    "index_negative_step": (lambda a: a[::-1, ::2], lambda a: a.flip(0)[:, ::2], [(3, 4)]),
    "index_int_array_repeats": (lambda a: a[[0, 2, 0, 0]], lambda a: a[[0, 2, 0, 0]], [(3, 4)]),
    "index_two_arrays": (lambda a: a[[0, 1, 1], [2, 0, 2]], lambda a: a[[0, 1, 1], [2, 0, 2]], [(3, 4)]),
    "index_bool_mask": (lambda a: a[a.detach() > 0], lambda a: a[a.detach() > 0], [away_from_zero]),
    "cat": (lambda a, b: mt.cat([a, b, a], 1), lambda a, b: torch.cat([a, b, a], 1), [(2, 3), (2, 1)]),
    "stack": (lambda a, b: mt.stack([a, b], -1), lambda a, b: torch.stack([a, b], -1), [(2, 3), (2, 3)]),
    "split_sections": (lambda a: mt.cat(a.split([1, 3], 1)[::-1], 1), lambda a: torch.cat(a.split([1, 3], 1)[::-1], 1),
                       [(3, 4)]),
    "chunk_uneven": (lambda a: mt.cat(mt.chunk(a, 3)[::-1]), lambda a: torch.cat(a.chunk(3)[::-1]), [(5, 2)]),
    "unbind": (lambda a: mt.stack(a.unbind(1)[::-1]), lambda a: torch.stack(a.unbind(1)[::-1]), [(3, 4)]),
    "index_select_repeats": (lambda a: a.index_select(1, mt.tensor([3, 0, 3], device=a.device)),
                             lambda a: a.index_select(1, torch.tensor([3, 0, 3])), [(3, 4)]),
    "gather_repeats": (lambda a: mt.gather(a, 1, mt.tensor([[0, 2, 2], [3, 0, 3]], device=a.device)),
                       lambda a: torch.gather(a, 1, torch.tensor([[0, 2, 2], [3, 0, 3]])), [(3, 4)]),
    "scatter_src": (lambda a, b: a.scatter(1, mt.tensor([[0, 2, 1], [3, 0, 2]], device=a.device), b),
                    lambda a, b: a.scatter(1, torch.tensor([[0, 2, 1], [3, 0, 2]]), b), [(3, 4), (2, 3)]),
    "scatter_value": (lambda a: a.scatter(0, mt.tensor([[2, 0, 1, 2]], device=a.device), 0.5),
                      lambda a: a.scatter(0, torch.tensor([[2, 0, 1, 2]]), 0.5), [(3, 4)]),
    "scatter_add_repeats": (lambda a, b: a.scatter_add(0, mt.tensor([[2, 0, 2], [2, 1, 0]], device=a.device), b),
                            lambda a, b: a.scatter_add(0, torch.tensor([[2, 0, 2], [2, 1, 0]]), b), [(3, 4), (2, 3)]),
    "flip": (lambda a: a.flip((0, 2)), lambda a: a.flip((0, 2)), [(2, 3, 4)]),
    "roll": (lambda a: a.roll((1, -3), (0, 1)), lambda a: a.roll((1, -3), (0, 1)), [(3, 4)]),
    "roll_flattened": (lambda a: mt.roll(a, 5), lambda a: torch.roll(a, 5), [(3, 4)]),
    "norm_fro": (lambda a: mt.norm(a), torch.norm, [(3, 4)]),
    "norm_2_dim_keepdim": (lambda a: a.norm(2, 1, keepdim=True), lambda a: a.norm(2, 1, keepdim=True), [(3, 4)]),
    "norm_1_dims": (lambda a: a.norm(1, (0, 2)), lambda a: a.norm(1, (0, 2)),
                    [lambda s, r: away_from_zero((2, 3, 4), r)]),
    "norm_3": (lambda a: a.norm(3, -1), lambda a: a.norm(3, -1), [away_from_zero]),
    "norm_inf": (lambda a: a.norm(float("inf"), 0), lambda a: a.norm(float("inf"), 0), [away_from_zero]),
    "sign": (lambda a: a.sign() * a, lambda a: a.sign() * a, [away_from_zero]),
    "pad_constant": (lambda a: mt.pad(a, (1, 2, 0, 1), value=0.5), lambda a: TF.pad(a, (1, 2, 0, 1), value=0.5),
                     [(2, 3, 4)]),
    "pad_reflect": (lambda a: mt.pad(a, (2, 1, 1, 2), mode="reflect"),
                    lambda a: TF.pad(a, (2, 1, 1, 2), mode="reflect"), [(1, 2, 4, 5)]),
    "pad_replicate": (lambda a: mt.pad(a, (2, 1), mode="replicate"), lambda a: TF.pad(a, (2, 1), mode="replicate"),
                      [(2, 3, 4)]),
    "pad_circular": (lambda a: mt.pad(a, (1, 2, 2, 1), mode="circular"),
                     lambda a: TF.pad(a, (1, 2, 2, 1), mode="circular"), [(1, 2, 3, 4)]),
    "pixel_shuffle": (lambda a: F.pixel_shuffle(a, 2), lambda a: TF.pixel_shuffle(a, 2), [(2, 8, 2, 3)]),
    "pixel_unshuffle": (lambda a: F.pixel_unshuffle(a, 2), lambda a: TF.pixel_unshuffle(a, 2), [(2, 3, 4, 6)]),
    "prelu": (F.prelu, TF.prelu, [lambda s, r: away_from_zero((2, 3, 4), r), (3,)]),
    "prelu_one_slope": (F.prelu, TF.prelu, [lambda s, r: away_from_zero((2, 3, 2, 2), r), (1,)]),
    "instance_norm": (lambda a, w, b: F.instance_norm(a, weight=w, bias=b),
                      lambda a, w, b: TF.instance_norm(a, weight=w, bias=b), [(2, 3, 4, 5), (3,), (3,)]),
    "normalize": (lambda a: F.normalize(a, dim=-1), lambda a: TF.normalize(a, dim=-1), [(3, 4)]),
    "normalize_p1": (lambda a: F.normalize(a, 1.0, 0), lambda a: TF.normalize(a, 1.0, 0), [away_from_zero]),
    "cosine_similarity": (F.cosine_similarity, TF.cosine_similarity, [(3, 4, 2), (4, 2)]),
    "where": (lambda a, b: mt.where(a.detach() > 0, a, b), lambda a, b: torch.where(a > 0, a, b), [(3, 4), (4,)]),
    "clamp": (lambda a: a.clamp(-1.0, 1.0), lambda a: a.clamp(-1.0, 1.0), [(4, 5)]),
    "clamp_min": (lambda a: a.clamp(min=0.5), lambda a: a.clamp(min=0.5), [(4, 5)]),
    "maximum": (lambda a, b: mt.maximum(a, b), torch.maximum, [(3, 4), (4,)]),
    "minimum": (lambda a, b: mt.minimum(a, b), torch.minimum, [(3, 4), (3, 1)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), TF.linear, [(2, 3, 4), (5, 4), (5,)]),
    "mse_loss": (lambda a, b: F.mse_loss(a, b), TF.mse_loss, [(3, 4), (3, 4)]),
    "mse_loss_sum": (lambda a, b: F.mse_loss(a, b, reduction="sum"), lambda a, b: TF.mse_loss(a, b, reduction="sum"),
                     [(3, 4), (3, 4)]),
    "l1_loss": (F.l1_loss, TF.l1_loss, [(3, 4), (3, 4)]),
    "smooth_l1_loss": (lambda a, b: F.smooth_l1_loss(a, b, beta=0.5), lambda a, b: TF.smooth_l1_loss(a, b, beta=0.5),
                       [(3, 4), (3, 4)]),
    "huber_loss": (lambda a, b: F.huber_loss(a, b, delta=1.5), lambda a, b: TF.huber_loss(a, b, delta=1.5),
                   [(3, 4), (3, 4)]),
    "binary_cross_entropy": (F.binary_cross_entropy, TF.binary_cross_entropy, [probabilities, probabilities]),
    "bce_with_logits": (F.binary_cross_entropy_with_logits, TF.binary_cross_entropy_with_logits,
                        [off_integers, probabilities]),
    "kl_div_batchmean": (lambda a, t: F.kl_div(a, t, reduction="batchmean"),
                         lambda a, t: TF.kl_div(a, t, reduction="batchmean"), [(3, 4), probabilities]),
    "kl_div_log_target": (lambda a, t: F.kl_div(a, t, reduction="sum", log_target=True),
                          lambda a, t: TF.kl_div(a, t, reduction="sum", log_target=True), [(3, 4), (3, 4)]),
    "remainder": (lambda a, b: a % b, lambda a, b: a % b, [off_integers, signs]),
    "fmod": (lambda a, b: mt.fmod(a, b), torch.fmod, [off_integers, signs]),
    "sort": (lambda a: a.sort(1).values, lambda a: a.sort(1).values, [distinct]),
    "sort_descending_dim0": (lambda a: mt.sort(a, 0, descending=True)[0],
                             lambda a: torch.sort(a, 0, descending=True)[0], [distinct]),
    "cumsum": (lambda a: a.cumsum(1), lambda a: a.cumsum(1), [(2, 3, 4)]),
    "cumsum_dim0": (lambda a: mt.cumsum(a, dim=-3), lambda a: torch.cumsum(a, dim=-3), [(2, 3, 4)]),
    "prod_with_zeros": (lambda a: a.prod(1), lambda a: a.prod(1), [with_zeros]),
    "prod_all_keepdim": (lambda a: a.prod() + a.prod(0, keepdim=True), lambda a: a.prod() + a.prod(0, keepdim=True),
                         [positive]),
    "logsumexp": (lambda a: a.logsumexp(1), lambda a: a.logsumexp(1), [(3, 4)]),
    "logsumexp_dims_keepdim": (lambda a: mt.logsumexp(a, (0, 2), keepdim=True),
                               lambda a: torch.logsumexp(a, (0, 2), keepdim=True), [(2, 3, 4)]),
    "masked_select_broadcast": (lambda a: a.masked_select(mt.tensor([True, False, True, True], device=a.device)),
                                lambda a: a.masked_select(torch.tensor([True, False, True, True])), [(3, 4)]),
    "repeat_interleave": (lambda a: a.repeat_interleave(2, 1), lambda a: a.repeat_interleave(2, 1), [(3, 4)]),
    "repeat_interleave_counts": (lambda a: mt.repeat_interleave(a, mt.tensor([2, 0, 1], device=a.device)),
                                 lambda a: torch.repeat_interleave(a, torch.tensor([2, 0, 1])), [(3,)]),
    "square": (lambda a: a.square(), torch.square, [(3, 4)]),
    "rsqrt": (lambda a: mt.rsqrt(a), torch.rsqrt, [positive]),
    "reciprocal": (lambda a: a.reciprocal(), torch.reciprocal, [away_from_zero]),
    "erf": (lambda a: mt.erf(a), torch.erf, [(3, 4)]),
    "lerp": (lambda a, b, w: a.lerp(b, w), torch.lerp, [(3, 4), (3, 4), (4,)]),
    "lerp_number": (lambda a, b: mt.lerp(a, b, 0.3), lambda a, b: torch.lerp(a, b, 0.3), [(3, 4), (3, 1)]),
    "addcmul": (lambda a, b, c: mt.addcmul(a, b, c, value=0.5), lambda a, b, c: torch.addcmul(a, b, c, value=0.5),
                [(3, 4), (4,), (3, 1)]),
    "addcdiv": (lambda a, b, c: a.addcdiv(b, c, value=-2), lambda a, b, c: a.addcdiv(b, c, value=-2),
                [(3, 4), (3, 4), positive]),
    "mm": (lambda a, b: mt.mm(a, b), torch.mm, [(3, 4), (4, 2)]),
    "bmm": (lambda a, b: a.bmm(b), torch.bmm, [(2, 3, 4), (2, 4, 5)]),
    "dot": (lambda a, b: mt.dot(a, b), torch.dot, [(4,), (4,)]),
    "outer": (lambda a, b: mt.outer(a, b), torch.outer, [(3,), (4,)]),
    "tril": (lambda a: a.tril(), lambda a: a.tril(), [(2, 3, 4)]),
    "triu_diagonal": (lambda a: mt.triu(a, 1) + mt.tril(a, -2), lambda a: torch.triu(a, 1) + torch.tril(a, -2),
                      [(4, 3)]),
    "mT": (lambda a: a.mT * 1.5, lambda a: a.mT * 1.5, [(2, 3, 4)]),
}


def specs_for(makers, rng):
    """A maker is a shape, or a function (shape, rng) -> array called with shape (3, 4)."""
    return [m if isinstance(m, tuple) else np.asarray(m((3, 4), rng), dtype=np.float64) for m in makers]


@pytest.mark.parametrize("name", sorted(OPS))
def test_gradient_is_numerically_right(name, device):
    ours, _, makers = OPS[name]
    rng = np.random.default_rng(1)
    arrays = [rng.uniform(-2, 2, s) if isinstance(s, tuple) else s for s in specs_for(makers, rng)]
    inputs = [mt.Tensor(a, device=device, requires_grad=True) for a in arrays]
    assert gradcheck(ours, inputs)


@pytest.mark.parametrize("name", sorted(OPS))
def test_matches_torch(name, device):
    ours, theirs, makers = OPS[name]
    check_against_torch(specs_for(makers, np.random.default_rng(2)), ours, theirs, device=device)


@pytest.mark.parametrize("name", ["add_broadcast", "matmul_batched_broadcast", "softmax", "log_softmax", "gelu",
                                  "var_unbiased", "linear", "sigmoid"])
def test_float32_forward_and_gradients_stay_float32(name, device):
    ours, theirs, makers = OPS[name]
    out = check_against_torch(specs_for(makers, np.random.default_rng(3)), ours, theirs, device=device,
                              dtype=np.float32, rtol=1e-5, atol=1e-6)
    assert out.dtype == np.float32


# ----------------------------------------------------------------------------- losses
N, C = 6, 5
LABELS = np.array([0, 3, 4, 1, 3, 2])
CLASS_WEIGHT = np.array([0.5, 1.0, 2.0, 1.5, 0.7])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_matches_torch(reduction, smoothing, weighted, device):
    w = CLASS_WEIGHT if weighted else None

    def ours(x, t):
        return F.cross_entropy(x, t, weight=None if w is None else mt.Tensor(w, device=device), reduction=reduction,
                               label_smoothing=smoothing)

    def theirs(x, t):
        return TF.cross_entropy(x, t, weight=None if w is None else torch.tensor(w), reduction=reduction,
                                label_smoothing=smoothing)

    check_against_torch([(N, C), LABELS], ours, theirs, device=device)


def test_cross_entropy_ignore_index_and_spatial_input(device):
    labels = np.array([[0, -100, 2], [1, 1, -100]])
    check_against_torch([(2, 3, 3), labels], lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1),
                        lambda x, t: TF.cross_entropy(x, t, label_smoothing=0.1), device=device)


def test_cross_entropy_with_probability_targets(device, rng):
    probs = rng.dirichlet(np.ones(C), size=N)
    check_against_torch([(N, C)], lambda x: F.cross_entropy(x, mt.Tensor(probs, device=device), label_smoothing=0.1),
                        lambda x: TF.cross_entropy(x, torch.tensor(probs), label_smoothing=0.1), device=device)


@pytest.mark.parametrize("weighted", [False, True])
def test_nll_loss_matches_torch(weighted, device):
    w = CLASS_WEIGHT if weighted else None
    check_against_torch(
        [(N, C), LABELS],
        lambda x, t: F.nll_loss(x.log_softmax(1), t, weight=None if w is None else mt.Tensor(w, device=device)),
        lambda x, t: TF.nll_loss(x.log_softmax(1), t, weight=None if w is None else torch.tensor(w)), device=device)


def test_cross_entropy_gradient_is_numerically_right(device):
    x = mt.Tensor(np.random.default_rng(4).normal(size=(N, C)), device=device, requires_grad=True)
    t = mt.Tensor(LABELS, device=device)
    w = mt.Tensor(CLASS_WEIGHT, device=device)
    assert gradcheck(lambda x: F.cross_entropy(x, t, weight=w, label_smoothing=0.3), [x])


def test_dropout_keeps_expectation_and_gradient_follows_the_mask(device):
    x = mt.ones(200, 100, dtype=mt.float64, device=device, requires_grad=True)
    y = F.dropout(x, p=0.3)
    kept = y.detach().numpy() != 0
    assert abs(kept.mean() - 0.7) < 0.02
    np.testing.assert_allclose(y.detach().numpy()[kept], 1 / 0.7)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), kept / 0.7)
    assert F.dropout(x, 0.3, training=False) is x


@pytest.mark.parametrize("layout", ["nchw", "channels_last", "strided"])
@pytest.mark.parametrize("size", ["small", "parallel"])
def test_relu_kernels_keep_the_layout_and_match_numpy(layout, size):
    shape = (4, 6, 13, 15) if size == "small" else (8, 32, 96, 96)  # the serial and the parallel numba kernel
    x = np.random.default_rng(5).normal(size=shape).astype(np.float32)
    if layout == "channels_last":
        x = np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)
    elif layout == "strided":
        x = x[:, :, ::2]
    x.flat[0] = np.nan
    t = mt.Tensor(x, requires_grad=True)
    y = F.relu(t)
    np.testing.assert_array_equal(y.detach().numpy(), np.where(np.isnan(x) | (x > 0), x, 0))
    if layout != "strided":
        assert y.array.strides == x.strides
    upstream = np.random.default_rng(6).normal(size=shape if layout != "strided" else x.shape).astype(np.float32)
    y.backward(mt.Tensor(upstream))
    np.testing.assert_array_equal(t.grad.numpy(), upstream * (x > 0))


@pytest.mark.skipif(not mt.cuda_is_available(), reason="needs CuPy and an NVIDIA GPU")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_cuda_kernels_equal_the_cpu_ones(dtype):
    x = np.random.default_rng(5).normal(size=(4, 6, 9, 9)).astype(dtype)
    x.flat[:3] = [np.nan, -0.0, 0.0]
    for layout in (x, x.transpose(0, 2, 3, 1), x[:, :, ::2]):  # C order, a transposed view, a strided one
        on_cpu, on_gpu = mt.Tensor(layout, requires_grad=True), mt.Tensor(layout, device="cuda", requires_grad=True)
        y_cpu, y_gpu = F.relu(on_cpu), F.relu(on_gpu)
        np.testing.assert_array_equal(y_gpu.detach().numpy(), y_cpu.detach().numpy())
        grad = np.random.default_rng(6).normal(size=layout.shape).astype(dtype)
        y_cpu.backward(mt.Tensor(grad))
        y_gpu.backward(mt.Tensor(grad, device="cuda"))
        np.testing.assert_array_equal(on_gpu.grad.numpy(), on_cpu.grad.numpy())


@pytest.mark.parametrize("x_shape, out_features", [((37, 6), 5), ((2, 3, 4), 29)])  # more rows, more columns
def test_linear_with_its_products_split_over_threads(x_shape, out_features, monkeypatch):
    """Every product of linear's forward and backward, split over three threads, rows or columns."""
    monkeypatch.setattr(workers, "SPLIT_MATMUL_MIN_PRODUCTS", 1)
    monkeypatch.setattr(workers, "num_threads", lambda: 3)
    specs = [x_shape, (out_features, x_shape[-1]), (out_features,)]
    rng = np.random.default_rng(4)
    assert gradcheck(F.linear, [mt.Tensor(rng.uniform(-2, 2, s), requires_grad=True) for s in specs])
    check_against_torch(specs, F.linear, torch.nn.functional.linear, rtol=1e-12, atol=1e-12)


def test_split_matmul_equals_one_product_and_takes_transposed_views(monkeypatch):
    monkeypatch.setattr(workers, "SPLIT_MATMUL_MIN_PRODUCTS", 1)
    monkeypatch.setattr(workers, "num_threads", lambda: 3)
    rng = np.random.default_rng(5)
    for a, b in [(rng.standard_normal((31, 7)), rng.standard_normal((7, 4))),
                 (rng.standard_normal((7, 5)).T, rng.standard_normal((17, 7)).T)]:
        np.testing.assert_allclose(workers.matmul(a, b), a @ b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("threads", [2, 3, 5])
def test_products_side_by_side_equal_each_product_and_own_their_memory_where_asked(threads, monkeypatch):
    """matmuls cuts several products into blocks over the threads, more blocks for the bigger product: each result
    is its product, also from transposed views, and one asked to own its memory does."""
    monkeypatch.setattr(workers, "SPLIT_MATMUL_MIN_PRODUCTS", 1)
    monkeypatch.setattr(workers, "num_threads", lambda: threads)
    rng = np.random.default_rng(6)
    g, w, x = rng.standard_normal((9, 13)), rng.standard_normal((13, 40)), rng.standard_normal((9, 6))
    pairs = [(g, w), (g.T, x), (x.T, x)]  # 4680, 702 and 324 multiply-adds
    results = workers.matmuls(pairs, [False, True, True])
    for (a, b), result in zip(pairs, results):
        np.testing.assert_allclose(result, a @ b, rtol=1e-13, atol=1e-13)
    assert results[1].flags.owndata and results[2].flags.owndata
    empty = np.zeros((9, 0))  # no multiply-adds at all (an empty batch's dW): zeros
    np.testing.assert_array_equal(workers.matmuls([(empty, empty.T), (g, w)], [True, False])[0], np.zeros((9, 9)))




@pytest.mark.parametrize("threads", [1, 2, 3])
def test_chunk_results_fold_in_index_order_whatever_finishes_first(threads, monkeypatch):
    """run_chunks with ``fold`` folds the results in index order, each as soon as those before it are in (the
    convolution's weight-gradient sum), however long each chunk takes; a chunk's error reaches the caller."""
    monkeypatch.setattr(workers, "num_threads", lambda: threads)
    delays = np.random.default_rng(threads).uniform(0, 0.003, 12)
    held = []

    def work(index):
        time.sleep(delays[index])
        return [index]

    def fold(total, result):
        held.append(len(total))
        return total + result

    assert workers.run_chunks(12, work, fold=fold) == list(range(12))
    assert held == list(range(1, 12))  # each fold extends the total by the next index, in order

    def failing(index):
        if index == 5:
            raise ValueError("chunk 5")
        return [index]

    with pytest.raises(ValueError, match="chunk 5"):
        workers.run_chunks(12, failing, fold=fold)


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs Linux and two CPUs")
def test_chunk_threads_keep_off_the_callers_cpu_and_results_keep_index_order(monkeypatch):
    """With the caller said to be on its first CPU, the chunk thread may run on all its others, from the second
    run on (the first may start the thread). The caller waits in its first chunk until the chunk thread has run one."""
    allowed = os.sched_getaffinity(0)
    monkeypatch.setattr(workers, "num_threads", lambda: 2)
    monkeypatch.setattr(workers, "_sched_getcpu", lambda: lambda: min(allowed))
    caller = threading.get_native_id()
    for run in range(2):
        other_ran, other_cpus = threading.Event(), []

        def work(index):
            if threading.get_native_id() == caller:
                other_ran.wait(10)
            else:
                other_cpus.append(os.sched_getaffinity(0))
                other_ran.set()
            return index

        assert workers.run_chunks(8, work) == list(range(8))
    assert other_cpus and all(cpus == allowed - {min(allowed)} for cpus in other_cpus)


@pytest.mark.skipif(workers._openblas() is None, reason="needs threadpoolctl")
def test_chunks_run_blas_on_one_thread_and_leave_the_users_setting_as_it_was(monkeypatch):
    """Inside the chunks OpenBLAS runs on one thread, also where the user gave it more (the chunks are the
    parallelism); after the run it has the user's thread count again."""
    monkeypatch.setattr(workers, "num_threads", lambda: 2)
    blas = workers._openblas().lib_controllers[0]

    def blas_threads(index):
        return blas.get_num_threads()

    before = blas.get_num_threads()
    try:
        blas.set_num_threads(2)
        assert workers.run_chunks(4, blas_threads) == [1] * 4
        assert blas.get_num_threads() == 2
    finally:
        blas.set_num_threads(before)
    assert workers.run_chunks(4, blas_threads) == [1] * 4


@pytest.mark.parametrize("looks", [0, 3, workers.LOOKS])
def test_chunk_threads_and_their_caller_wake_each_other_when_they_sleep(looks, monkeypatch):
    """With few looks or none, the chunk threads sleep before each job and the caller sleeps until they are done
    (woken by the thread that finds it asleep): every run still returns once every thread has run its job, a
    thread's job that outlasts the caller's included, and raises what a thread's job raised."""
    monkeypatch.setattr(workers, "LOOKS", looks)
    threads = workers._ChunkThreads(2)
    caller = threading.get_native_id()
    for run in range(60):
        ran = []

        def job():
            if threading.get_native_id() != caller and run % 3 == 0:
                time.sleep(0.002)  # the caller finishes first and waits
            ran.append(threading.get_native_id())

        threads.run(job)
        assert len(ran) == 3 and len(set(ran)) == 3

    def failing():
        if threading.get_native_id() != caller:
            raise ValueError("in a chunk thread")

    with pytest.raises(ValueError, match="in a chunk thread"):
        threads.run(failing)
    threads.run(lambda: None)  # and serve the next run


def test_chunk_runs_from_two_callers_at_once_and_from_inside_a_chunk_each_get_their_results(monkeypatch):
    """A caller that finds the chunk threads busy (another Python thread's run, or its own run: a chunk that runs
    chunks) runs its chunks itself; every run returns its own results in index order, and the threads serve the
    next run after both."""
    monkeypatch.setattr(workers, "num_threads", lambda: 2)

    def nested(index):
        return [index * 10 + j for j in workers.run_chunks(3, lambda j: j)]

    expected = [[i * 10 + j for j in range(3)] for i in range(6)]
    results = {}

    def caller(name):
        results[name] = [workers.run_chunks(6, nested) for _ in range(20)]

    callers = [threading.Thread(target=caller, args=(name,)) for name in ("a", "b")]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(30)
    assert results == {"a": [expected] * 20, "b": [expected] * 20}
    assert workers.run_chunks(5, lambda i: i * i) == [0, 1, 4, 9, 16]


def test_look_sees_counters_reach_their_target_without_the_gil():
    counters = np.zeros(3, np.int64)
    assert not workers._look(counters, 1, 3, 1, 100)  # gives up after its looks
    threading.Timer(0.05, lambda: counters.__setitem__(1, 3)).start()  # set by other threads while it looks
    threading.Timer(0.1, lambda: counters.__setitem__(2, 4)).start()
    start = time.perf_counter()
    while not workers._look(counters, 1, 3, 3, 1000):
        assert time.perf_counter() - start < 10
    assert counters[2] == 4  # all of them
    assert workers._look(counters, 0, 1, 0, 0)


# ----------------------------------------------------------------------------- pieces, picks and checks of values
def test_isnan_isinf_isfinite_all_any_match_torch(device):
    values = np.array([[0.0, np.nan, np.inf], [-np.inf, -1.5, 2.0]], dtype=np.float32)
    x = mt.Tensor(values, device=device, requires_grad=True)
    for name in ("isnan", "isinf", "isfinite"):
        ours, theirs = getattr(mt, name)(x), getattr(torch, name)(torch.tensor(values))
        assert ours.dtype == np.bool_ and not ours.requires_grad
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
        np.testing.assert_array_equal(getattr(mt.tensor([1, 2]), name)().numpy(), getattr(torch.tensor([1, 2]), name)())
    finite = x.isfinite()
    for name in ("all", "any"):
        for args in [(), (1,), (0, True)]:
            np.testing.assert_array_equal(getattr(mt, name)(finite, *args).numpy(),
                                          getattr(torch, name)(torch.tensor(finite.numpy()), *args).numpy())


@pytest.mark.parametrize("n", [0, 1, 5, 6, 7])
def test_chunk_and_split_give_pytorchs_pieces(n):
    ours, theirs = mt.zeros(2, n), torch.zeros(2, n)
    for chunks in (1, 2, 3, 4, 8):
        assert [t.shape for t in ours.chunk(chunks, 1)] == [tuple(t.shape) for t in theirs.chunk(chunks, 1)]
    for size in (1, 2, 4, 9) if n else (0, 1):
        assert [t.shape for t in mt.split(ours, size, -1)] == [tuple(t.shape) for t in torch.split(theirs, size, -1)]
    assert [t.shape for t in ours.unbind(1)] == [tuple(t.shape) for t in theirs.unbind(1)]
    a = mt.arange(12).reshape(3, 4)
    first, rest = a.split([1, 3], dim=1)
    assert first.tolist() == [[0], [4], [8]] and rest.tolist() == a[:, 1:].tolist()


@pytest.mark.parametrize("shifts, dims", [(1, None), ((1,), None), ([2], None), (-1, 1), ((1, -2), (0, 1)), ([1], [1])])
def test_roll_takes_pytorchs_forms_of_shifts_and_dims(shifts, dims):
    values = np.arange(12).reshape(3, 4)
    np.testing.assert_array_equal(mt.tensor(values).roll(shifts, dims).numpy(),
                                  torch.tensor(values).roll(shifts, dims).numpy())


def test_flip_and_roll_copy_as_in_pytorch():
    """Their results are new tensors: writing into one leaves the input as it was (split's pieces are views)."""
    x, before = mt.arange(6.0).reshape(2, 3), np.arange(6.0).reshape(2, 3)
    for result in (x.flip(1), x.roll(1, 1), x.roll(3, 1), mt.flip(x, (0, 1))):
        result.add_(10)
        np.testing.assert_array_equal(x.numpy(), before)
    x.split(2, 1)[0].add_(1)
    assert x[0, 0].item() == 1.0


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.split(0), ValueError, "split_size must be positive"),
    (lambda x: x.split([1, 1]), ValueError, "sum to 3"),
    (lambda x: x.chunk(0), ValueError, "chunks must be positive"),
    (lambda x: x.chunk(2, dim=2), IndexError, "out of range"),
    (lambda x: x.gather(1, mt.tensor([[0.0]])), TypeError, "integer"),
    (lambda x: x.gather(1, mt.tensor([0, 1])), ValueError, "same number"),
    (lambda x: x.gather(1, mt.zeros(4, 1, dtype=mt.int64)), ValueError, "no larger than"),
    (lambda x: x.gather(1, mt.tensor([[4]])), IndexError, "index 4 is out of bounds for dimension 1 with size 4"),
    (lambda x: x.gather(1, mt.tensor([[-1]])), IndexError, "index -1 is out of bounds"),
    (lambda x: x.scatter(1, mt.tensor([[0]]), mt.ones(1, 1, dtype=mt.float64)), TypeError, "dtype"),
    (lambda x: x.scatter(1, mt.tensor([[0, 1]]), mt.ones(1, 1)), ValueError, "no larger than src"),
    (lambda x: x.scatter(1, mt.tensor([[0]]), 1.0, reduce="add"), NotImplementedError, "reduce"),
    (lambda x: x.index_select(0, mt.tensor([[0]])), ValueError, "1-d"),
    (lambda x: x.index_select(0, mt.tensor([3])), IndexError, "out of bounds"),
    (lambda x: x.norm("nuc"), ValueError, "p must be"),
    (lambda x: x.long().norm(), TypeError, "floating-point"),
])
def test_bad_pieces_and_indices_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call(mt.zeros(3, 4))


def test_scatter_uses_the_part_of_a_larger_src_its_index_covers(device):
    index = [[0, 2], [1, 0]]
    x, src = mt.zeros(2, 3, device=device, requires_grad=True), mt.arange(12.0, device=device).reshape(3, 4)
    src.requires_grad_()
    out = x.scatter(1, mt.tensor(index, device=device), src)
    np.testing.assert_array_equal(out.detach().numpy(), torch.zeros(2, 3).scatter(1, torch.tensor(index),
                                                                                 torch.arange(12.0).reshape(3, 4)))
    upstream = np.arange(6.0, dtype=np.float32).reshape(2, 3) + 1
    out.backward(mt.Tensor(upstream, device=device))
    expected = np.zeros((3, 4), np.float32)
    expected[:2, :2] = np.take_along_axis(upstream, np.array(index), 1)  # the gradient gathered where src went
    np.testing.assert_array_equal(src.grad.numpy(), expected)
    np.testing.assert_array_equal(x.grad.numpy(), upstream * [[0, 1, 0], [0, 0, 1]])


def test_scatter_in_place_smooths_labels_and_counts_as_a_change(device):
    labels, confidence = [1, 0, 3], 0.9
    true_dist = mt.zeros(3, 4, device=device).fill_(0.1 / 3)
    version = true_dist._version
    assert true_dist.scatter_(1, mt.tensor(labels, device=device).unsqueeze(1), confidence) is true_dist
    assert true_dist._version == version + 1
    expected = torch.full((3, 4), 0.1 / 3).scatter_(1, torch.tensor(labels).unsqueeze(1), confidence)
    np.testing.assert_allclose(true_dist.numpy(), expected.numpy())

    leaf = mt.ones(3, 4, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        leaf.scatter_(1, mt.tensor([[0]], device=device), 0.0)
    y = leaf * 2
    y.scatter_(1, mt.tensor([[0], [2], [3]], device=device), mt.full((3, 1), 5.0, device=device))
    y.sum().backward()  # the overwritten positions lost leaf's gradient
    np.testing.assert_array_equal(leaf.grad.numpy(), [[0, 2, 2, 2], [2, 2, 0, 2], [2, 2, 2, 0]])
    saved = leaf.exp()  # exp keeps its output for its backward
    z = saved.sum()
    saved.scatter_(1, mt.tensor([[0]], device=device), 0.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_norm_and_sign_give_pytorchs_zero_gradients(device):
    for p in (2, "fro", 3):
        x = mt.zeros(2, 3, device=device, requires_grad=True)
        x.norm(p, dim=1).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))
    x = mt.tensor([-2.0, 0.0, 3.0], device=device, requires_grad=True)
    np.testing.assert_array_equal(mt.norm(x, 0).numpy(), torch.norm(torch.tensor([-2.0, 0.0, 3.0]), 0).numpy())
    sign = x.sign()
    assert sign.tolist() == [-1, 0, 1]
    sign.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(3))


# ----------------------------------------------------------------------------- operators, orderings, counts
def test_bitwise_and_integer_operators_match_torch_and_keep_dtypes(device):
    a, b = np.array([[5, -3, 0], [7, 2, -8]]), np.array([3, -2, 5])
    ours = [mt.tensor(a, device=device), mt.tensor(b, device=device)]
    theirs = [torch.tensor(a), torch.tensor(b)]
    calls = [lambda x, y: x & y, lambda x, y: x | y, lambda x, y: x ^ y, lambda x, y: ~x, lambda x, y: x // y,
             lambda x, y: x % y, lambda x, y: 7 // y, lambda x, y: -7 % y, lambda x, y: 3 ^ x, lambda x, y: x % 2.5,
             lambda x, y: (x > 0) & (y < 3), lambda x, y: True | (x > 0), lambda x, y: ~(x > 0) ^ False,
             lambda x, y: (x < 0).to(x.dtype) | 8, lambda x, y: x.int() & y.int(), lambda x, y: x.fmod(y),
             lambda x, y: x.float() // y, lambda x, y: x.float().remainder(-2), lambda x, y: -7.5 % y.float()]
    for i, call in enumerate(calls):
        out, expected = call(*ours), call(*theirs)
        assert out.dtype == expected.numpy().dtype, f"call {i}: {out.dtype} against {expected.dtype}"
        np.testing.assert_array_equal(out.cpu().numpy(), expected.numpy(), err_msg=f"call {i}")
    x = mt.tensor(a, device=device)
    assert x.__floordiv__(2) is not x and 5 in x and -8 in x and 4 not in x and mt.tensor(7) in x
    mask = x > 0
    mask &= x < 6
    mask |= x == -8
    x //= 2
    x %= 3
    np.testing.assert_array_equal(mask.cpu().numpy(), (torch.tensor(a) > 0) & (torch.tensor(a) < 6) | (
        torch.tensor(a) == -8))
    np.testing.assert_array_equal(x.cpu().numpy(), torch.tensor(a) // 2 % 3)


@pytest.mark.parametrize("call, error, message", [
    (lambda x: x & x, TypeError, "only bool and integer tensors, got dtype float32"),
    (lambda x: ~x, TypeError, "bitwise invert"),
    (lambda x: x.long() % 0, ZeroDivisionError, "integer remainder by zero"),
    (lambda x: x.long() // mt.tensor([1, 0, 1, 1]), ZeroDivisionError, "floor_divide"),
    (lambda x: "a" in x, TypeError, "only supports Tensor or scalar"),
    (lambda x: x.masked_select(x), TypeError, "bool mask"),
    (lambda x: x.long().bincount(), ValueError, "1-d non-negative integral"),
    (lambda x: mt.bincount(mt.tensor([1, -1])), ValueError, "1-d non-negative integral"),
    (lambda x: mt.bincount(x[0]), ValueError, "1-d non-negative integral"),
    (lambda x: x.sort(2), IndexError, "out of range"),
    (lambda x: mt.mm(x, x), ValueError, r"mat1 and mat2 shapes cannot be multiplied \(3x4 and 3x4\)"),
    (lambda x: mt.mm(x[0], x), ValueError, "self must be a matrix"),
    (lambda x: mt.bmm(x, x), ValueError, "batch1 must be a 3D tensor"),
    (lambda x: mt.bmm(x[None], x), ValueError, "batch2 must be a 3D tensor"),
    (lambda x: mt.bmm(x[None], x[None]), ValueError, r"batch2 tensor to be: \[1, 4\] but got: \[1, 3\]"),
    (lambda x: mt.dot(x[0], x[0, :3]), ValueError, "inconsistent tensor size"),
    (lambda x: mt.outer(x, x[0]), ValueError, "1D tensors expected, but got 2D and 1D"),
    (lambda x: x[0].triu(), ValueError, "at least 2 dimensions"),
    (lambda x: x[0].mT, ValueError, "matrices or batches of matrices"),
    (lambda x: mt.set_printoptions(profile="long"), ValueError, "profile"),
])
def test_bad_operands_are_refused(call, error, message):
    with pytest.raises(error, match=message):
        call(mt.zeros(3, 4))


def test_sort_argsort_and_topk_order_ties_nan_and_bools_as_pytorch(device):
    values = np.array([[2.0, np.nan, 1.0, 2.0, -np.inf, 1.0], [0.0, 3.0, 3.0, 3.0, -1.0, 3.0]], dtype=np.float32)
    for array in (values, values > 1, np.nan_to_num(values * 2, nan=7, neginf=-5).astype(np.int32)):
        x, t = mt.tensor(array, device=device), torch.tensor(array)
        for dim in (1, 0):
            for descending in (False, True):
                ours, theirs = x.sort(dim, descending), t.sort(dim=dim, descending=descending, stable=True)
                np.testing.assert_array_equal(ours.values.cpu().numpy(), theirs.values.numpy())
                np.testing.assert_array_equal(ours.indices.cpu().numpy(), theirs.indices.numpy())
                np.testing.assert_array_equal(mt.argsort(x, dim, descending).cpu().numpy(), theirs.indices.numpy())
    x = mt.tensor(values, device=device)
    np.testing.assert_array_equal(x.topk(3, largest=False).values.cpu().numpy(),  # PyTorch's tie order may vary
                                  torch.tensor(values).topk(3, largest=False).values.numpy())
    scalar = mt.tensor(1.5, device=device).sort()
    assert scalar.values.item() == 1.5 and scalar.indices.shape == () and scalar.indices.item() == 0


def test_counts_uniques_and_positions_match_torch(device):
    a = np.array([[3, 1, 0], [1, 3, 3]])
    x, t = mt.tensor(a, device=device), torch.tensor(a)
    pairs = [(mt.count_nonzero(x), torch.count_nonzero(t)), (x.count_nonzero(0), t.count_nonzero(0)),
             (x.count_nonzero((0, 1)), t.count_nonzero((0, 1))), (x.nonzero(), t.nonzero()),
             (mt.tensor(5, device=device).nonzero(), torch.tensor(5).nonzero()),
             (x.unique(), t.unique()), (mt.unique(x, dim=1), torch.unique(t, dim=1)),
             (x.flatten().bincount(), t.flatten().bincount()),
             (x.flatten().bincount(minlength=6), t.flatten().bincount(minlength=6)),
             (x.cumsum(1), t.cumsum(1)), (x.bool().cumsum(0), t.bool().cumsum(0)), (x.int().prod(1), t.int().prod(1)),
             (x.prod(), t.prod()), (mt.tensor(2.5).prod(0, keepdim=True), torch.tensor(2.5).prod(0, keepdim=True)),
             (x.cumsum(0, dtype=mt.float64), t.cumsum(0, dtype=torch.float64)), (x.logsumexp(1), t.logsumexp(1))]
    pairs += list(zip(x.nonzero(as_tuple=True), t.nonzero(as_tuple=True)))
    pairs += list(zip(x.unique(return_inverse=True, return_counts=True),
                      t.unique(return_inverse=True, return_counts=True)))
    pairs += list(zip(mt.unique(x, return_counts=True, dim=0), torch.unique(t, return_counts=True, dim=0)))
    for weights in (np.array([0.5, 1, 2, 4, 8, 16], np.float32), np.arange(6.0), np.arange(6)):
        pairs.append((x.flatten().bincount(mt.tensor(weights, device=device)),
                      t.flatten().bincount(torch.tensor(weights))))
    pairs.append((mt.repeat_interleave(mt.tensor([2, 0, 1], device=device)),
                  torch.repeat_interleave(torch.tensor([2, 0, 1]))))
    for i, (ours, theirs) in enumerate(pairs):
        assert ours.shape == tuple(theirs.shape) and ours.dtype == theirs.numpy().dtype, f"pair {i}"
        np.testing.assert_allclose(ours.cpu().numpy(), theirs.numpy(), rtol=1e-6, err_msg=f"pair {i}")


def test_logsumexp_is_stable_and_prod_gradients_hold_at_zeros(device):
    values = np.array([[1000.0, 1000.0, -1000.0], [-np.inf, -np.inf, -np.inf], [-np.inf, 0.0, 1.0]], np.float32)
    x, t = mt.tensor(values, device=device, requires_grad=True), torch.tensor(values, requires_grad=True)
    ours, theirs = x.logsumexp(1), t.logsumexp(1)
    np.testing.assert_allclose(ours.detach().cpu().numpy(), theirs.detach().numpy(), rtol=1e-6)
    ours[[0, 2]].sum().backward()
    theirs[[0, 2]].sum().backward()
    np.testing.assert_allclose(x.grad.cpu().numpy(), t.grad.numpy(), rtol=1e-6)
    zeros = np.array([[0.0, 0.0, 2.0], [0.0, 3.0, 2.0], [1.5, 3.0, 2.0]], np.float32)  # two, one and no zeros a row
    for dim in (None, 1, 0):
        x, t = mt.tensor(zeros, device=device, requires_grad=True), torch.tensor(zeros, requires_grad=True)
        (x.prod() if dim is None else x.prod(dim)).sum().backward()
        (t.prod() if dim is None else t.prod(dim)).sum().backward()
        np.testing.assert_array_equal(x.grad.cpu().numpy(), t.grad.numpy())


def test_matrices_comparisons_and_small_tensor_helpers(device):
    assert mt.eye(3, device=device).tolist() == torch.eye(3).tolist() and mt.eye(2, 3).dtype == np.float32
    assert mt.eye(2, 4, dtype=mt.int64).tolist() == torch.eye(2, 4, dtype=torch.int64).tolist()
    assert mt.get_default_dtype() == mt.float32 == mt.zeros(1).dtype
    x = mt.arange(12.0, device=device).reshape(3, 4)
    for k in (-1, 0, 2):
        assert mt.tril(x, k).tolist() == torch.arange(12.0).reshape(3, 4).tril(k).tolist()
    ints = mt.ones(3, 3, dtype=mt.int64, device=device)
    assert ints.triu(1).dtype == np.int64 and ints.bool().tril().dtype == np.bool_
    ints.tril_(-1)
    assert ints.sum().item() == 3
    assert mt.allclose(x, x * (1 + 1e-6)) and not mt.allclose(x, x + 1e-3) and x.allclose(x + 0.1, atol=0.2)
    nan = mt.tensor([1.0, float("nan")])
    assert not mt.allclose(nan, nan) and mt.allclose(nan, nan, equal_nan=True)
    assert mt.isclose(nan, nan).tolist() == [True, False]
    assert mt.equal(x, x.clone()) and not mt.equal(x, x[:2]) and not mt.equal(x, x + 1)
    assert x.is_contiguous() and x.T.is_contiguous()
    y = x * mt.ones(1, device=device, requires_grad=True)
    assert y.detach_() is y and y.grad_fn is None and not y.requires_grad
    assert x.mT.shape == (4, 3) and mt.zeros(2, 3, 4).mT.shape == (2, 4, 3)


def test_addcmul_and_lerp_in_place_update_optimizer_state_as_pytorch(device):
    grads = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float32)
    ours = [mt.zeros(3, 4, device=device), mt.zeros(3, 4, device=device)]
    theirs = [torch.zeros(3, 4), torch.zeros(3, 4)]
    steps = []
    for (exp_avg, exp_avg_sq), g in ((ours, mt.tensor(grads, device=device)), (theirs, torch.tensor(grads))):
        for _ in range(3):
            exp_avg.lerp_(g, 0.1)
            exp_avg_sq.mul_(0.999).addcmul_(g, g, value=0.001)
        steps.append(exp_avg.addcdiv(exp_avg, exp_avg_sq.sqrt() + 1e-8, value=-0.5))
    for a, b in zip(ours + steps[:1], theirs + steps[1:]):
        np.testing.assert_allclose(a.cpu().numpy(), b.numpy(), rtol=1e-6)


def test_set_printoptions_changes_how_tensors_print():
    x = mt.tensor([1.23456789, 1e-5, 100.0])
    try:
        mt.set_printoptions(precision=2)
        assert "1.23e+00" in repr(x) and "1.2346" not in repr(x)
        mt.set_printoptions(sci_mode=False, precision=3)
        assert repr(x) == "tensor([1.235, 0.000, 100.000])"
        mt.set_printoptions(profile="short", sci_mode=True)
        assert repr(x) == "tensor([1.23e+00, 1.00e-05, 1.00e+02])"
        mt.set_printoptions(threshold=5, edgeitems=1)
        assert repr(mt.arange(10)) == "tensor([0, ..., 9])"
        mt.set_printoptions(profile="full")
        assert "..." not in repr(mt.arange(2000))
    finally:
        mt.set_printoptions(profile="default")
    assert "1.2346" in repr(x) and "..." in repr(mt.arange(2000))
