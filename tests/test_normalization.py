"""GroupNorm and LayerNorm: float64 gradient checks and parity with PyTorch (forward and the gradients of input,
weight and bias), the modules' parameters, initialisation, state_dict and repr, and their errors."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn
from minitorch_cifar.nn import functional as F
from minitorch_cifar.testing import gradcheck

from helpers import check_against_torch, torch

TF = torch.nn.functional

# name: (ours, theirs, input shapes): the shapes of the input, then of the weight and bias where given
CASES = {
    "group_norm one group": (lambda x, w, b: F.group_norm(x, 1, w, b), lambda x, w, b: TF.group_norm(x, 1, w, b),
                             [(2, 4, 3, 3), (4,), (4,)]),
    "group_norm a group per channel": (lambda x, w, b: F.group_norm(x, 4, w, b, eps=1e-3),
                                       lambda x, w, b: TF.group_norm(x, 4, w, b, eps=1e-3), [(2, 4, 3, 3), (4,), (4,)]),
    "group_norm 2 groups, 3-D input": (lambda x, w, b: F.group_norm(x, 2, w, b),
                                       lambda x, w, b: TF.group_norm(x, 2, w, b), [(3, 6, 5), (6,), (6,)]),
    "group_norm (N, C), no affine": (lambda x: F.group_norm(x, 3), lambda x: TF.group_norm(x, 3), [(4, 6)]),
    "group_norm weight only": (lambda x, w: F.group_norm(x, 2, w), lambda x, w: TF.group_norm(x, 2, w),
                               [(2, 4, 2, 3), (4,)]),
    "layer_norm last axis": (lambda x, w, b: F.layer_norm(x, 5, w, b), lambda x, w, b: TF.layer_norm(x, (5,), w, b),
                             [(3, 5), (5,), (5,)]),
    "layer_norm 3 trailing axes": (lambda x, w, b: F.layer_norm(x, (3, 4, 4), w, b),
                                   lambda x, w, b: TF.layer_norm(x, (3, 4, 4), w, b),
                                   [(2, 3, 4, 4), (3, 4, 4), (3, 4, 4)]),
    "layer_norm 2 of 3 axes, no affine": (lambda x: F.layer_norm(x, [3, 4], eps=1e-2),
                                          lambda x: TF.layer_norm(x, [3, 4], eps=1e-2), [(2, 3, 4)]),
    "layer_norm tokens, bias only": (lambda x, b: F.layer_norm(x, (6,), bias=b),
                                     lambda x, b: TF.layer_norm(x, (6,), bias=b), [(2, 5, 6), (6,)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_gradient_is_numerically_right(name, device):
    ours, _, shapes = CASES[name]
    rng = np.random.default_rng(1)
    inputs = [mt.Tensor(rng.uniform(-2, 2, shape), device=device, requires_grad=True) for shape in shapes]
    assert gradcheck(ours, inputs)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_torch(name, device):
    ours, theirs, shapes = CASES[name]
    check_against_torch(shapes, ours, theirs, device=device)


@pytest.mark.parametrize("name", ["group_norm one group", "layer_norm 3 trailing axes"])
def test_float32_stays_float32(name, device):
    ours, theirs, shapes = CASES[name]
    out = check_against_torch(shapes, ours, theirs, device=device, dtype=np.float32, rtol=1e-4, atol=1e-5)
    assert out.dtype == np.float32


def test_float16_input_is_normalised_in_float32():
    """Values near 100 sit 0.06 apart in float16: the statistics taken in float16 would lose much of their spread."""
    x = (100 + np.random.default_rng(3).standard_normal((4, 8))).astype(np.float16)
    out = F.layer_norm(mt.tensor(x), (8,))
    assert out.dtype == np.float16
    expected = TF.layer_norm(torch.tensor(x, dtype=torch.float32), (8,)).numpy()
    np.testing.assert_allclose(out.numpy().astype(np.float32), expected, atol=2e-3)


# ----------------------------------------------------------------------------- modules
MODULES = {
    "GroupNorm": (lambda nn_: nn_.GroupNorm(2, 6), (3, 6, 4, 4)),
    "GroupNorm no affine": (lambda nn_: nn_.GroupNorm(3, 6, eps=1e-3, affine=False), (3, 6, 4)),
    "GroupNorm no bias": (lambda nn_: nn_.GroupNorm(6, 6, bias=False), (2, 6)),
    "LayerNorm": (lambda nn_: nn_.LayerNorm(8), (2, 5, 8)),
    "LayerNorm 3 axes": (lambda nn_: nn_.LayerNorm([4, 3, 3]), (2, 4, 3, 3)),
    "LayerNorm no bias": (lambda nn_: nn_.LayerNorm((5, 8), bias=False), (2, 5, 8)),
    "LayerNorm no affine": (lambda nn_: nn_.LayerNorm(8, elementwise_affine=False), (3, 8)),
}


@pytest.mark.parametrize("name", list(MODULES))
def test_module_has_pytorchs_parameters_initialisation_and_repr(name):
    build, _ = MODULES[name]
    ours, theirs = build(nn), build(torch.nn)
    assert repr(ours) == repr(theirs)
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key, value in theirs_state.items():
        assert ours_state[key].dtype == np.float32
        np.testing.assert_array_equal(ours_state[key].numpy(), value.numpy(), err_msg=key)


@pytest.mark.parametrize("name", list(MODULES))
def test_module_with_pytorchs_weights_matches_pytorch(name, device):
    build, shape = MODULES[name]
    ours, theirs = build(nn).to(device=device, dtype=mt.float64), build(torch.nn).double()
    with torch.no_grad():
        for p in theirs.parameters():
            p.uniform_(-2, 2)
    ours.load_state_dict({key: value.numpy() for key, value in theirs.state_dict().items()})
    check_against_torch([shape], ours, theirs, device=device)
    for (key, p), q in zip(ours.named_parameters(), theirs.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6, atol=1e-8, err_msg=key)


@pytest.mark.parametrize("wrong, message", [
    (lambda: nn.GroupNorm(4, 6), r"num_channels \(6\) must be divisible by num_groups \(4\)"),
    (lambda: nn.GroupNorm(2, 4)(mt.zeros(2, 6, 3)), r"weight of shape \(4,\) does not fit the 6 channels"),
    (lambda: F.group_norm(mt.zeros(2, 6, 3), 4), "6 channels of input .* do not split into num_groups=4"),
    (lambda: F.group_norm(mt.zeros(6), 2), r"expected input of shape \(N, C, ...\)"),
    (lambda: nn.LayerNorm(4)(mt.zeros(2, 3)), r"normalized_shape=\(4,\) needs input of shape \(\*, 4\), got"),
    (lambda: nn.LayerNorm((2, 3))(mt.zeros(3, 2)), r"needs input of shape \(\*, 2, 3\)"),
    (lambda: F.layer_norm(mt.zeros(2, 3), (3,), mt.ones(2)), r"weight of shape \(2,\) is not normalized_shape"),
])
def test_wrong_shapes_are_refused_clearly(wrong, message):
    with pytest.raises(ValueError, match=message):
        wrong()
