"""The autograd engine: graph recording, accumulation, freeing, no_grad, checks on what a backward returns,
and gradcheck itself."""
import ast
import gc
import pathlib
import types
import weakref

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import autograd
from minitorch_cifar.autograd import Function, InvalidGradientError
from minitorch_cifar.testing import GradcheckError, gradcheck

PACKAGE = pathlib.Path(mt.__file__).parent


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


def test_arrays_live_only_while_an_op_saved_them():
    x = mt.ones(3, requires_grad=True)
    unsaved = x * 3
    saved = unsaved + 1  # Add keeps only shapes: nothing needs `unsaved`'s array once that tensor is gone
    out = (saved * saved).sum()  # Mul keeps both inputs' arrays for its backward
    unsaved_array, saved_array = weakref.ref(unsaved.array), weakref.ref(saved.array)
    del unsaved, saved
    gc.collect()
    assert unsaved_array() is None and saved_array() is not None
    out.backward()
    gc.collect()
    assert saved_array() is None  # backward freed the graph and what it saved
    np.testing.assert_allclose(x.grad.numpy(), np.full(3, 24.0))  # d/dx sum((3x + 1)^2) = 6 (3x + 1)


def test_backward_frees_what_each_op_saved_and_the_gradients_it_used_as_it_goes():
    """When an op's backward runs, the ops after it have freed what they saved, the gradients they were given and
    those they returned (here two, summed into the gradient of their shared input): only that sum is alive."""
    refs, alive_when = {}, {}

    class Tap(Function):
        """The identity, keeping an array of its own for backward; its backward notes which arrays of the Taps
        that ran before it are still alive, and weak references to its own."""

        def forward(self, a, name):
            self.name, self.saved = name, a * 1.0
            return a * 1.0

        def backward(self, grad):
            alive_when[self.name] = sorted(key for key, ref in refs.items() if ref() is not None)
            passed_on = grad * 1.0
            refs.update({f"{self.name} saved": weakref.ref(self.saved), f"{self.name} given": weakref.ref(grad),
                         f"{self.name} returned": weakref.ref(passed_on)})
            return passed_on

    x = mt.ones(4, requires_grad=True)
    first = Tap.apply(x, name="first")
    loss = (Tap.apply(first, name="left") * 2 + Tap.apply(first, name="right")).sum()
    del first
    loss.backward()
    assert alive_when["first"] == []
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 3.0))


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


class _Returns(Function):
    """forward doubles its first input; backward returns whatever the test put in ``gradients``."""

    gradients = None

    def forward(self, a, *others):
        return a * 2

    def backward(self, grad):
        return type(self).gradients(grad)


def returning(gradients):
    return type("Swish", (_Returns,), {"gradients": staticmethod(gradients)})


@pytest.mark.parametrize("gradients, problem", [
    (lambda g: (g[:, :3], None), r"index 0 - got shape \(4, 3\) but expected shape \(4, 5\)"),
    (lambda g: (g, g.sum(0)), r"index 1 - got shape \(5,\) but expected shape \(4, 5\)"),
    (lambda g: (g, g.astype(np.int64)), r"index 1 - got dtype int64 but expected a floating-point gradient"),
    (lambda g: (g, 1.0), r"index 1 - got float but expected an array of shape \(4, 5\)"),
    (lambda g: g, r"incorrect number of gradients \(expected 2, .*got 1\)"),
    (lambda g: (g, g, g), r"incorrect number of gradients \(expected 2, .*got 3\)"),
])
def test_an_invalid_gradient_names_the_function_and_the_input(gradients, problem):
    a = mt.randn(4, 5, requires_grad=True)
    b = mt.randn(4, 5, requires_grad=True) * 1  # a non-leaf: checked against its creator's output
    out = returning(gradients).apply(a, b)
    with pytest.raises(InvalidGradientError, match="Function Swish .*" + problem):
        out.sum().backward()
    assert a.grad is None  # checked before any gradient moved on


def test_trailing_none_gradients_and_constants_are_accepted():
    a = mt.randn(4, 5, requires_grad=True)
    returning(lambda g: (g * 2, g, None)).apply(a, 3.0).sum().backward()  # the constant 3.0 gets none
    np.testing.assert_allclose(a.grad.numpy(), np.full((4, 5), 2.0))


def test_a_none_gradient_for_an_input_that_needs_one_sends_nothing_down_that_path():
    a = mt.randn(4, 5, requires_grad=True)
    returning(lambda g: (g, None)).apply(a, a * 3).sum().backward()  # a * 3 gets no gradient, as in PyTorch
    np.testing.assert_array_equal(a.grad.numpy(), np.ones((4, 5)))
    a.grad = None
    b = a * 3
    (returning(lambda g: (g, None)).apply(a, b) + b).sum().backward()  # b's other use still sends 1
    np.testing.assert_array_equal(a.grad.numpy(), np.full((4, 5), 4.0))


def test_gradcheck_reports_a_wrong_shaped_gradient():
    x = mt.randn(4, 5, dtype=mt.float64, requires_grad=True)
    with pytest.raises(GradcheckError, match=r"Swish returned an invalid gradient at index 0 - got shape \(5,\)"):
        gradcheck(returning(lambda g: g.sum(0)).apply, [x])


def test_grad_fn_names_the_op_that_made_a_tensor():
    x = mt.randn(2, 3, requires_grad=True)
    y = (x * 2).relu()
    assert x.grad_fn is None and x.is_leaf
    assert isinstance(y.grad_fn, mt.ops.elementwise.ReLU) and repr(y.grad_fn) == "<ReLUBackward>" and not y.is_leaf
    assert repr(x.sum().grad_fn) == "<SumBackward>"
    with mt.no_grad():
        assert (x * 2).grad_fn is None and (x * 2).is_leaf


class _CupyLikeArray:
    """What backward reads of a gradient, with flags as CuPy's: c_contiguous, f_contiguous, owndata, no writeable."""

    def __init__(self, array):
        self.array, self.shape, self.dtype, self.base = array, array.shape, array.dtype, None
        self.flags = types.SimpleNamespace(c_contiguous=True, f_contiguous=array.ndim < 2, owndata=True)


def test_a_gradient_whose_flags_have_no_writeable_becomes_grad_without_a_copy():
    x = mt.ones(3, requires_grad=True)
    gradient = _CupyLikeArray(np.arange(3.0, dtype=np.float32))
    autograd.backward(x, gradient)
    assert x.grad.array is gradient  # fresh and C-contiguous: owned, so stored as it is


def imports_of(path, *, inside_functions):
    """The modules ``path`` imports from (``..tensor`` as "tensor"), at the top or inside its functions."""
    tree = ast.parse(path.read_text())
    top = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (id(node) not in top) == inside_functions:
            found += [node.module.split(".")[-1]] if node.module else [a.name for a in node.names]
    return found


def test_the_engine_imports_no_tensor_and_nothing_imports_it_late():
    """autograd <- ops <- tensor without a cycle, so no module has to import tensor or autograd inside a function."""
    assert "tensor" not in imports_of(PACKAGE / "autograd.py", inside_functions=False)
    for path in [PACKAGE / "autograd.py", PACKAGE / "testing.py", *sorted((PACKAGE / "ops").glob("*.py"))]:
        late = set(imports_of(path, inside_functions=True)) & {"tensor", "autograd"}
        assert not late, f"{path.name} imports {late} inside a function"


_SAVE_NO_ARRAYS = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y, "neg": lambda x, y: -x,
                   "reshape": lambda x, y: x.reshape(-1), "permute": lambda x, y: x.permute(1, 0),
                   "expand": lambda x, y: x[None].expand(2, 3, 4), "cat": lambda x, y: mt.cat([x, y]),
                   "stack": lambda x, y: mt.stack([x, y]), "sum": lambda x, y: x.sum(0), "mean": lambda x, y: x.mean()}


@pytest.mark.parametrize("op", _SAVE_NO_ARRAYS.values(), ids=_SAVE_NO_ARRAYS.keys())
def test_ops_that_declare_they_save_no_arrays_keep_none(op):
    """saves_arrays = False spares recording versions for the in-place check: such an op must keep no input or
    output array for its backward."""
    x, y = mt.randn(3, 4, requires_grad=True), mt.randn(3, 4, requires_grad=True)
    out = op(x, y)
    fn = out.grad_fn
    assert not type(fn).saves_arrays and fn.changes_seen is None
    kept = list(vars(fn).values())
    assert not any(value is array for value in kept for array in (x.array, y.array, out.array))
