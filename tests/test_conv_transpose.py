"""Transposed convolution: F.conv_transpose2d against PyTorch (values and the gradients of input, weight and bias) and
float64 finite differences, with the fast and the reference kernels; nn.ConvTranspose2d's initialisation, repr,
output_size and errors."""
import math

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn
from minitorch_cifar.nn import functional as F
from minitorch_cifar.testing import gradcheck

from helpers import check_against_torch, torch

pytestmark = pytest.mark.usefixtures("kernels")  # each test runs with the fast and the reference kernels

# input shape, weight shape (C_in, C_out/groups, KH, KW), keyword arguments; the backward's convolution of dY takes
# each fast method in turn: im2col (stride 2), direct (few channels), kernel rows (4-16 channels), Winograd (16+)
CONFIGS = [
    ((2, 4, 5, 5), (4, 3, 4, 4), dict(stride=2, padding=1)),                     # DCGAN's upsampling layer
    ((2, 4, 5, 6), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1)),   # exactly doubles H and W
    ((2, 3, 1, 1), (3, 5, 4, 4), dict()),                                        # DCGAN's first layer, 1x1 -> 4x4
    ((1, 4, 4, 4), (4, 2, 3, 3), dict(padding=1, groups=2)),
    ((2, 2, 5, 4), (2, 3, 3, 2), dict(stride=(2, 1), padding=(0, 1), dilation=(2, 1))),
    ((2, 2, 4, 4), (2, 3, 3, 3), dict(dilation=2, output_padding=1)),           # output_padding below the dilation
    ((2, 6, 5, 5), (6, 20, 3, 3), dict()),
    ((2, 16, 4, 4), (16, 8, 3, 3), dict(padding=1)),
    ((2, 20, 3, 3), (20, 4, 5, 5), dict(padding=2)),
    ((3, 4, 4), (3, 2, 3, 3), dict(stride=3, padding=2, output_padding=2)),      # unbatched
]
IDS = [f"{'x'.join(map(str, w[2:]))}-{'-'.join(f'{k}{v}' for k, v in kw.items()) or 'plain'}-c{w[0]}"
       for _, w, kw in CONFIGS]


@pytest.mark.parametrize("shape, weight_shape, kwargs", CONFIGS, ids=IDS)
def test_conv_transpose2d_matches_torch(shape, weight_shape, kwargs, device):
    groups = kwargs.get("groups", 1)
    specs = [shape, weight_shape, (weight_shape[1] * groups,)]
    check_against_torch(specs, lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs),
                        lambda x, w, b: torch.nn.functional.conv_transpose2d(x, w, b, **kwargs), device=device)


@pytest.mark.parametrize("shape, weight_shape, kwargs", CONFIGS[:3], ids=IDS[:3])
def test_conv_transpose2d_float32_matches_torch(shape, weight_shape, kwargs, device):
    check_against_torch([shape, weight_shape], lambda x, w: F.conv_transpose2d(x, w, **kwargs),
                        lambda x, w: torch.nn.functional.conv_transpose2d(x, w, **kwargs), device=device,
                        dtype=np.float32, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("index", [0, 1, 3, 4])
def test_conv_transpose2d_gradcheck(index, rng):
    shape, weight_shape, kwargs = CONFIGS[index]
    groups = kwargs.get("groups", 1)
    inputs = [mt.tensor(rng.standard_normal(s), requires_grad=True)
              for s in (shape, weight_shape, (weight_shape[1] * groups,))]
    assert gradcheck(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs), inputs)


def test_conv_transpose2d_is_the_input_gradient_of_conv2d(rng):
    """conv_transpose2d(y, W) = d<conv2d(x, W), y>/dx: the correspondence the implementation rests on."""
    x = mt.tensor(rng.standard_normal((2, 3, 9, 8)), requires_grad=True)
    w = mt.tensor(rng.standard_normal((4, 3, 3, 3)))
    y = F.conv2d(x, w, stride=2, padding=1)
    upstream = rng.standard_normal(y.shape)
    y.backward(mt.tensor(upstream))
    out = F.conv_transpose2d(mt.tensor(upstream), w, stride=2, padding=1, output_padding=(0, 1))
    np.testing.assert_allclose(out.numpy(), x.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_conv_transpose2d_gradient_of_weight_alone(rng):
    """A generator's first layer: the noise needs no gradient, the weight does."""
    z = mt.tensor(rng.standard_normal((4, 3, 1, 1)))
    w = mt.tensor(rng.standard_normal((3, 5, 4, 4)), requires_grad=True)
    assert gradcheck(lambda w: F.conv_transpose2d(z, w), [w])


def test_conv_transpose2d_errors():
    x, w = mt.randn(1, 4, 5, 5), mt.randn(4, 2, 3, 3)
    with pytest.raises(ValueError, match="output_padding .* smaller than either stride"):
        F.conv_transpose2d(x, w, stride=2, output_padding=2)
    with pytest.raises(ValueError, match="expects input with 4 channels"):
        F.conv_transpose2d(mt.randn(1, 3, 5, 5), w)
    with pytest.raises(ValueError, match="groups"):
        F.conv_transpose2d(x, w, groups=3)
    with pytest.raises(ValueError, match="bias of shape"):
        F.conv_transpose2d(x, w, mt.randn(3))
    with pytest.raises(ValueError, match="too small"):
        F.conv_transpose2d(mt.randn(1, 4, 1, 1), w, padding=2)
    with pytest.raises(TypeError, match="dtype"):
        F.conv_transpose2d(x.double(), w)


def test_conv_transpose2d_layer_matches_torch_and_initialises_as_torch():
    mt.manual_seed(0)
    ours = nn.ConvTranspose2d(6, 8, 4, stride=2, padding=1, groups=2)
    theirs = torch.nn.ConvTranspose2d(6, 8, 4, stride=2, padding=1, groups=2)
    assert repr(ours) == repr(theirs)
    assert ours.weight.shape == tuple(theirs.weight.shape) == (6, 4, 4, 4)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    bound = 1 / math.sqrt(4 * 4 * 4)  # PyTorch's fan_in of a transposed weight: C_out/groups * KH * KW
    for p in (ours.weight, ours.bias):
        values = p.detach().numpy()
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.8 * bound
    theirs.load_state_dict({k: torch.tensor(v.numpy()) for k, v in ours.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 6, 5, 5)).astype(np.float32)
    np.testing.assert_allclose(ours(mt.tensor(x)).detach().numpy(), theirs(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-5)


def test_conv_transpose2d_layer_output_size():
    ours = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, dilation=1, bias=False)
    theirs = torch.nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1, bias=False)
    theirs.weight.data = torch.tensor(ours.weight.detach().numpy())
    x = np.random.default_rng(1).standard_normal((1, 3, 4, 5)).astype(np.float32)
    for size in [(7, 9), (8, 10), [1, 2, 8, 9]]:
        expected = theirs(torch.tensor(x), output_size=size).detach().numpy()
        np.testing.assert_allclose(ours(mt.tensor(x), output_size=size).detach().numpy(), expected, atol=1e-6)
    with pytest.raises(ValueError, match="valid sizes range from"):
        ours(mt.tensor(x), output_size=(9, 9))
    with pytest.raises(ValueError, match="zeros"):
        nn.ConvTranspose2d(3, 2, 3, padding_mode="reflect")
