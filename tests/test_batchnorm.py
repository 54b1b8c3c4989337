"""BatchNorm: kernels against NumPy formulas, gradients by finite differences, parity with PyTorch
(outputs, gradients, running statistics over several steps, eval mode, state_dict)."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend, nn
from minitorch_cifar.kernels import batchnorm as kernels
from minitorch_cifar.nn import functional as F
from minitorch_cifar.testing import gradcheck

from helpers import assert_close, check_against_torch, kernel_build, torch  # noqa: F401 (kernel_build: a fixture)

pytestmark = pytest.mark.usefixtures("kernels")  # each test runs with the fast and the reference kernels

SHAPES = [(6, 3), (4, 3, 5), (4, 3, 5, 6)]


def channels_last(x):
    """The same values with the channel axis innermost in memory (an NCHW-shaped strided view)."""
    return np.moveaxis(np.ascontiguousarray(np.moveaxis(x, 1, -1)), -1, 1)


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("layout", ["first", "last"])
@pytest.mark.parametrize("shape", SHAPES)
def test_kernels_match_numpy(shape, layout, device, rng, kernel_build):
    x, g = rng.standard_normal(shape) + 3, rng.standard_normal(shape)
    if layout == "last":
        x, g = channels_last(x), channels_last(g)
    c = shape[1]
    a, b, scale, offset, grad_scale = (rng.standard_normal(c) for _ in range(5))
    axes = (0,) + tuple(range(2, len(shape)))
    per_channel = lambda v: v.reshape((1, c) + (1,) * (len(shape) - 2))  # noqa: E731
    on = lambda v: backend.to_device(v, device)  # noqa: E731
    sum_p, sum_pq = kernels.channel_sums(on(g), on(a), on(x), on(b))
    np.testing.assert_allclose(backend.to_device(sum_p, "cpu"), (g - per_channel(a)).sum(axis=axes), rtol=1e-12)
    np.testing.assert_allclose(backend.to_device(sum_pq, "cpu"),
                               ((g - per_channel(a)) * (x - per_channel(b))).sum(axis=axes), rtol=1e-12)
    out = kernels.channel_affine(on(x), on(a), on(scale), on(offset), grad=on(g), grad_scale=on(grad_scale))
    expected = (x - per_channel(a)) * per_channel(scale) + per_channel(offset) + g * per_channel(grad_scale)
    np.testing.assert_allclose(backend.to_device(out, "cpu"), expected, rtol=1e-12)
    plain = kernels.channel_affine(on(x), on(a), on(scale), on(offset))
    np.testing.assert_allclose(backend.to_device(plain, "cpu"), expected - g * per_channel(grad_scale), rtol=1e-12)


def test_channels_last_output_keeps_layout(rng):
    x = channels_last(rng.standard_normal((2, 3, 4, 5)).astype(np.float32))
    zeros = np.zeros(3)
    out = kernels.channel_affine(x, zeros, zeros + 1, zeros)
    assert out.dtype == np.float32 and out.strides == x.strides
    np.testing.assert_array_equal(out, x)


def test_float16_is_normalised_in_float32(device, rng):
    """Values near 1000 sit 0.5 apart in float16: shifting them by a mean in float16 would lose a third of their
    spread; computed in float32, only the result is rounded to float16 (as PyTorch does)."""
    shape, c = (4, 3, 5, 6), 3
    x = (1000 + rng.standard_normal(shape)).astype(np.float16)
    g = rng.standard_normal(shape).astype(np.float16)
    mean = x.astype(np.float64).mean(axis=(0, 2, 3)) + 0.3
    scale, offset, grad_scale = (rng.standard_normal(c) for _ in range(3))
    per_channel = lambda v: v.reshape(1, c, 1, 1)  # noqa: E731
    on = lambda v: backend.to_device(v, device)  # noqa: E731
    exact = (x - per_channel(mean)) * per_channel(scale) + per_channel(offset)
    for got, expected in [(kernels.channel_affine(on(x), on(mean), on(scale), on(offset)), exact),
                          (kernels.channel_affine(on(x), on(mean), on(scale), on(offset), grad=on(g),
                                                  grad_scale=on(grad_scale)), exact + g * per_channel(grad_scale))]:
        assert got.dtype == np.float16 and got.shape == shape
        np.testing.assert_allclose(backend.to_device(got, "cpu"), expected, rtol=2e-3, atol=2e-3)


def test_float16_layer_matches_torch_float16(device, rng):
    x = (rng.standard_normal((16, 8, 6, 6)) * 3 + 2).astype(np.float16)
    upstream = rng.standard_normal(x.shape).astype(np.float16)
    ours, theirs = nn.BatchNorm2d(8).to(device=device, dtype=mt.float16), torch.nn.BatchNorm2d(8).half()
    t, t_torch = mt.tensor(x, device=device, requires_grad=True), torch.tensor(x, requires_grad=True)
    out, out_torch = ours(t), theirs(t_torch)
    out.backward(mt.tensor(upstream, device=device))
    out_torch.backward(torch.from_numpy(upstream))
    assert out.dtype == np.float16 and t.grad.dtype == np.float16
    assert_close(out, out_torch, 2e-3, 2e-3, "float16 output")
    assert_close(t.grad, t_torch.grad, 2e-3, 2e-3, "float16 input gradient")
    assert_close(ours.weight.grad, theirs.weight.grad, 1e-2, 1e-2, "float16 weight gradient")


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_batch_norm_gradcheck(shape, training, rng):
    c = shape[1]
    x = mt.tensor(rng.standard_normal(shape) + 1, dtype=mt.float64, requires_grad=True)
    weight = mt.tensor(rng.standard_normal(c), dtype=mt.float64, requires_grad=True)
    bias = mt.tensor(rng.standard_normal(c), dtype=mt.float64, requires_grad=True)
    mean, var = mt.tensor(rng.standard_normal(c), dtype=mt.float64), mt.tensor(rng.random(c) + 0.5, dtype=mt.float64)
    gradcheck(lambda x, w, b: F.batch_norm(x, mean, var, w, b, training=training), [x, weight, bias])


# ----------------------------------------------------------------------------- parity with PyTorch
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_functional_matches_torch(shape, training, affine, device, rng):
    c = shape[1]
    mean, var = rng.standard_normal(c), rng.random(c) + 0.5
    ours_running = [mt.tensor(mean, device=device), mt.tensor(var, device=device)]
    their_running = [torch.tensor(mean), torch.tensor(var)]
    specs = [shape, (c,), (c,)] if affine else [shape]
    check_against_torch(specs, lambda x, *wb: F.batch_norm(x, *ours_running, *wb, training=training, momentum=0.3),
                        lambda x, *wb: torch.nn.functional.batch_norm(x, *their_running, *wb, training=training,
                                                                      momentum=0.3), device=device)
    for ours, theirs in zip(ours_running, their_running):
        assert_close(ours, theirs, 1e-12, 1e-12, "running statistics")


def _paired(layer, their_layer, device):
    """Give both layers the same random affine parameters."""
    torch.manual_seed(0)
    with torch.no_grad():
        for p in their_layer.parameters():
            p.uniform_(0.5, 1.5)
    layer.load_state_dict(their_layer.state_dict())
    return layer.to(device=device, dtype=np.float64), their_layer.double()


@pytest.mark.parametrize("make, shape", [
    (lambda m: m.BatchNorm2d(3), (4, 3, 5, 5)),
    (lambda m: m.BatchNorm2d(3, momentum=None), (4, 3, 5, 5)),
    (lambda m: m.BatchNorm2d(3, affine=False), (4, 3, 5, 5)),
    (lambda m: m.BatchNorm2d(3, momentum=0.5, track_running_stats=False), (4, 3, 5, 5)),
    (lambda m: m.BatchNorm2d(3, bias=False), (4, 3, 5, 5)),
    (lambda m: m.BatchNorm1d(3), (6, 3)),
    (lambda m: m.BatchNorm1d(3, momentum=None), (4, 3, 7)),
])
def test_layer_over_steps_then_eval_matches_torch(make, shape, device, rng):
    ours, theirs = _paired(make(nn), make(torch.nn), device)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for step in range(3):
        x = rng.standard_normal(shape) * (step + 1) + step
        check_against_torch([x], ours, theirs, device=device)
    for (name, mine), theirs_value in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert mine.dtype == theirs_value.numpy().dtype, name
        assert_close(mine, theirs_value, 1e-12, 1e-12, name)
    ours.eval(), theirs.eval()
    check_against_torch([rng.standard_normal(shape)], ours, theirs, device=device)


def test_float32_matches_torch_float32(rng):
    x = rng.standard_normal((16, 8, 6, 6)).astype(np.float32) * 3 + 2
    ours, theirs = nn.BatchNorm2d(8), torch.nn.BatchNorm2d(8)
    for _ in range(2):
        out = ours(mt.Tensor(x))
        assert out.dtype == np.float32 and ours.running_var.dtype == np.float32
        assert_close(out, theirs(torch.from_numpy(x)), 1e-5, 1e-5, "float32 output")
    assert_close(ours.running_var, theirs.running_var, 1e-6, 1e-6, "float32 running_var")


@pytest.mark.parametrize("training", [True, False])
def test_channels_last_input_gives_the_same_results(training, rng, kernel_build):
    x, upstream = rng.standard_normal((4, 3, 5, 6)), rng.standard_normal((4, 3, 5, 6))
    results = []
    for given in (x, channels_last(x)):
        layer = nn.BatchNorm2d(3).double().train(training)
        t = mt.Tensor(given, requires_grad=True)  # shares the array, keeping its strides
        out = layer(t)
        out.backward(mt.Tensor(upstream))
        results.append([out.array, t.grad.array, layer.weight.grad.array, layer.running_var.array])
    for ours, expected in zip(*results):
        np.testing.assert_allclose(ours, expected, rtol=1e-13, atol=1e-13)


def test_num_batches_tracked_is_an_int64_scalar_buffer():
    layer = nn.BatchNorm2d(2)
    for _ in range(2):
        layer(mt.randn(3, 2, 2, 2))
    assert layer.num_batches_tracked.shape == () and layer.num_batches_tracked.dtype == np.int64
    assert layer.num_batches_tracked.item() == 2
    layer.eval()(mt.randn(3, 2, 2, 2))
    assert layer.num_batches_tracked.item() == 2


@pytest.mark.parametrize("call, message", [
    (lambda: nn.BatchNorm2d(3)(mt.zeros(1, 3, 1, 1)), "more than 1 value per channel"),
    (lambda: nn.BatchNorm2d(3)(mt.zeros(2, 4, 2, 2)), "4 channels"),
    (lambda: nn.BatchNorm2d(3)(mt.zeros(2, 3)), "4D"),
    (lambda: nn.BatchNorm1d(3)(mt.zeros(2, 3, 2, 2)), "2D or 3D"),
    (lambda: F.batch_norm(mt.zeros(2, 3), None, None, training=False), "eval mode"),
    (lambda: F.batch_norm(mt.zeros(2, 3), mt.zeros(2), mt.ones(2), training=True), "does not fit 3 channels"),
])
def test_bad_input_is_named(call, message):
    with pytest.raises(ValueError, match=message):
        call()
