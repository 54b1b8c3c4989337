"""Convolution: im2col/col2im kernels against the NumPy reference, float64 gradients by finite differences,
conv2d and nn.Conv2d against PyTorch."""
import math

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend, nn
from minitorch_cifar.kernels import im2col as kernels
from minitorch_cifar.kernels import winograd
from minitorch_cifar.nn import functional as F
from minitorch_cifar.ops import conv as conv_op
from minitorch_cifar.testing import gradcheck

from helpers import assert_close, check_against_torch, torch

pytestmark = pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")

# (N, C_in, H, W), C_out, kernel, stride, padding, dilation, groups, bias: a covering subset of
# kernel 1/3/5/7, stride 1/2, padding 0..3/'same'/'valid', dilation 1/2, groups 1/2, odd sizes, batch 1 and 2
CONFIGS = [
    ((1, 2, 5, 5), 3, 1, 1, 0, 1, 1, True),
    ((2, 4, 6, 5), 4, 1, 2, 0, 1, 2, False),         # the ResNet downsample shape of a 1x1 conv, grouped
    ((2, 3, 7, 6), 4, 3, 1, 1, 1, 1, True),
    ((2, 4, 9, 7), 4, 3, 2, 0, 1, 2, False),
    ((1, 3, 6, 7), 2, 3, 1, 3, 1, 1, True),          # padding wider than the kernel's reach
    ((2, 2, 7, 8), 3, 3, 1, "same", 2, 1, False),
    ((1, 2, 8, 9), 3, 5, 1, "same", 1, 1, True),
    ((2, 2, 11, 10), 2, 5, 2, 2, 2, 1, False),
    ((2, 3, 9, 9), 2, 7, 1, 3, 1, 1, True),
    ((1, 4, 10, 11), 4, 7, 2, 3, 1, 2, True),
    ((2, 2, 6, 7), 3, (2, 3), (2, 1), (1, 0), (1, 2), 1, True),  # non-square everything
    ((1, 2, 6, 6), 2, 4, 1, "same", 1, 2, True),     # an even kernel: 'same' pads one more at the bottom/right
    ((2, 3, 5, 6), 2, 3, 1, "valid", 1, 1, True),
]
IDS = [f"k{c[2]}-s{c[3]}-p{c[4]}-d{c[5]}-g{c[6]}-{'b' if c[7] else 'nob'}-n{c[0][0]}" for c in CONFIGS]


def pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def weight_shape(config):
    shape, out_channels, kernel, _, _, _, groups, _ = config
    return (out_channels, shape[1] // groups) + pair(kernel)


def conv_args(config):
    _, _, _, stride, padding, dilation, groups, _ = config
    return dict(stride=stride, padding=padding, dilation=dilation, groups=groups)


def specs(config):
    return [config[0], weight_shape(config)] + ([(config[1],)] if config[7] else [])


def geometry_of(config):
    shape, _, kernel, stride, padding, dilation, groups, _ = config
    kernel, stride, dilation = pair(kernel), pair(stride), pair(dilation)
    pads = conv_op.padding_amounts(padding if isinstance(padding, str) else pair(padding), kernel, stride, dilation)
    out = tuple(kernels.output_size(n, k, s, p[0], p[1], d)
                for n, k, s, p, d in zip(shape[2:], kernel, stride, pads, dilation))
    return kernels.ConvGeometry(kernel, stride, (pads[0][0], pads[1][0]), dilation, groups, out)


def channels_last(x):
    """The same values as an (N, C, H, W) view of NHWC memory."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


@pytest.fixture
def many_chunks(monkeypatch):
    """Cut every batch into one-image chunks, so that the threaded chunk loop runs and its sums are combined."""
    monkeypatch.setattr(conv_op, "CHUNK_BYTES", 1)


@pytest.fixture
def winograd_everywhere(monkeypatch):
    """Take the Winograd path for every 3x3 stride-1 convolution, however few its channels."""
    monkeypatch.setattr(conv_op, "WINOGRAD_MIN_CHANNELS", 1)


@pytest.fixture
def patch_matrix_everywhere(monkeypatch):
    """Take the im2col path for every convolution with few channels, instead of the kernel rows."""
    monkeypatch.setattr(conv_op, "KERNEL_ROWS_MAX_CHANNELS", 0)


# the configurations Winograd's F(2x2, 3x3) serves on the CPU: 3x3 kernel, stride 1, no dilation, no groups
WINOGRAD = [(c, i) for c, i in zip(CONFIGS, IDS) if c[2] == 3 and c[3] == 1 and c[5] == 1 and c[6] == 1]
# the configurations the kernel rows serve on the CPU (all have few channels): vertical stride 1, taller than
# one row, no groups; the other tests run them that way, and test_patch_matrix_... the im2col way
KERNEL_ROWS = [(c, i) for c, i in zip(CONFIGS, IDS) if pair(c[2])[0] > 1 and pair(c[3])[0] == 1 and c[6] == 1]


# ----------------------------------------------------------------------------- kernels
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_kernels_match_reference(config, device, rng):
    geometry = geometry_of(config)
    n, c, h, w = config[0]
    x = rng.standard_normal((n, h, w, c))
    expected = kernels.reference_im2col(x, geometry)
    cols = kernels.im2col(backend.to_device(x, device), geometry)
    np.testing.assert_array_equal(backend.to_device(cols, "cpu"), expected)
    grad_cols = rng.standard_normal(expected.shape)
    grad_x = kernels.col2im(backend.to_device(grad_cols, device), geometry, x.shape)
    np.testing.assert_allclose(backend.to_device(grad_x, "cpu"), kernels.reference_col2im(grad_cols, geometry, x.shape),
                               rtol=1e-12, atol=1e-12)


def test_col2im_is_the_adjoint_of_im2col(rng):
    """<im2col(x), P> = <x, col2im(P)> for any x and P: the defining property of the backward."""
    geometry = geometry_of(CONFIGS[10])
    x = rng.standard_normal((2, 6, 7, 2))
    p = rng.standard_normal(kernels.reference_im2col(x, geometry).shape)
    assert np.vdot(kernels.im2col(x, geometry), p) == pytest.approx(np.vdot(x, kernels.col2im(p, geometry, x.shape)))


@pytest.mark.parametrize("config", [c for c, _ in WINOGRAD], ids=[i for _, i in WINOGRAD])
def test_winograd_transforms_match_reference_and_their_adjoints(config, rng):
    n, c, h, w = config[0]
    geometry = geometry_of(config)
    grid = winograd.tile_grid(geometry.output)
    x = rng.standard_normal((n, h, w, c))
    v = winograd.input_tiles(x, geometry.padding, grid, np.empty((16, n * grid[0] * grid[1], c)))
    np.testing.assert_allclose(v, winograd.reference_input_tiles(x, geometry.padding, grid), rtol=1e-12, atol=1e-12)
    m = rng.standard_normal((16, v.shape[1], 3))
    y = winograd.output_tiles(m, grid, np.empty((n,) + geometry.output + (3,)))
    np.testing.assert_allclose(y, winograd.reference_output_tiles(m, grid, geometry.output), rtol=1e-12, atol=1e-12)
    # the backward kernels are the adjoints: <T a, b> = <a, T^T b>
    dv, dy = rng.standard_normal(v.shape), rng.standard_normal(y.shape)
    assert np.vdot(v, dv) == pytest.approx(np.vdot(x, winograd.input_tiles_adjoint(dv, geometry.padding, grid,
                                                                                   np.empty_like(x))))
    assert np.vdot(y, dy) == pytest.approx(np.vdot(m, winograd.output_tiles_adjoint(dy, grid, np.empty_like(m))))


def test_winograd_weight_transform_matches_reference_and_its_adjoint(rng):
    w = rng.standard_normal((5, 4, 3, 3))
    u_t = winograd.transform_weight(w)
    np.testing.assert_allclose(u_t, winograd.reference_transform_weight(w), rtol=1e-12, atol=1e-12)
    du = rng.standard_normal(u_t.shape)
    assert np.vdot(u_t, du) == pytest.approx(np.vdot(w, winograd.weight_gradient(du)))


# ----------------------------------------------------------------------------- gradients
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_gradients_match_finite_differences(config, rng):
    tensors = [mt.tensor(rng.uniform(-1, 1, s), requires_grad=True) for s in specs(config)]
    gradcheck(lambda *t: F.conv2d(*t, **conv_args(config)), tensors)


@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_conv2d_matches_pytorch(config, device):
    check_against_torch(specs(config), lambda *t: F.conv2d(*t, **conv_args(config)),
                        lambda *t: torch.nn.functional.conv2d(*t, **conv_args(config)), device=device,
                        rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("config", [c for c, _ in WINOGRAD], ids=[i for _, i in WINOGRAD])
def test_winograd_gradients_and_pytorch_parity(config, winograd_everywhere, many_chunks, rng):
    tensors = [mt.tensor(rng.uniform(-1, 1, s), requires_grad=True) for s in specs(config)]
    gradcheck(lambda *t: F.conv2d(*t, **conv_args(config)), tensors)
    check_against_torch(specs(config), lambda *t: F.conv2d(*t, **conv_args(config)),
                        lambda *t: torch.nn.functional.conv2d(*t, **conv_args(config)), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("config", [c for c, _ in KERNEL_ROWS], ids=[i for _, i in KERNEL_ROWS])
def test_patch_matrix_gradients_and_pytorch_parity_where_kernel_rows_would_serve(config, patch_matrix_everywhere,
                                                                                  rng):
    tensors = [mt.tensor(rng.uniform(-1, 1, s), requires_grad=True) for s in specs(config)]
    gradcheck(lambda *t: F.conv2d(*t, **conv_args(config)), tensors)
    check_against_torch(specs(config), lambda *t: F.conv2d(*t, **conv_args(config)),
                        lambda *t: torch.nn.functional.conv2d(*t, **conv_args(config)), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("in_channels, kernel, stride, groups, method", [
    (3, 7, 1, 1, "_KernelRows"),   # AlexNet's first layer
    (3, 3, 1, 1, "_KernelRows"),   # the first layer of the CNNs and ResNets
    (8, (5, 1), (1, 2), 1, "_KernelRows"),
    (16, 3, 1, 1, "_Winograd"),
    (16, 5, 1, 1, "_Im2col"),
    (3, 3, 2, 1, "_Im2col"),       # vertical stride 2
    (4, 3, 1, 2, "_Im2col"),       # groups
    (3, (1, 3), 1, 1, "_Im2col"),  # one kernel row: the patch matrix is already that small
])
def test_each_layer_takes_the_method_meant_for_it(in_channels, kernel, stride, groups, method):
    kernel, stride = pair(kernel), pair(stride)
    geometry = kernels.ConvGeometry(kernel, stride, (1, 1), (1, 1), groups, (8, 8))
    weight = np.zeros((4, in_channels // groups) + kernel, np.float32)
    assert type(conv_op._method(np, weight, geometry, (2, 16, 16, in_channels))).__name__ == method


@pytest.mark.parametrize("config", [CONFIGS[2], CONFIGS[3], CONFIGS[9]], ids=[IDS[2], IDS[3], IDS[9]])
def test_chunks_on_threads_give_the_same_result(config, many_chunks, device):
    check_against_torch(specs(config), lambda *t: F.conv2d(*t, **conv_args(config)),
                        lambda *t: torch.nn.functional.conv2d(*t, **conv_args(config)), device=device,
                        rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("in_channels", [8, 32])  # kernel rows, and Winograd on the CPU
def test_gradients_do_not_depend_on_which_thread_ran_which_chunk(in_channels, many_chunks, rng):
    x = mt.tensor(rng.standard_normal((6, in_channels, 9, 8)).astype(np.float32), requires_grad=True)
    w = mt.tensor(rng.standard_normal((16, in_channels, 3, 3)).astype(np.float32), requires_grad=True)
    grads = []
    for _ in range(4):
        x.grad = w.grad = None
        F.conv2d(x, w, padding=1).sum().backward()
        grads.append((x.grad.numpy(), w.grad.numpy()))
    for gx, gw in grads[1:]:
        np.testing.assert_array_equal(gx, grads[0][0])
        np.testing.assert_array_equal(gw, grads[0][1])


@pytest.mark.parametrize("in_channels", [8, 32])  # kernel rows, and Winograd on the CPU
def test_float32_matches_pytorch_on_a_cifar_sized_layer(in_channels, device, many_chunks):
    check_against_torch([(4, in_channels, 16, 15), (32, in_channels, 3, 3), (32,)],
                        lambda x, w, b: F.conv2d(x, w, b, padding=1),
                        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=1), device=device,
                        dtype=np.float32, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout", ["channels_last", "strided"])
def test_any_input_layout_gives_the_same_result(layout, rng):
    x = rng.standard_normal((2, 3, 6, 5))
    given = channels_last(x) if layout == "channels_last" else np.repeat(x, 2, axis=3)[..., ::2]
    w = mt.tensor(rng.standard_normal((4, 3, 3, 3)))
    expected = F.conv2d(mt.tensor(x), w, padding=1).numpy()
    np.testing.assert_array_equal(F.conv2d(mt.tensor(given), w, padding=1).numpy(), expected)


def test_output_is_channels_last_and_float32_stays_float32():
    out = F.conv2d(mt.randn(2, 3, 8, 8), mt.randn(5, 3, 3, 3), mt.randn(5), padding=1)
    assert out.dtype == np.float32 and out.shape == (2, 5, 8, 8)
    assert out.array.transpose(0, 2, 3, 1).flags.c_contiguous


def test_unbatched_input_and_no_grad(device):
    x = mt.randn(3, 7, 7, device=device, dtype=mt.float64)
    w = mt.randn(4, 3, 3, 3, device=device, dtype=mt.float64, requires_grad=True)
    out = F.conv2d(x, w, stride=2)
    assert out.shape == (4, 3, 3)
    assert_close(out, F.conv2d(x.unsqueeze(0), w, stride=2).squeeze(0), 0, 0, "unbatched")
    with mt.no_grad():
        assert not F.conv2d(x, w).requires_grad


@pytest.mark.parametrize("call, message", [
    (lambda: F.conv2d(mt.randn(1, 4, 5, 5), mt.randn(2, 3, 3, 3)), "expects input with 3 channels"),
    (lambda: F.conv2d(mt.randn(1, 4, 5, 5), mt.randn(3, 2, 3, 3), groups=2), "divides the 3 output channels"),
    (lambda: F.conv2d(mt.randn(1, 3, 5, 5), mt.randn(2, 3, 3, 3), stride=2, padding="same"), "strided"),
    (lambda: F.conv2d(mt.randn(1, 3, 5, 5), mt.randn(2, 3, 3, 3), padding="full"), "'valid' or 'same'"),
    (lambda: F.conv2d(mt.randn(1, 3, 2, 5), mt.randn(2, 3, 3, 3)), "smaller than the dilated kernel"),
    (lambda: F.conv2d(mt.randn(3, 5, 5), mt.randn(2, 3, 3)), "weight of shape"),
    (lambda: F.conv2d(mt.randn(5, 5), mt.randn(2, 3, 3, 3)), "input of shape"),
    (lambda: F.conv2d(mt.randn(1, 3, 5, 5), mt.randn(2, 3, 3, 3), mt.randn(3)), "bias of shape"),
    (lambda: F.conv2d(mt.randn(1, 3, 5, 5), mt.randn(2, 3, 3, 3), stride=0), "stride must be at least 1"),
    (lambda: F.conv2d(mt.randn(1, 3, 5, 5, dtype=mt.float64), mt.randn(2, 3, 3, 3)), "one floating dtype"),
])
def test_bad_arguments_are_named(call, message):
    with pytest.raises((ValueError, TypeError), match=message):
        call()


# ----------------------------------------------------------------------------- nn.Conv2d
LAYERS = [
    dict(in_channels=3, out_channels=8, kernel_size=3, padding=1),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 5), stride=(2, 1), padding=(0, 2), dilation=(2, 1), groups=2,
         bias=False),
    dict(in_channels=2, out_channels=4, kernel_size=4, padding="same"),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding=2, padding_mode="reflect"),
    dict(in_channels=2, out_channels=3, kernel_size=3, padding=(1, 2), padding_mode="replicate", stride=2),
    dict(in_channels=2, out_channels=3, kernel_size=4, padding="same", padding_mode="circular"),
]


@pytest.mark.parametrize("kwargs", LAYERS)
def test_layer_matches_pytorch(kwargs, device):
    ours, theirs = nn.Conv2d(**kwargs).double(), torch.nn.Conv2d(**kwargs).double()
    assert repr(ours) == repr(theirs)
    assert [(k, v.shape) for k, v in ours.state_dict().items()] == \
           [(k, tuple(v.shape)) for k, v in theirs.state_dict().items()]
    ours.load_state_dict(theirs.state_dict())
    ours.to(device)
    check_against_torch([(2, kwargs["in_channels"], 7, 8)], ours, theirs, device=device)
    for name, p in ours.named_parameters():
        assert_close(p.grad, dict(theirs.named_parameters())[name].grad, 1e-10, 1e-12, f"gradient of {name}")


def test_layer_default_init_follows_pytorchs_distribution():
    layer = nn.Conv2d(50, 40, 3)
    bound = 1 / math.sqrt(50 * 9)
    w, b = layer.weight.detach().numpy(), layer.bias.detach().numpy()
    assert w.dtype == np.float32 and w.shape == (40, 50, 3, 3)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.02 * bound  # U(-b, b) has std b/sqrt(3)
    assert np.abs(b).max() <= bound


@pytest.mark.parametrize("kwargs, message", [
    (dict(in_channels=3, out_channels=4, kernel_size=3, groups=2), "groups=2 must divide"),
    (dict(in_channels=2, out_channels=4, kernel_size=3, padding_mode="mirror"), "padding_mode"),
    (dict(in_channels=2, out_channels=4, kernel_size=3, stride=2, padding="same"), "strided"),
])
def test_layer_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(**kwargs)
