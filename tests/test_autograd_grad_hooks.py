"""autograd.grad / autograd.backward, Tensor.register_hook and Module's full backward hooks, against PyTorch."""
import numpy as np
import pytest
import torch

import minitorch_cifar as mt
from minitorch_cifar import autograd, nn


def make_pair():
    """The same small float64 network (conv, relu, linear) in both frameworks, and one batch of inputs."""
    rng = np.random.default_rng(0)
    ours = nn.Sequential(nn.Conv2d(2, 3, 3), nn.ReLU(), nn.Flatten(), nn.Linear(3 * 4 * 4, 4)).double()
    theirs = torch.nn.Sequential(torch.nn.Conv2d(2, 3, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                                 torch.nn.Linear(3 * 4 * 4, 4)).double()
    theirs.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in ours.state_dict().items()})
    x = rng.standard_normal((2, 2, 6, 6))
    return ours, theirs, x


def close(ours, theirs):
    np.testing.assert_allclose(ours.numpy(), theirs.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_grad_of_inputs_and_weights_matches_torch_and_leaves_every_grad_alone():
    ours, theirs, x = make_pair()
    our_x, their_x = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    upstream = np.random.default_rng(1).standard_normal((2, 4))
    our_grads = autograd.grad(ours(our_x), [our_x, ours[0].weight], grad_outputs=mt.tensor(upstream))
    their_grads = torch.autograd.grad(theirs(their_x), [their_x, theirs[0].weight], torch.tensor(upstream))
    assert isinstance(our_grads, tuple) and len(our_grads) == 2
    for a, b in zip(our_grads, their_grads):
        close(a, b)
    assert our_x.grad is None and all(p.grad is None for p in ours.parameters())


def test_grad_of_an_intermediate_tensor_and_of_several_outputs():
    ours, theirs, x = make_pair()
    our_x, their_x = mt.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    our_h, their_h = ours[0](our_x), theirs[0](their_x)
    our_out, their_out = ours[1:](our_h), theirs[1:](their_h)
    outs = lambda out, h: [out.sum(), (h * h).sum()]  # noqa: E731
    for a, b in zip(autograd.grad(outs(our_out, our_h), [our_h, our_x]),
                    torch.autograd.grad(outs(their_out, their_h), [their_h, their_x])):
        close(a, b)


def test_retain_graph_semantics():
    x = mt.tensor([1.0, 2.0], dtype=mt.float64, requires_grad=True)
    y = (x * x).sum()
    first, = autograd.grad(y, x, retain_graph=True)
    second, = autograd.grad(y, x)
    np.testing.assert_allclose(first.numpy(), second.numpy())
    with pytest.raises(RuntimeError, match="a second time"):
        autograd.grad(y, x)
    z = (x * x).sum()
    autograd.grad(z, x)  # the default frees the graph, as PyTorch's (retain_graph=create_graph=False)
    with pytest.raises(RuntimeError, match="a second time"):
        z.backward()


def test_grad_errors_and_allow_unused_as_torch():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    w = mt.tensor([3.0, 4.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad(mt.ones(2).sum(), x)
    with pytest.raises(RuntimeError, match="does not require grad"):
        autograd.grad((x * 2).sum(), mt.ones(2))
    with pytest.raises(RuntimeError, match="index 1 appears to not have been used"):
        autograd.grad((x * 2).sum(), [x, w])
    with pytest.raises(RuntimeError, match="only for scalar outputs"):
        autograd.grad(x * 2, x)
    with pytest.raises(RuntimeError, match=r"mismatch in shape.*\(3,\)"):
        autograd.grad(x * 2, x, mt.ones(3))
    with pytest.raises(NotImplementedError, match="create_graph"):
        autograd.grad((x * 2).sum(), x, create_graph=True)
    gx, gw = autograd.grad((x * 2).sum(), [x, w], allow_unused=True)
    assert gw is None and np.array_equal(gx.numpy(), [2.0, 2.0])
    _, gw = autograd.grad((x * 2).sum(), [x, w], materialize_grads=True)
    assert np.array_equal(gw.numpy(), [0.0, 0.0])
    only_x, = autograd.grad(x, x, mt.tensor([5.0, 6.0]))
    assert np.array_equal(only_x.numpy(), [5.0, 6.0])


def test_grad_runs_only_what_the_inputs_need():
    x, w = mt.tensor([1.0, 2.0], requires_grad=True), mt.tensor([3.0, 4.0], requires_grad=True)
    side = w.exp()
    side.register_hook(lambda g: pytest.fail("a hook off the path to the inputs ran"))
    autograd.grad((x * w).sum() + side.sum(), x)


def test_autograd_backward_with_several_tensors_and_inputs():
    rng = np.random.default_rng(2)
    x, w, g = rng.standard_normal(3), rng.standard_normal(3), rng.standard_normal(3)
    results = []
    for lib in (mt, torch):
        lx, lw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
        y = lx * lw
        lib.autograd.backward([y, (y * y).sum()], [lib.tensor(g), None])
        results.append((lx.grad.numpy().copy(), lw.grad.numpy().copy()))
        lx.grad = None
        lw.grad = None
        (lx * lw).sum().backward(inputs=[lx])
        results.append((lx.grad.numpy(), lw.grad))
    np.testing.assert_allclose(results[0], results[2])
    np.testing.assert_allclose(results[1][0], results[3][0])
    assert results[1][1] is None and results[3][1] is None


def hooked_run(lib, x, w):
    """Hooks on a leaf used twice and on an intermediate tensor (also retained), one replacing its gradient; the
    calls in order, with the gradient each saw."""
    calls = []
    lx, lw = lib.tensor(x, requires_grad=True), lib.tensor(w, requires_grad=True)
    lx.register_hook(lambda g: calls.append(("x", g.numpy().copy())))
    y = lx * lw + lx
    y.retain_grad()
    y.register_hook(lambda g: calls.append(("y", g.numpy().copy())))
    y.register_hook(lambda g: g * 3)
    removed = y.register_hook(lambda g: calls.append("removed"))
    removed.remove()
    (y * y).sum().backward()
    return calls, lx.grad.numpy(), lw.grad.numpy(), y.grad.numpy()


def test_tensor_hooks_as_torch():
    rng = np.random.default_rng(3)
    x, w = rng.standard_normal(4), rng.standard_normal(4)
    (our_calls, *ours), (their_calls, *theirs) = hooked_run(mt, x, w), hooked_run(torch, x, w)
    assert [c[0] for c in our_calls] == [c[0] for c in their_calls] == ["y", "x"]
    for a, b in zip(our_calls + ours, their_calls + theirs):
        np.testing.assert_allclose(a[1] if isinstance(a, tuple) else a, b[1] if isinstance(b, tuple) else b)


def test_hook_errors():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        mt.ones(2).register_hook(lambda g: g)
    x = mt.ones(2, requires_grad=True)
    x.register_hook(lambda g: mt.ones(3))
    with pytest.raises(RuntimeError, match="changed the size"):
        (x * 2).sum().backward()


def test_leaf_hook_and_grad_of_a_leaf_input():
    x = mt.tensor([1.0, 2.0], requires_grad=True)
    x.register_hook(lambda g: g * 10)
    gx, = autograd.grad((x * 2).sum(), x)
    assert np.array_equal(gx.numpy(), [20.0, 20.0]) and x.grad is None  # as PyTorch: the hooks run before


def module_hooks_run(lib, net, x, replace):
    """Grad-CAM's use (grad_output of the conv) and the others, in the order they are called."""
    seen = []
    shapes = lambda grads: [None if g is None else tuple(g.shape) for g in grads]  # noqa: E731
    net[0].register_full_backward_hook(lambda m, gi, go: seen.append(("conv", shapes(gi), go[0].numpy().copy())))
    net[1].register_full_backward_pre_hook(lambda m, go: seen.append(("relu pre", shapes(go))))
    net[1].register_full_backward_hook(lambda m, gi, go: seen.append(("relu", gi[0].numpy().copy(), shapes(go))))
    if replace:
        net[3].register_full_backward_hook(lambda m, gi, go: (gi[0] * 2,))
    inputs = lib.tensor(x)
    net(inputs).sum().backward()
    return seen, net[0].weight.grad.numpy()


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
@pytest.mark.parametrize("replace", [False, True])
def test_module_backward_hooks_as_torch(replace):
    our_net, their_net, x = make_pair()
    ours, our_grad = module_hooks_run(mt, our_net, x, replace)
    theirs, their_grad = module_hooks_run(torch, their_net, x, replace)
    assert [s[0] for s in ours] == [s[0] for s in theirs] == ["relu pre", "relu", "conv"]
    for a, b in zip(ours, theirs):
        for u, v in zip(a[1:], b[1:]):
            if isinstance(u, np.ndarray):
                np.testing.assert_allclose(u, v)
            else:
                assert u == v
    np.testing.assert_allclose(our_grad, their_grad)
