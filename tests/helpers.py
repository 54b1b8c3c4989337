"""One helper compares an op of ours with PyTorch's: forward values and every input's gradient."""
import numba
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar.kernels import sized

torch = pytest.importorskip("torch")


def to_numpy(x):
    if isinstance(x, mt.Tensor):
        return mt.backend.to_device(x.array, "cpu")
    if isinstance(x, torch.Tensor):
        return x.detach().numpy()
    return np.asarray(x)


def assert_close(ours, theirs, rtol, atol, what):
    a, b = to_numpy(ours), to_numpy(theirs)
    assert a.shape == b.shape, f"{what}: shape {a.shape} against PyTorch's {b.shape}"
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol, err_msg=what)


def make_inputs(specs, rng, dtype=np.float64, low=-2.0, high=2.0):
    """A spec is a shape (uniform random floats in [low, high)) or a ready array (used as given)."""
    return [np.asarray(s) if isinstance(s, np.ndarray) else rng.uniform(low, high, s).astype(dtype) for s in specs]


def check_against_torch(specs, ours, theirs, device="cpu", dtype=np.float64, rtol=1e-6, atol=1e-8, grad=True,
                        seed=0, low=-2.0, high=2.0):
    """Run ``ours`` on minitorch_cifar tensors and ``theirs`` on torch tensors made from the same arrays;
    compare the outputs, then back-propagate one random upstream gradient and compare input gradients.
    Float inputs require grad; integer inputs (labels, indices) are passed through."""
    rng = np.random.default_rng(seed)
    arrays = make_inputs(specs, rng, dtype, low, high)
    needs = [grad and a.dtype.kind == "f" for a in arrays]
    our_in = [mt.Tensor(a.copy(), device=device, requires_grad=n) for a, n in zip(arrays, needs)]
    their_in = [torch.tensor(a.copy(), requires_grad=n) for a, n in zip(arrays, needs)]
    out, expected = ours(*our_in), theirs(*their_in)
    assert_close(out, expected, rtol, atol, "forward")
    if not grad:
        return out
    upstream = rng.standard_normal(expected.shape)
    out.backward(mt.Tensor(upstream.astype(out.dtype), device=device))
    expected.backward(torch.tensor(upstream, dtype=expected.dtype))
    for i, (o, t) in enumerate(zip(our_in, their_in)):
        if t.requires_grad:
            assert o.grad is not None, f"input {i}: no gradient"
            assert_close(o.grad, t.grad, rtol, atol, f"gradient of input {i}")
    return out


@pytest.fixture(params=["serial", "parallel"])
def kernel_build(request, monkeypatch):
    """Run the numba kernels made by ``kernels.sized`` in their serial or parallel build, whatever the input's size
    (in fast mode, whatever the kernels setting: these tests hold the fast kernels against the reference)."""
    if request.param == "parallel" and numba.get_num_threads() < 2:
        pytest.skip("numba has a single thread")
    monkeypatch.setattr(sized, "PARALLEL_MIN_ELEMENTS", 0 if request.param == "parallel" else 1 << 62)
    with mt.use_kernels("fast"):
        yield request.param
