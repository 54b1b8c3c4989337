"""Pooling: kernels against the NumPy reference, gradients by finite differences, parity with PyTorch."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend, nn
from minitorch_cifar.kernels import pooling
from minitorch_cifar.nn import functional as F
from minitorch_cifar.testing import gradcheck

from helpers import assert_close, check_against_torch, kernel_build, torch  # noqa: F401 (kernel_build: a fixture)

pytestmark = pytest.mark.usefixtures("kernels")  # each test runs with the fast and the reference kernels

# (input H, W), kernel, stride, padding, dilation, ceil_mode
SLIDING = [
    ((8, 8), 2, 2, 0, 1, False),   # MaxPool2d(2): the numba kernels' halving windows
    ((7, 9), 2, 2, 0, 1, False),   # the same on odd sizes: the last row and column are left out
    ((7, 9), 3, 2, 1, 1, False),   # the ResNet stem on odd sizes
    ((7, 9), 3, 2, 1, 1, True),
    ((5, 5), 2, 2, 1, 1, True),    # ceil_mode: the last window would start in the right padding
    ((6, 7), (3, 2), (2, 1), (1, 0), 1, True),
    ((10, 9), 3, 2, 1, 2, True),   # dilation
    ((4, 4), 4, 1, 2, 1, False),
]
AVERAGE = [c for c in SLIDING if c[4] == 1]


def distinct(shape, rng, scale=0.1):
    """Values spaced `scale` apart in random order: no ties, so max-pool is differentiable."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * scale - 1.0


def channels_last(x):
    """The same values as an NCHW-shaped view of NHWC memory."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def windows_of(config):
    hw, k, s, p, d, ceil = config
    pair = lambda v: (v, v) if isinstance(v, int) else v  # noqa: E731
    return pooling.sliding_windows(hw, pair(k), pair(s), pair(p), pair(d), ceil)


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("layout", ["nchw", "nhwc", "strided"])
@pytest.mark.parametrize("config", SLIDING)
def test_max_kernel_matches_reference(config, layout, device, rng, kernel_build):
    x = rng.integers(0, 4, (2, 3) + config[0]).astype(np.float32)  # many ties: the first maximum must win
    x[0, 0, 0, :2] = np.nan
    windows, _ = windows_of(config)
    expected, expected_indices = pooling.reference_max_pool(x, windows)
    given = {"nchw": x, "nhwc": channels_last(x), "strided": np.repeat(x, 2, axis=3)[..., ::2]}[layout]
    out, indices = pooling.max_pool_forward(backend.to_device(given, device), windows)
    np.testing.assert_array_equal(backend.to_device(out, "cpu"), expected)
    np.testing.assert_array_equal(backend.to_device(indices, "cpu"), expected_indices)
    grad = rng.standard_normal(out.shape).astype(np.float32)
    grad_input = pooling.max_pool_backward(backend.to_device(grad, device), indices, windows, x.shape,
                                           layout == "nhwc")
    np.testing.assert_allclose(backend.to_device(grad_input, "cpu"),
                               pooling.reference_max_pool_backward(grad, expected_indices, x.shape), rtol=1e-6)


@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("config", AVERAGE)
def test_avg_kernel_matches_reference(config, include_pad, layout, device, rng, kernel_build):
    x = rng.standard_normal((2, 3) + config[0])
    windows, padded = windows_of(config)
    divisor = pooling.window_divisor(windows, padded if include_pad else None)
    given = channels_last(x) if layout == "nhwc" else x
    out = pooling.avg_pool_forward(backend.to_device(given, device), windows, divisor)
    np.testing.assert_allclose(backend.to_device(out, "cpu"), pooling.reference_avg_pool(x, windows, divisor),
                               rtol=1e-12)
    grad = rng.standard_normal(out.shape)
    grad_input = pooling.avg_pool_backward(backend.to_device(grad, device), windows, divisor, x.shape, layout == "nhwc")
    np.testing.assert_allclose(backend.to_device(grad_input, "cpu"),
                               pooling.reference_avg_pool_backward(grad, windows, divisor, x.shape), rtol=1e-12)


@pytest.mark.parametrize("output_hw", [(1, 1), (2, 3)])
def test_adaptive_kernels_on_channels_last_input(output_hw, rng, kernel_build):
    """A 1x1 output is C-contiguous in both layouts: the kernels must still follow the input's."""
    x = rng.standard_normal((3, 5, 4, 6))
    windows = pooling.adaptive_windows((4, 6), output_hw)
    divisor = pooling.window_divisor(windows)
    out = pooling.avg_pool_forward(channels_last(x), windows, divisor)
    np.testing.assert_allclose(out, pooling.reference_avg_pool(x, windows, divisor), rtol=1e-12)
    grad = rng.standard_normal(out.shape)
    np.testing.assert_allclose(pooling.avg_pool_backward(grad, windows, divisor, x.shape, True),
                               pooling.reference_avg_pool_backward(grad, windows, divisor, x.shape), rtol=1e-12)
    out, indices = pooling.max_pool_forward(channels_last(x), windows)
    expected, expected_indices = pooling.reference_max_pool(x, windows)
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_array_equal(pooling.max_pool_backward(grad, indices, windows, x.shape, True),
                                  pooling.reference_max_pool_backward(grad, expected_indices, x.shape))


def test_channels_last_input_keeps_its_layout(rng, kernel_build):
    x = channels_last(rng.standard_normal((2, 4, 6, 6)).astype(np.float32))
    windows, _ = windows_of(((6, 6), 2, 2, 0, 1, False))
    out, indices = pooling.max_pool_forward(x, windows)
    assert pooling.is_channels_last(out) and pooling.is_channels_last(indices) and out.dtype == np.float32
    assert pooling.is_channels_last(pooling.max_pool_backward(np.ones_like(out), indices, windows, x.shape, True))


def test_halving_windows_are_exactly_2x2_side_by_side():
    """Windows.halving picks the numba kernel of MaxPool2d(2): 2x2 windows from (2i, 2j), odd sizes included (the
    last row and column are left out), and adaptive bins that fall the same way; not a partial last window."""
    assert windows_of(((8, 8), 2, 2, 0, 1, False))[0].halving
    assert windows_of(((7, 9), 2, 2, 0, 1, False))[0].halving
    assert pooling.adaptive_windows((8, 6), (4, 3)).halving
    assert not windows_of(((7, 9), 2, 2, 0, 1, True))[0].halving       # ceil_mode: a last window of one row
    assert not windows_of(((8, 8), 3, 2, 1, 1, False))[0].halving      # the ResNet stem's
    assert not windows_of(((8, 8), 2, 1, 0, 1, False))[0].halving      # stride 1: overlapping
    assert not windows_of(((8, 8), 2, 2, 0, 2, False))[0].halving      # dilated


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("config", SLIDING)
def test_max_pool_gradcheck(config, rng):
    hw, k, s, p, d, ceil = config
    x = mt.tensor(distinct((2, 2) + hw, rng), dtype=mt.float64, requires_grad=True)
    gradcheck(lambda t: F.max_pool2d(t, k, s, p, d, ceil), [x])


@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("config", AVERAGE)
def test_avg_pool_gradcheck(config, include_pad, rng):
    hw, k, s, p, _, ceil = config
    x = mt.tensor(rng.standard_normal((2, 2) + hw), dtype=mt.float64, requires_grad=True)
    gradcheck(lambda t: F.avg_pool2d(t, k, s, p, ceil, include_pad), [x])


@pytest.mark.parametrize("pool", [F.adaptive_avg_pool2d, F.adaptive_max_pool2d])
def test_adaptive_gradcheck(pool, rng):
    x = mt.tensor(distinct((2, 2, 7, 5), rng), dtype=mt.float64, requires_grad=True)
    gradcheck(lambda t: pool(t, (3, 2)), [x])


# ----------------------------------------------------------------------------- parity with PyTorch
@pytest.mark.parametrize("config", SLIDING)
def test_max_pool2d_matches_torch(config, device, rng):
    hw, k, s, p, d, ceil = config
    check_against_torch([distinct((3, 4) + hw, rng)], lambda t: F.max_pool2d(t, k, s, p, d, ceil),
                        lambda t: torch.nn.functional.max_pool2d(t, k, s, p, d, ceil), device=device)


@pytest.mark.parametrize("window", [(3, 2, 1), (2, 2, 0)])  # (kernel, stride, padding); 2, 2, 0: the halving kernel
@pytest.mark.parametrize("layout", ["nchw", "nhwc"])
def test_max_pool_ties_and_nan_indices_match_torch(layout, window, rng):
    """The first maximum wins a tie and the last NaN wins over numbers, a NaN in each place of a 2x2 window."""
    x = rng.integers(0, 3, (2, 3, 9, 9)).astype(np.float32)
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = x[1, 2, 4, 4] = np.nan
    x[1, 0, 0, 1] = x[1, 0, 3, 2] = x[1, 1, 5, 7] = np.nan
    x = channels_last(x) if layout == "nhwc" else x
    ours, our_indices = F.max_pool2d(mt.Tensor(x), *window, return_indices=True)
    theirs, their_indices = torch.nn.functional.max_pool2d(torch.from_numpy(x), *window, return_indices=True)
    assert_close(ours, theirs, 0, 0, "max values")
    assert our_indices.dtype == np.int64
    assert_close(our_indices, their_indices, 0, 0, "indices")


@pytest.mark.parametrize("pool", [
    lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: F.max_pool2d(t, 2, ceil_mode=True),
    lambda t: F.avg_pool2d(t, 3, 2, 1, count_include_pad=False), lambda t: F.adaptive_avg_pool2d(t, (3, 2)),
    lambda t: F.adaptive_avg_pool2d(t, 1), lambda t: F.adaptive_max_pool2d(t, 1)])
def test_channels_last_input_gives_the_same_results(pool, rng):
    x = distinct((2, 3, 7, 7), rng)
    results = []
    for given in (x, channels_last(x)):
        t = mt.Tensor(given, requires_grad=True)  # shares the array, keeping its strides
        out = pool(t)
        out.backward(mt.Tensor(np.arange(out.numel(), dtype=np.float64).reshape(out.shape)))
        results.append((out.array, t.grad.array))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-15)


@pytest.mark.parametrize("divisor_override", [None, 3])
@pytest.mark.parametrize("include_pad", [True, False])
@pytest.mark.parametrize("config", AVERAGE)
def test_avg_pool2d_matches_torch(config, include_pad, divisor_override, device):
    hw, k, s, p, _, ceil = config
    check_against_torch([(2, 3) + hw], lambda t: F.avg_pool2d(t, k, s, p, ceil, include_pad, divisor_override),
                        lambda t: torch.nn.functional.avg_pool2d(t, k, s, p, ceil, include_pad, divisor_override),
                        device=device)


@pytest.mark.parametrize("size, output_size", [((7, 5), (3, 2)), ((4, 4), 1), ((5, 11), (5, 4)), ((3, 3), (5, None)),
                                               ((6, 6), (4, 4))])
def test_adaptive_pools_match_torch(size, output_size, device, rng):
    x = distinct((2, 3) + size, rng)
    check_against_torch([x], lambda t: F.adaptive_avg_pool2d(t, output_size),
                        lambda t: torch.nn.functional.adaptive_avg_pool2d(t, output_size), device=device)
    check_against_torch([x], lambda t: F.adaptive_max_pool2d(t, output_size),
                        lambda t: torch.nn.functional.adaptive_max_pool2d(t, output_size), device=device)
    _, ours = F.adaptive_max_pool2d(mt.tensor(x, device=device), output_size, return_indices=True)
    _, theirs = torch.nn.functional.adaptive_max_pool2d(torch.tensor(x), output_size, return_indices=True)
    assert_close(ours, theirs, 0, 0, "adaptive max indices")


def test_unbatched_input_matches_torch(rng):
    x = distinct((3, 7, 7), rng)
    check_against_torch([x], lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: torch.nn.functional.max_pool2d(t, 3, 2, 1))
    check_against_torch([x], lambda t: F.avg_pool2d(t, 2), lambda t: torch.nn.functional.avg_pool2d(t, 2))
    ours = F.max_pool2d(mt.tensor(x), 2, return_indices=True)[1]
    assert_close(ours, torch.nn.functional.max_pool2d(torch.tensor(x), 2, return_indices=True)[1], 0, 0, "indices")


@pytest.mark.parametrize("ours, theirs", [
    (nn.MaxPool2d(2), torch.nn.MaxPool2d(2)),
    (nn.MaxPool2d(3, 2, 1, ceil_mode=True), torch.nn.MaxPool2d(3, 2, 1, ceil_mode=True)),
    (nn.AvgPool2d(3, 1, 1, count_include_pad=False), torch.nn.AvgPool2d(3, 1, 1, count_include_pad=False)),
    (nn.AdaptiveAvgPool2d(1), torch.nn.AdaptiveAvgPool2d(1)),
    (nn.AdaptiveAvgPool2d((2, None)), torch.nn.AdaptiveAvgPool2d((2, None))),
    (nn.AdaptiveMaxPool2d(3), torch.nn.AdaptiveMaxPool2d(3)),
])
def test_layers_match_torch(ours, theirs, rng):
    assert repr(ours) == repr(theirs)
    check_against_torch([distinct((2, 3, 9, 9), rng)], ours, theirs)


def test_float32_stays_float32(rng):
    x = mt.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32), requires_grad=True)
    for out in (F.max_pool2d(x, 2), F.avg_pool2d(x, 3, 2, 1), F.adaptive_avg_pool2d(x, 3), F.adaptive_max_pool2d(x, 3)):
        assert out.dtype == np.float32
        out.sum().backward()
        assert x.grad.dtype == np.float32


@pytest.mark.parametrize("call, message", [
    (lambda x: F.max_pool2d(x, 3, 1, 2), "at most half"),
    (lambda x: F.max_pool2d(x, 9), "too small"),
    (lambda x: F.max_pool2d(x, 0), "kernel_size"),
    (lambda x: F.max_pool2d(x[0, 0], 2), r"\(N, C, H, W\)"),
    (lambda x: F.avg_pool2d(x, 2, divisor_override=0), "divisor_override"),
    (lambda x: F.adaptive_avg_pool2d(x, (0, 2)), "output_size"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises(ValueError, match=message):
        call(mt.zeros(1, 2, 8, 8))
