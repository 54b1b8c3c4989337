"""Dropout2d: whole channels dropped and the rest rescaled, gradients through the same mask, PyTorch's
module behaviour (repr, eval identity, (N, C, L) inputs); element-wise Dropout unchanged."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import nn
from minitorch_cifar.nn import functional as F
from minitorch_cifar.testing import gradcheck

from helpers import check_against_torch, torch

pytestmark = pytest.mark.usefixtures("kernels")  # each test runs with the fast and the reference kernels


def kept_fraction_and_check_channels(x, out, p):
    """Assert every channel is either all zero or x / (1 - p); return the fraction of channels kept."""
    x, out = x.reshape(x.shape[0], x.shape[1], -1), out.reshape(x.shape[0], x.shape[1], -1)
    kept = (out != 0).any(axis=-1)
    np.testing.assert_allclose(out[kept], x[kept] / (1 - p), rtol=1e-6)
    assert (out[~kept] == 0).all()
    return kept.mean()


@pytest.mark.parametrize("shape", [(64, 32, 3, 3), (64, 32, 5)])
def test_drops_whole_channels(shape, device):
    x = mt.rand(*shape, device=device) + 0.5  # no zeros of its own
    out = F.dropout2d(x, 0.3)
    assert out.dtype == np.float32 and out.shape == x.shape
    kept = kept_fraction_and_check_channels(x.numpy(), out.numpy(), 0.3)
    assert abs(kept - 0.7) < 0.03  # 2048 channels: the standard deviation of the kept fraction is 0.01


def test_gradient_goes_through_the_same_mask(device):
    x = mt.rand(8, 6, 4, 4, device=device, requires_grad=True)
    out = F.dropout2d(x, 0.5)
    out.backward(mt.ones(*out.shape, device=device))
    np.testing.assert_allclose(x.grad.numpy(), (out.detach().numpy() != 0) * 2.0)


def test_gradcheck_with_a_fixed_draw(rng):
    x = mt.tensor(rng.standard_normal((3, 4, 2, 2)), dtype=mt.float64, requires_grad=True)

    def seeded_dropout(t):
        mt.manual_seed(1)  # the same channels drop on every evaluation
        return F.dropout2d(t, 0.4)

    gradcheck(seeded_dropout, [x])


def test_seed_repeats_the_mask():
    x = mt.ones(4, 8, 2, 2)
    mt.manual_seed(3)
    first = F.dropout2d(x, 0.5).numpy()
    mt.manual_seed(3)
    np.testing.assert_array_equal(F.dropout2d(x, 0.5).numpy(), first)


def test_module_matches_torch_in_eval_and_at_the_edges(rng):
    ours, theirs = nn.Dropout2d(0.2), torch.nn.Dropout2d(0.2)
    assert repr(ours) == repr(theirs)
    ours.eval(), theirs.eval()
    check_against_torch([(2, 3, 4, 4)], ours, theirs)
    x = mt.tensor(rng.standard_normal((2, 3, 4, 4)))
    assert F.dropout2d(x, 0.0) is x and F.dropout2d(x, 0.7, training=False) is x
    assert (F.dropout2d(x, 1.0).numpy() == 0).all()
    assert repr(nn.Dropout2d(p=0.5, inplace=True)) == repr(torch.nn.Dropout2d(p=0.5, inplace=True))


def test_training_module_drops_channels():
    layer = nn.Dropout2d(0.5)
    x = mt.rand(16, 16, 3, 3) + 1
    kept = kept_fraction_and_check_channels(x.numpy(), layer(x).numpy(), 0.5)
    assert 0.3 < kept < 0.7


def test_elementwise_dropout_still_drops_elements():
    x = mt.ones(64, 64)
    out = F.dropout(x, 0.25).numpy()
    assert set(np.unique(out)) <= {0.0, np.float32(1 / 0.75)}
    assert abs((out != 0).mean() - 0.75) < 0.03
    assert 0 < (out != 0).reshape(64, 64).sum(axis=1).min() < 64  # not whole rows


@pytest.mark.parametrize("call, error", [
    (lambda: F.dropout2d(mt.ones(4, 4), 0.5), ValueError),
    (lambda: F.dropout2d(mt.ones(1, 2, 3, 4, 5), 0.5), ValueError),
    (lambda: F.dropout2d(mt.ones(2, 2, 2), 1.5), ValueError),
    (lambda: nn.Dropout2d(-0.1), ValueError),
])
def test_bad_arguments(call, error):
    with pytest.raises(error):
        call()
