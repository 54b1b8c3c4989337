"""The autograd engine: graph recording, accumulation, freeing, no_grad, and gradcheck itself."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar.autograd import Function
from minitorch_cifar.testing import GradcheckError, gradcheck


def test_shared_subexpression_accumulates_both_paths(device):
    x = mt.tensor([1.5, -2.0], dtype=mt.float64, device=device, requires_grad=True)
    y = x * x
    z = (y + y * x).sum()  # d/dx (x^2 + x^3) = 2x + 3x^2
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * x.detach().numpy() + 3 * x.detach().numpy() ** 2)


def test_gradients_accumulate_across_backward_calls_until_zeroed(device):
    x = mt.tensor([1.0, 2.0], device=device, requires_grad=True)
    (x * 3).sum().backward()
    (x * 2).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])


def test_leaf_gradients_do_not_share_memory():
    a = mt.ones(3, requires_grad=True)
    b = mt.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad.array *= 10  # e.g. gradient clipping in place
    np.testing.assert_allclose(b.grad.numpy(), [1.0, 1.0, 1.0])


def test_graph_is_freed_after_backward_and_a_second_pass_says_so():
    x = mt.ones(2, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = mt.ones(2, requires_grad=True)
    y = (x.exp() * 2).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4 * np.e * np.ones(2), rtol=1e-6)


def test_no_grad_records_nothing_and_restores_the_mode():
    x = mt.ones(2, requires_grad=True)
    with mt.no_grad():
        y = x * 2
        assert not mt.is_grad_enabled()
    assert mt.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf

    @mt.no_grad()
    def doubled(t):
        return t * 2
    assert not doubled(x).requires_grad


def test_detach_cuts_the_graph():
    x = mt.ones(2, requires_grad=True)
    y = (x * 2).detach() * x
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])


def test_non_scalar_backward_needs_a_gradient():
    y = mt.ones(2, 3, requires_grad=True) * 2
    with pytest.raises(RuntimeError, match=r"non-scalar tensor of shape \(2, 3\) needs a gradient"):
        y.backward()


def test_backward_with_an_explicit_gradient(device):
    x = mt.tensor([[1.0, 2.0]], device=device, requires_grad=True)
    (x * 3).backward(mt.tensor([[1.0, -1.0]], device=device))
    np.testing.assert_allclose(x.grad.numpy(), [[3.0, -3.0]])


def test_retain_grad_keeps_an_intermediate_gradient():
    x = mt.ones(2, requires_grad=True)
    y = x * 3
    y.retain_grad()
    (y * y).sum().backward()
    np.testing.assert_allclose(y.grad.numpy(), [6.0, 6.0])
    np.testing.assert_allclose(x.grad.numpy(), [18.0, 18.0])


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        mt.tensor([1, 2], requires_grad=True)


def test_numpy_scalars_do_not_promote_float32():
    x = mt.ones(3, requires_grad=True)
    y = x * np.float64(2.0) + np.float64(1.0)
    assert y.dtype == np.float32


class _WrongSquare(Function):
    """x^2 with a deliberately wrong derivative (x instead of 2x)."""

    def forward(self, a):
        self.a = a
        return a * a

    def backward(self, grad):
        return grad * self.a


def test_gradcheck_catches_a_wrong_backward_and_names_the_place():
    x = mt.tensor([[0.5, 1.0], [1.5, 2.0]], dtype=mt.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"input 0 \(shape \(2, 2\)\) disagrees at index .*analytic .*numeric"):
        gradcheck(_WrongSquare.apply, [x])
    with pytest.raises(GradcheckError, match="random direction"):
        gradcheck(_WrongSquare.apply, [x], directions=3)


def test_gradcheck_asks_for_float64():
    x = mt.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="float64"):
        gradcheck(lambda t: t * 2, [x])
