"""The small layers and functions of CIFAR code: padding layers, PReLU, InstanceNorm2d, Unflatten, PixelShuffle,
PixelUnshuffle, Dropout1d, normalize, cosine_similarity, trunc_normal_ and orthogonal_. Each layer against PyTorch's:
repr, state_dict keys, forward and every gradient (input and parameters), and its errors. (The ops' float64 gradient
checks are in test_ops.py's table.)"""
import math

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn
from minitorch_cifar.nn import functional as F

from helpers import assert_close, check_against_torch, torch

# name: (a maker of the layer, given the nn namespace, and the input's shape)
LAYERS = {
    "ZeroPad2d int": (lambda n: n.ZeroPad2d(2), (2, 3, 4, 5)),
    "ZeroPad2d 4-tuple": (lambda n: n.ZeroPad2d((1, 2, 0, 3)), (2, 3, 4, 5)),
    "ConstantPad2d": (lambda n: n.ConstantPad2d((1, 0, 2, 1), 3.5), (2, 3, 4, 5)),
    "ReflectionPad2d": (lambda n: n.ReflectionPad2d((3, 1, 2, 1)), (2, 3, 4, 5)),
    "ReflectionPad2d unbatched": (lambda n: n.ReflectionPad2d(1), (3, 4, 5)),
    "ReplicationPad2d": (lambda n: n.ReplicationPad2d((2, 0, 1, 3)), (2, 3, 4, 5)),
    "PReLU one slope": (lambda n: n.PReLU(), (2, 3, 4, 5)),
    "PReLU per channel": (lambda n: n.PReLU(3, init=0.1), (2, 3, 4, 5)),
    "InstanceNorm2d": (lambda n: n.InstanceNorm2d(3), (2, 3, 4, 5)),
    "InstanceNorm2d affine": (lambda n: n.InstanceNorm2d(3, eps=1e-3, affine=True), (2, 3, 4, 5)),
    "InstanceNorm2d affine, no bias, unbatched": (lambda n: n.InstanceNorm2d(3, affine=True, bias=False), (3, 4, 5)),
    "Unflatten": (lambda n: n.Unflatten(1, (3, 4)), (2, 12, 5)),
    "Unflatten -1, list, negative dim": (lambda n: n.Unflatten(-1, [2, -1]), (2, 3, 6)),
    "PixelShuffle": (lambda n: n.PixelShuffle(2), (2, 12, 3, 4)),
    "PixelShuffle 3, extra batch axis": (lambda n: n.PixelShuffle(3), (2, 2, 9, 2, 3)),
    "PixelUnshuffle": (lambda n: n.PixelUnshuffle(2), (2, 3, 4, 6)),
    "Dropout1d eval": (lambda n: n.Dropout1d(0.3).eval(), (2, 3, 4)),
}


def _same_parameters(ours, theirs):
    """Give ``theirs`` our parameters, made different from the initial ones so that each counts."""
    rng = np.random.default_rng(5)
    for name, parameter in ours.named_parameters():
        values = rng.uniform(0.5, 1.5, parameter.shape)
        parameter.data = mt.tensor(values)
        getattr(theirs, name).data = torch.tensor(values)


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_matches_torch(name, device):
    make, shape = LAYERS[name]
    ours, theirs = make(nn).to(device).double(), make(torch.nn).double()
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    _same_parameters(ours, theirs)
    ours.to(device)
    check_against_torch([shape], ours, theirs, device=device)
    for (key, ours_parameter), theirs_parameter in zip(ours.named_parameters(), theirs.parameters()):
        assert_close(ours_parameter.grad, theirs_parameter.grad, 1e-6, 1e-8, f"gradient of {key}")


def test_layers_keep_float32_and_initialise_as_torch():
    for make, shape in LAYERS.values():
        assert make(nn)(mt.randn(*shape)).dtype == np.float32
    assert nn.PReLU(4, init=0.1).weight.tolist() == pytest.approx([0.1] * 4)
    norm = nn.InstanceNorm2d(3, affine=True)
    assert norm.weight.tolist() == [1.0] * 3 and norm.bias.tolist() == [0.0] * 3


# name: (a call that should fail, given the nn namespace, F, and a tensor maker)
ERRORS = {
    "InstanceNorm2d 2-D input": lambda n, f, t: n.InstanceNorm2d(3)(t(2, 3)),
    "InstanceNorm2d affine, wrong channels": lambda n, f, t: n.InstanceNorm2d(3, affine=True)(t(2, 4, 3, 3)),
    "instance_norm one position": lambda n, f, t: f.instance_norm(t(2, 3, 1, 1)),
    "prelu slopes against channels": lambda n, f, t: f.prelu(t(2, 4, 3), t(3)),
    "PReLU slopes against channels": lambda n, f, t: n.PReLU(3)(t(2, 4)),
    "pixel_shuffle channels": lambda n, f, t: f.pixel_shuffle(t(2, 3, 4, 4), 2),
    "pixel_shuffle 2-D": lambda n, f, t: f.pixel_shuffle(t(3, 4), 2),
    "pixel_shuffle factor 0": lambda n, f, t: f.pixel_shuffle(t(1, 4, 2, 2), 0),
    "pixel_unshuffle height": lambda n, f, t: f.pixel_unshuffle(t(2, 3, 5, 4), 2),
    "Unflatten sizes": lambda n, f, t: n.Unflatten(1, (2, 3))(t(2, 5)),
    "Unflatten sizes with -1": lambda n, f, t: n.Unflatten(1, (2, -1))(t(2, 5)),
    "Unflatten an int": lambda n, f, t: n.Unflatten(1, 6),
    "dropout1d 4-D": lambda n, f, t: f.dropout1d(t(2, 3, 4, 5)),
    "Dropout1d p": lambda n, f, t: n.Dropout1d(1.5),
    "cosine_similarity shapes": lambda n, f, t: f.cosine_similarity(t(2, 3), t(2, 4)),
    "orthogonal_ 1-D": lambda n, f, t: n.init.orthogonal_(t(3)),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_as_torch(name):
    call = ERRORS[name]
    with pytest.raises(Exception) as theirs:
        call(torch.nn, torch.nn.functional, torch.ones)
    with pytest.raises(type(theirs.value)):
        call(nn, F, mt.ones)


def test_what_is_not_supported_says_so():
    with pytest.raises(NotImplementedError, match="track_running_stats"):
        nn.InstanceNorm2d(3, track_running_stats=True)
    with pytest.raises(NotImplementedError, match="running statistics"):
        F.instance_norm(mt.ones(2, 3, 4, 4), mt.zeros(3), mt.ones(3))
    with pytest.raises(ValueError, match="padding"):
        nn.ZeroPad2d((1, 2, 3))


def test_normalize_and_cosine_similarity_clamp_each_norm_as_torch(device):
    """Near-zero and zero vectors: normalize divides by max(norm, eps), cosine_similarity clamps each norm."""
    a = np.array([[1e-9, 0.0, 0.0], [3.0, 4.0, 0.0], [0.0, 0.0, 0.0], [1e-13, -1e-13, 0.0]])
    b = np.array([[2e-9, 1e-9, 0.0], [1.0, 1.0, 1.0], [1.0, 2.0, 3.0], [1e-13, 0.0, 1e-13]])
    check_against_torch([a, b], F.cosine_similarity, torch.nn.functional.cosine_similarity, device=device)
    check_against_torch([np.ascontiguousarray(a[:, :2].T)], lambda x: F.normalize(x, dim=0),
                        lambda x: torch.nn.functional.normalize(x, dim=0), device=device)
    check_against_torch([a], lambda x: F.normalize(x, p=3.0, eps=1e-3),
                        lambda x: torch.nn.functional.normalize(x, p=3.0, eps=1e-3), device=device)


def test_dropout1d_drops_whole_channels(device):
    x = mt.ones(20, 8, 5, device=device, requires_grad=True)
    out = nn.Dropout1d(0.5)(x)
    values = out.detach().numpy() if device == "cpu" else out.detach().cpu().numpy()
    per_channel = values.reshape(160, 5)
    assert set(np.unique(per_channel)) == {0.0, 2.0}
    assert (per_channel == per_channel[:, :1]).all()
    assert 40 < (per_channel[:, 0] == 0).sum() < 120
    out.sum().backward()
    grad = x.grad.numpy() if device == "cpu" else x.grad.cpu().numpy()
    np.testing.assert_array_equal(grad, values)
    unbatched = F.dropout1d(mt.ones(8, 5), 0.5).numpy()
    assert (unbatched == unbatched[:, :1]).all()


def _truncated_moments(mean, std, a, b):
    """The mean and standard deviation of N(mean, std^2) truncated to [a, b]."""
    alpha, beta = (a - mean) / std, (b - mean) / std
    pdf = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    mass = (math.erf(beta / math.sqrt(2)) - math.erf(alpha / math.sqrt(2))) / 2
    shift = (pdf(alpha) - pdf(beta)) / mass
    variance = 1 + (alpha * pdf(alpha) - beta * pdf(beta)) / mass - shift ** 2
    return mean + std * shift, std * math.sqrt(variance)


@pytest.mark.parametrize("mean, std, a, b", [(0.0, 1.0, -2.0, 2.0), (0.0, 0.02, -0.04, 0.04), (1.0, 2.0, -1.0, 2.0),
                                             (3.0, 1.0, 0.0, 3.5)])
def test_trunc_normal_draws_the_truncated_normal(mean, std, a, b, device):
    tensor = nn.Parameter(mt.empty(200, 100, device=device))
    assert nn.init.trunc_normal_(tensor, mean, std, a, b) is tensor
    assert tensor.dtype == np.float32 and tensor.requires_grad and tensor.grad_fn is None
    values = tensor.detach().numpy() if device == "cpu" else tensor.detach().cpu().numpy()
    assert a <= values.min() and values.max() <= b
    expected_mean, expected_std = _truncated_moments(mean, std, a, b)
    assert abs(values.mean() - expected_mean) < 5 * expected_std / math.sqrt(values.size)
    assert abs(values.std() - expected_std) < 0.03 * expected_std
    histogram, _ = np.histogram(values, bins=4, range=(a, b))
    assert histogram.min() > 0  # the whole interval is reached, not only the middle


def test_trunc_normal_refuses_an_empty_or_unreachable_interval():
    with pytest.raises(ValueError, match="a < b"):
        nn.init.trunc_normal_(mt.empty(3), a=1.0, b=-1.0)
    with pytest.raises(ValueError, match="holds only"):
        nn.init.trunc_normal_(mt.empty(3), mean=0.0, std=1.0, a=10.0, b=11.0)


@pytest.mark.parametrize("shape", [(6, 10), (10, 6), (8, 3, 3, 3), (5, 5)])
def test_orthogonal_gives_orthonormal_rows_or_columns_times_gain(shape, device):
    tensor = mt.empty(*shape, device=device, dtype=mt.float64)
    assert nn.init.orthogonal_(tensor, gain=2.5) is tensor
    matrix = (tensor.numpy() if device == "cpu" else tensor.cpu().numpy()).reshape(shape[0], -1) / 2.5
    small = matrix @ matrix.T if matrix.shape[0] <= matrix.shape[1] else matrix.T @ matrix
    np.testing.assert_allclose(small, np.eye(len(small)), atol=1e-12)
    again = nn.init.orthogonal_(mt.empty(*shape, device=device, dtype=mt.float64), gain=2.5)
    assert not np.allclose(again.tolist(), tensor.tolist())  # a new draw each time


def test_orthogonal_is_uniform_over_signs_and_follows_the_seed():
    """Without R's signs, QR's Q would lean to a positive diagonal; with them each entry's mean is 0."""
    draws = np.stack([nn.init.orthogonal_(mt.empty(4, 4, dtype=mt.float64)).numpy() for _ in range(400)])
    assert np.abs(draws.mean(axis=0)).max() < 0.15
    mt.manual_seed(3)
    first = nn.init.orthogonal_(mt.empty(3, 5)).tolist()
    mt.manual_seed(3)
    assert nn.init.orthogonal_(mt.empty(3, 5)).tolist() == first
