"""Convolution: the reference conv2d and im2col/col2im against PyTorch and the fast kernels, each fast method
forced in turn against the reference, PyTorch and float64 finite differences, the reference kernels' path,
which method each layer takes, conv2d and nn.Conv2d against PyTorch."""
import math
import os
import subprocess
import sys
import types

import numba
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend, nn
from minitorch_cifar.kernels import conv_methods, direct_conv, im2col, im2col_fast, winograd, workers
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
    ((2, 3, 9, 7), 4, 5, 1, 1, 1, 1, True),          # 5x5 on odd sizes: Winograd's last tiles stick out
    ((2, 2, 11, 10), 2, 5, 2, 2, 2, 1, False),
    ((2, 3, 9, 9), 2, 7, 1, 3, 1, 1, True),
    ((1, 4, 10, 11), 4, 7, 2, 3, 1, 2, True),
    ((2, 2, 6, 7), 3, (2, 3), (2, 1), (1, 0), (1, 2), 1, True),  # non-square everything
    ((1, 2, 6, 6), 2, 4, 1, "same", 1, 2, True),     # an even kernel: 'same' pads one more at the bottom/right
    ((2, 3, 5, 6), 2, 3, 1, "valid", 1, 1, True),
    ((1, 1, 4, 4), 2, 3, 1, 0, 1, 1, True),          # a 2x2 output: one Winograd tile
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
    out = tuple(im2col.output_size(n, k, s, p[0], p[1], d)
                for n, k, s, p, d in zip(shape[2:], kernel, stride, pads, dilation))
    return im2col.ConvGeometry(kernel, stride, (pads[0][0], pads[1][0]), dilation, groups, out)


def channels_last(x):
    """The same values as an (N, C, H, W) view of NHWC memory."""
    return np.ascontiguousarray(x.transpose(0, 2, 3, 1)).transpose(0, 3, 1, 2)


def torch_conv(config):
    return lambda *t: torch.nn.functional.conv2d(*t, **conv_args(config))


def our_conv(config):
    return lambda *t: F.conv2d(*t, **conv_args(config))


@pytest.fixture
def many_chunks(monkeypatch):
    """Cut every batch into one-image chunks, so that the chunk loop (on every thread on the CPU, however little
    the work) runs and its sums are combined."""
    monkeypatch.setattr(conv_methods, "CHUNK_BYTES", 1)
    monkeypatch.setattr(conv_methods, "MIN_PRODUCTS_PER_THREAD", 1)
    monkeypatch.setattr(conv_methods, "GPU_CHUNK_BYTES", 1)


def winograd_serves(config, size=3):
    return pair(config[2]) == (size, size) and config[3] == 1 and config[5] == 1 and config[6] == 1


# Each fast method and the configurations it serves: Winograd its 3x3 or 5x5 kernels, stride 1, no dilation or
# groups; kernel rows vertical stride 1 and no groups; direct stride 1 and no groups; im2col all of them. Forced in
# turn, whatever the chooser would take.
METHODS = {
    "im2col": (conv_methods.Im2col, lambda c: True),
    "Winograd F(2x2,3x3)": (conv_methods.Winograd, winograd_serves),
    "Winograd F(4x4,3x3)": (conv_methods.Winograd4, winograd_serves),
    "Winograd F(2x2,5x5)": (conv_methods.Winograd25, lambda c: winograd_serves(c, 5)),
    "Winograd F(4x4,5x5)": (conv_methods.Winograd45, lambda c: winograd_serves(c, 5)),
    "kernel rows": (conv_methods.KernelRows, lambda c: pair(c[3])[0] == 1 and c[6] == 1),
    "direct": (conv_methods.Direct, lambda c: pair(c[3]) == (1, 1) and c[6] == 1),
}
FORCED = [pytest.param(name, config, id=f"{name.replace(' ', '')}-{i}")
          for name, (_, serves) in METHODS.items() for config, i in zip(CONFIGS, IDS) if serves(config)]
ALGORITHMS = (winograd.F2, winograd.F4, winograd.F25, winograd.F45)
WINOGRAD = [pytest.param(f, id=f"F{f.m}-{f.r}") for f in ALGORITHMS]
WINOGRAD_CONFIGS = [pytest.param(f, c, id=f"F{f.m}-{f.r}-{i}") for f in ALGORITHMS
                    for c, i in zip(CONFIGS, IDS) if winograd_serves(c, f.r)]


def force(monkeypatch, name):
    """Make every convolution take the fast method ``name``, with the fast kernels whatever
    MINITORCH_CIFAR_KERNELS says (the suite's autouse fixture restores the setting)."""
    mt.set_kernels("fast")
    method = METHODS[name][0]
    monkeypatch.setattr(conv_op, "choose_method", lambda x, weight, geometry: method(weight, geometry, x.shape))


def algorithm_of(out):
    """The algorithm the op that made ``out`` ran (autograd releases the op, and this, after backward)."""
    return out._creator.algorithm


# ----------------------------------------------------------------------------- im2col and col2im
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_reference_im2col_matches_pytorchs_unfold(config, device):
    """P's rows are the output pixels, its columns (group, tap, channel): torch's unfold has (channel, tap) rows."""
    geometry, (n, c, h, w) = geometry_of(config), config[0]
    x = np.random.default_rng(0).standard_normal((n, c, h, w))
    (top, bottom), (left, right) = conv_op.padding_amounts(
        config[4] if isinstance(config[4], str) else pair(config[4]), geometry.kernel, geometry.stride,
        geometry.dilation)
    padded = torch.nn.functional.pad(torch.tensor(x), (left, right, top, bottom))
    unfolded = torch.nn.functional.unfold(padded, geometry.kernel, dilation=geometry.dilation,
                                          stride=geometry.stride).numpy()  # (N, C * KH * KW, OH * OW)
    groups, taps = geometry.groups, geometry.kernel[0] * geometry.kernel[1]
    expected = unfolded.reshape(n, groups, c // groups, taps, -1).transpose(0, 4, 1, 3, 2).reshape(-1, c * taps)
    patches = im2col.im2col(backend.to_device(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), device), geometry)
    np.testing.assert_array_equal(backend.to_device(patches, "cpu"), expected)


@pytest.mark.parametrize("short_run", [0, 10 ** 6], ids=["slices", "values"])
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_fast_im2col_and_col2im_match_the_reference(config, short_run, device, rng, monkeypatch):
    """Both builds of the numba kernels: long runs copied as slices and short ones value by value (every run
    counts as long with SHORT_RUN = 0, as short with 10 ** 6)."""
    monkeypatch.setattr(im2col_fast, "SHORT_RUN", short_run)
    geometry = geometry_of(config)
    n, c, h, w = config[0]
    x = rng.standard_normal((n, h, w, c))
    expected = im2col.im2col(x, geometry)
    cols = im2col_fast.im2col(backend.to_device(x, device), geometry)
    np.testing.assert_array_equal(backend.to_device(cols, "cpu"), expected)
    if device == "cpu":  # P^T, with the padded planes and P^T's room full of NaN: every element is written
        planes = np.full(im2col_fast.planes_shape(x.shape, geometry), np.nan)
        transposed = im2col_fast.im2col_transposed(x, geometry, planes, np.full(expected.shape[::-1], np.nan))
        np.testing.assert_array_equal(transposed.T, expected)
    grad_cols = rng.standard_normal(expected.shape)
    grad_x = im2col_fast.col2im(backend.to_device(grad_cols, device), geometry, x.shape)
    np.testing.assert_allclose(backend.to_device(grad_x, "cpu"), im2col.col2im(grad_cols, geometry, x.shape),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("module", [im2col, im2col_fast], ids=["reference", "fast"])
def test_col2im_is_the_adjoint_of_im2col(module, rng):
    """<im2col(x), P> = <x, col2im(P)> for any x and P: the defining property of the backward."""
    geometry = geometry_of(CONFIGS[10])
    x = rng.standard_normal((2, 6, 7, 2))
    p = rng.standard_normal(im2col.im2col(x, geometry).shape)
    assert np.vdot(module.im2col(x, geometry), p) == pytest.approx(np.vdot(x, module.col2im(p, geometry, x.shape)))


def test_weight_matrices_are_in_the_patch_columns_order_and_invertible(rng):
    """P_g W_g is the convolution of group g: checked on one output pixel, and kernels_of undoes the layout."""
    config = CONFIGS[3]
    geometry, weight = geometry_of(config), rng.standard_normal(weight_shape(config))
    n, c, h, w = config[0]
    x = rng.standard_normal((n, h, w, c))
    weights = im2col.weight_matrices(weight, geometry.groups)
    np.testing.assert_array_equal(im2col.kernels_of(weights, weight.shape), weight)
    patch = im2col.im2col(x, geometry)[0]  # output pixel (0, 0) of image 0, stride 2, no padding
    per_group = c // geometry.groups
    for group in range(geometry.groups):
        window = x[0, :3, :3, group * per_group:(group + 1) * per_group]  # (KH, KW, C/groups)
        expected = np.einsum("ijc,ocij->o", window, weight[group * 2:(group + 1) * 2])
        np.testing.assert_allclose(patch[group * weights.shape[1]:(group + 1) * weights.shape[1]] @ weights[group],
                                   expected, rtol=1e-12)



@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_column_sums_round_as_numpys_sum(dtype, rng):
    """The bias gradient's column sums: bit for bit NumPy's sum(axis=0), which the reference path takes."""
    a = rng.standard_normal((5000, 6)).astype(dtype)
    np.testing.assert_array_equal(im2col_fast.column_sums(a), a.sum(axis=0))

# ----------------------------------------------------------------------------- the reference conv2d
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_reference_conv2d_and_its_backward_match_pytorch(config, device, rng):
    geometry = geometry_of(config)
    x, weight, *bias = [rng.uniform(-1, 1, s) for s in specs(config)]
    bias = bias[0] if bias else None
    x_nhwc = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    on = [None if a is None else backend.to_device(a, device) for a in (x_nhwc, weight, bias)]
    y = conv_op.reference_conv2d(*on, geometry)
    tx, tw = torch.tensor(x, requires_grad=True), torch.tensor(weight, requires_grad=True)
    tb = None if bias is None else torch.tensor(bias, requires_grad=True)
    expected = torch_conv(config)(tx, tw, tb)
    assert_close(backend.to_device(y, "cpu").transpose(0, 3, 1, 2), expected, 1e-10, 1e-12, "forward")
    grad_y = rng.standard_normal(y.shape)
    expected.backward(torch.tensor(grad_y.transpose(0, 3, 1, 2)))
    grad_x, grad_w, grad_b = conv_op.reference_conv2d_backward(on[0], on[1], backend.to_device(grad_y, device),
                                                               geometry, (True, True, bias is not None))
    assert_close(backend.to_device(grad_x, "cpu").transpose(0, 3, 1, 2), tx.grad, 1e-10, 1e-12, "dx")
    assert_close(backend.to_device(grad_w, "cpu"), tw.grad, 1e-10, 1e-12, "dW")
    if bias is not None:
        assert_close(backend.to_device(grad_b, "cpu"), tb.grad, 1e-10, 1e-12, "db")
    else:
        assert grad_b is None


# ----------------------------------------------------------------------------- Winograd's transforms
@pytest.mark.parametrize("f, config", WINOGRAD_CONFIGS)
def test_winograd_transforms_and_adjoints_match_reference(f, config, rng):
    n, c, h, w = config[0]
    geometry = geometry_of(config)
    grid = winograd.tile_grid(f, geometry.output)
    x = rng.standard_normal((n, h, w, c))
    v = winograd.input_tiles(f, x, geometry.padding, grid, np.empty((f.positions, n * grid[0] * grid[1], c)))
    np.testing.assert_allclose(v, winograd.reference_input_tiles(f, x, geometry.padding, grid), rtol=1e-12,
                               atol=1e-12)
    m = rng.standard_normal((f.positions, v.shape[1], 3))
    y = winograd.output_tiles(f, m, grid, np.empty((n,) + geometry.output + (3,)))
    np.testing.assert_allclose(y, winograd.reference_output_tiles(f, m, grid, geometry.output), rtol=1e-12,
                               atol=1e-12)
    dv, dy = rng.standard_normal(v.shape), rng.standard_normal(y.shape)
    dx = winograd.input_tiles_adjoint(f, dv, geometry.padding, grid, np.empty_like(x))
    dm = winograd.output_tiles_adjoint(f, dy, grid, np.empty_like(m))
    np.testing.assert_allclose(dx, winograd.reference_input_tiles_adjoint(f, dv, geometry.padding, grid, x.shape),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dm, winograd.reference_output_tiles_adjoint(f, dy, grid), rtol=1e-12, atol=1e-12)
    # the references are the adjoints: <T a, b> = <a, T^T b>
    assert np.vdot(v, dv) == pytest.approx(np.vdot(x, winograd.reference_input_tiles_adjoint(f, dv, geometry.padding,
                                                                                             grid, x.shape)))
    assert np.vdot(y, dy) == pytest.approx(np.vdot(m, winograd.reference_output_tiles_adjoint(f, dy, grid)))


@pytest.mark.parametrize("f", WINOGRAD)
def test_winograd_weight_transform_and_its_adjoint_match_reference(f, rng):
    w = rng.standard_normal((5, 4, f.r, f.r))
    u_t = winograd.transform_weight(f, w)
    np.testing.assert_allclose(u_t, winograd.reference_transform_weight(f, w), rtol=1e-12, atol=1e-12)
    du = rng.standard_normal(u_t.shape)
    np.testing.assert_allclose(winograd.kernels_last(winograd.weight_gradient(f, du)),
                               winograd.reference_weight_gradient(f, du), rtol=1e-12, atol=1e-12)
    assert np.vdot(u_t, du) == pytest.approx(np.vdot(w, winograd.reference_weight_gradient(f, du)))


@pytest.mark.parametrize("f", WINOGRAD)
def test_winograd_reference_computes_the_convolution(f, rng):
    """A^T [(G g G^T) * (B^T d B)] A summed over input channels, in the references alone, is PyTorch's convolution:
    the matrices of the docstring are right (an odd size, so the last tiles stick out)."""
    x, w = rng.standard_normal((2, 9, 11, 4)), rng.standard_normal((5, 4, f.r, f.r))
    grid, pad = winograd.tile_grid(f, (9, 11)), f.r // 2
    u = winograd.reference_transform_weight(f, w).transpose(0, 2, 1)
    m = winograd.reference_input_tiles(f, x, (pad, pad), grid) @ u
    expected = torch.nn.functional.conv2d(torch.tensor(x.transpose(0, 3, 1, 2)), torch.tensor(w), padding=pad)
    np.testing.assert_allclose(winograd.reference_output_tiles(f, m, grid, (9, 11)),
                               expected.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- each fast method, forced
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_conv2d_matches_pytorch(config, device):
    """The fast kernels as the chooser picks them: on the GPU, im2col with the CUDA kernels."""
    check_against_torch(specs(config), our_conv(config), torch_conv(config), device=device, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, config", FORCED)
def test_forced_method_matches_the_reference_conv2d(name, config, monkeypatch, many_chunks, rng):
    force(monkeypatch, name)
    geometry = geometry_of(config)
    x, weight, *bias = [rng.uniform(-1, 1, s) for s in specs(config)]
    bias = bias[0] if bias else None
    x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    method = conv_op.choose_method(x, weight, geometry)
    assert method.algorithm == name and isinstance(method, conv_methods.ConvMethod)
    np.testing.assert_allclose(method.run_forward(x, bias), conv_op.reference_conv2d(x, weight, bias, geometry),
                               rtol=1e-10, atol=1e-12)
    grad_y = rng.standard_normal((len(x),) + geometry.output + (len(weight),))
    has_bias = bias is not None
    # every gradient; dx alone (frozen kernels); dW and db alone (the first layer)
    for needs in [(True, True, has_bias), (True, False, False), (False, True, has_bias)]:
        for ours, expected in zip(method.run_backward(x, grad_y, needs),
                                  conv_op.reference_conv2d_backward(x, weight, grad_y, geometry, needs)):
            if expected is None:
                assert ours is None
            else:
                np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, config", FORCED)
def test_forced_method_gradients_and_pytorch_parity(name, config, monkeypatch, rng):
    force(monkeypatch, name)
    tensors = [mt.tensor(rng.uniform(-1, 1, s), requires_grad=True) for s in specs(config)]
    assert algorithm_of(our_conv(config)(*tensors)) == name
    gradcheck(our_conv(config), tensors)
    check_against_torch(specs(config), our_conv(config), torch_conv(config), rtol=1e-10, atol=1e-12)



DIRECT_CONFIGS = [pytest.param(c, id=i) for c, i in zip(CONFIGS, IDS) if METHODS["direct"][1](c)]


@pytest.mark.parametrize("name", sorted(METHODS))
def test_an_empty_batch_gives_zero_weight_and_bias_gradients(name, monkeypatch):
    """A batch of no images: an empty output, and zero dW and db, as PyTorch gives."""
    force(monkeypatch, name)
    size = 5 if "5x5" in name else 3
    x = mt.tensor(np.zeros((0, 16, 8, 8)), requires_grad=True)
    weight = mt.tensor(np.ones((16, 16, size, size)), requires_grad=True)
    bias = mt.tensor(np.ones(16), requires_grad=True)
    y = F.conv2d(x, weight, bias, padding=size // 2)
    y.sum().backward()
    assert y.shape == (0, 16, 8, 8) and x.grad.shape == (0, 16, 8, 8)
    assert not weight.grad.numpy().any() and not bias.grad.numpy().any()


@pytest.mark.parametrize("weight_needs_grad", [True, False])
def test_direct_keeps_lanes_only_for_a_weight_gradient(weight_needs_grad, monkeypatch, rng):
    """The op asks the method to keep x's lanes when its weight needs a gradient, and not otherwise."""
    force(monkeypatch, "direct")
    x = mt.tensor(rng.uniform(-1, 1, (4, 3, 8, 8)), requires_grad=True)
    weight = mt.tensor(rng.uniform(-1, 1, (6, 3, 3, 3)), requires_grad=weight_needs_grad)
    method = F.conv2d(x, weight)._creator.method
    assert len(method.kept) >= 1 and all((kept is not None) == weight_needs_grad for kept in method.kept)


@pytest.mark.parametrize("keep", [True, False], ids=["x kept", "x laid out again"])
@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("config", DIRECT_CONFIGS)
def test_direct_with_many_images_per_chunk_matches_the_reference(config, dtype, tolerance, keep, rng):
    """The direct method's vectors run across a chunk's images: 37 images in chunks of 16 or more (the forced
    tests' one-image chunks leave one lane), float64 and float32 against the float64 reference; dW from the lanes
    of x that forward kept, or laid out again (forward kept nothing)."""
    geometry = geometry_of(config)
    x, weight, bias = [rng.uniform(-1, 1, s) for s in [(37,) + config[0][1:], weight_shape(config), config[1]]]
    x = np.ascontiguousarray(x.transpose(0, 2, 3, 1))
    grad_y = rng.standard_normal((len(x),) + geometry.output + (len(weight),))
    method = conv_methods.Direct(weight.astype(dtype), geometry, x.shape)
    ours = [method.run_forward(x.astype(dtype), bias.astype(dtype), keep=keep)]
    assert all((kept is not None) == keep for kept in method.kept)
    ours += method.run_backward(x.astype(dtype), grad_y.astype(dtype), (True, True, True))
    expected = [conv_op.reference_conv2d(x, weight, bias, geometry)]
    expected += conv_op.reference_conv2d_backward(x, weight, grad_y, geometry)
    assert all(stop - start >= 16 for start, stop in method.chunks)
    for a, b in zip(ours, expected):
        assert a.dtype == dtype
        np.testing.assert_allclose(a, b, rtol=tolerance, atol=tolerance * np.abs(b).max())


@pytest.mark.parametrize("taps", [4, 8])
def test_direct_correlation_in_passes_of_four_or_of_eight_taps_matches_a_plain_sum(taps, rng):
    """``correlate`` built with either tap count a pass (eight where numba compiles for AVX-512, four for AVX2),
    whichever this CPU picks: 45 taps a row leave passes of eight, of four and single taps, and rows outside x's
    held range are skipped."""
    correlate = direct_conv.correlate.py_func
    built = numba.njit(fastmath=direct_conv._SUMS)(types.FunctionType(
        correlate.__code__, dict(correlate.__globals__, TAPS_PER_PASS=taps), "correlate"))
    x = rng.uniform(-1, 1, (3, 9, 12, 5))  # (C, R, Q, nb) lanes
    x[:, 7:] = 0  # rows 7 and 8 lie outside range(0, 7): zeros the kernel skips
    w = rng.uniform(-1, 1, (4, 3, 3, 5))
    out = np.empty((4, 7, 8, 5))
    built(x, (0, 7), w, 1, 1, out)
    expected = sum(w[:, c, i, j, None, None, None] * x[c, i:i + 7, j:j + 8] for c in range(3) for i in range(3)
                   for j in range(5))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_a_convolution_too_small_for_two_threads_runs_as_one_chunk(monkeypatch):
    """Chunks come in a multiple of the threads that run: LeNet's second layer at batch 4 (1.4M multiply-adds) runs
    on one thread, as one chunk of all 4 images in its lanes, not two of 2; at batch 128, on two threads, an even
    number of chunks."""
    monkeypatch.setattr(workers, "num_threads", lambda: 2)
    config = ((4, 6, 14, 14), 16, 5, 1, 0, 1, 1, False)
    geometry = geometry_of(config)
    for batch, threads in [(4, 1), (128, 2)]:
        x = np.zeros((batch, 14, 14, 6), np.float32)
        method = conv_methods.Direct(np.zeros(weight_shape(config), np.float32), geometry, x.shape)
        method.run_forward(x, None)
        assert method.threads == threads and len(method.chunks) % threads == 0
        assert len(method.chunks) == 1 if threads == 1 else len(method.chunks) >= 2


# ----------------------------------------------------------------------------- the reference kernels' path
@pytest.mark.parametrize("config", CONFIGS, ids=IDS)
def test_reference_kernels_path_matches_pytorch_and_finite_differences(config, device, rng):
    with mt.use_kernels("reference"):
        tensors = [mt.tensor(rng.uniform(-1, 1, s), requires_grad=True, device=device) for s in specs(config)]
        out = our_conv(config)(*tensors)
        assert out._creator.method is None and algorithm_of(out) == "im2col"
        gradcheck(our_conv(config), tensors)
        check_against_torch(specs(config), our_conv(config), torch_conv(config), device=device, rtol=1e-10,
                            atol=1e-12)


def test_reference_kernels_import_no_fast_convolution_module():
    """With the reference kernels, a convolution's forward and backward never load the numba modules of the fast
    path (ops.conv imports them inside choose_method)."""
    code = ("import sys, minitorch_cifar as mt\n"
            "x = mt.randn(2, 16, 6, 6, requires_grad=True)\n"
            "mt.nn.functional.conv2d(x, mt.randn(4, 16, 3, 3), padding=1).sum().backward()\n"
            "print(sorted(m for m in sys.modules if m.split('.')[-1] in "
            "('conv_methods', 'winograd', 'im2col_fast', 'im2col_cuda')))")
    env = {**os.environ, "MINITORCH_CIFAR_KERNELS": "reference"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "[]"


# ----------------------------------------------------------------------------- which layer takes which method
@pytest.mark.parametrize("in_channels, out_channels, kernel, stride, groups, algorithm", [
    (3, 6, 5, 1, 1, "direct"),                 # LeNet's first layer
    (6, 16, 5, 1, 1, "direct"),                # LeNet's second layer
    (3, 16, 7, 1, 1, "direct"),                # AlexNet's first layer
    (16, 16, 3, 1, 1, "Winograd F(4x4,3x3)"),  # 16 channels, 3x3: Winograd comes first
    (3, 4, 1, 1, 1, "im2col"),                 # a 1x1 convolution is one product already
    (3, 32, 3, 1, 1, "im2col"),                # the first layer of the CNNs and ResNets: RGB, one patch matrix
    (4, 32, 3, 1, 1, "kernel rows"),           # from KERNEL_ROWS_MIN_CHANNELS on
    (8, 32, (5, 1), (1, 2), 1, "kernel rows"),
    (15, 32, 3, 1, 1, "kernel rows"),          # below WINOGRAD_MIN_CHANNELS
    (8, 17, 7, 1, 1, "kernel rows"),           # above DIRECT_MAX_OUT_CHANNELS
    (17, 4, 7, 1, 1, "im2col"),                # too many input channels for direct and kernel rows
    (16, 32, 3, 1, 1, "Winograd F(4x4,3x3)"),  # cnn3's and AlexNet's 3x3 layers
    (16, 64, 5, 1, 1, "Winograd F(4x4,5x5)"),  # AlexNet's second layer
    (15, 64, 5, 1, 1, "kernel rows"),          # below WINOGRAD_MIN_CHANNELS
    (17, 4, 5, 1, 1, "Winograd F(4x4,5x5)"),
    (64, 64, 5, 1, 1, "Winograd F(4x4,5x5)"),  # up to WINOGRAD45_MAX_CHANNELS
    (65, 64, 5, 1, 1, "Winograd F(2x2,5x5)"),  # above: the more accurate 2x2 tiles
    (16, 64, 5, 2, 1, "im2col"),               # strided 5x5: no Winograd, no kernel rows
    (17, 64, 7, 1, 1, "im2col"),               # above KERNEL_ROWS_MAX_CHANNELS
    (64, 64, 3, 2, 1, "im2col"),               # a ResNet's strided 3x3
    (64, 128, 1, 2, 1, "im2col"),              # a ResNet's 1x1 downsample
    (3, 4, 3, 2, 1, "im2col"),                 # vertical stride 2
    (4, 4, 3, (1, 2), 1, "kernel rows"),       # horizontal stride 2: not direct
    (4, 4, 3, 1, 2, "im2col"),                 # groups
    (3, 32, (1, 3), 1, 1, "im2col"),           # one kernel row: the patch matrix is already that small
])
def test_each_layer_takes_the_method_meant_for_it(in_channels, out_channels, kernel, stride, groups, algorithm):
    kernel, stride = pair(kernel), pair(stride)
    geometry = im2col.ConvGeometry(kernel, stride, (1, 1), (1, 1), groups, (8, 8))
    weight = np.zeros((out_channels, in_channels // groups) + kernel, np.float32)
    x = np.zeros((2, 16, 16, in_channels), np.float32)
    assert conv_op.choose_method(x, weight, geometry).algorithm == algorithm


@pytest.mark.parametrize("output, algorithm", [
    ((32, 32), "Winograd F(4x4,3x3)"), ((8, 8), "Winograd F(4x4,3x3)"),  # cnn3's first and last 3x3 layers
    ((9, 13), "Winograd F(4x4,3x3)"),
    ((4, 4), "Winograd F(4x4,3x3)"), ((2, 2), "Winograd F(2x2,3x3)"),  # the ResNets' last stages
    ((8, 4), "Winograd F(4x4,3x3)"), ((3, 9), "Winograd F(2x2,3x3)"),
])
def test_winograd_tile_size_follows_the_output_size(output, algorithm):
    geometry = im2col.ConvGeometry((3, 3), (1, 1), (1, 1), (1, 1), 1, output)
    x = np.zeros((2,) + output + (64,), np.float32)
    assert conv_op.choose_method(x, np.zeros((64, 64, 3, 3), np.float32), geometry).algorithm == algorithm


def test_on_the_gpu_every_layer_takes_im2col(monkeypatch):
    """The chooser sees the input as a CuPy array (its stand-in here: only the chooser is told so)."""
    monkeypatch.setattr(conv_op, "backend", types.SimpleNamespace(is_cupy_array=lambda array: True))
    geometry = im2col.ConvGeometry((3, 3), (1, 1), (1, 1), (1, 1), 1, (8, 8))
    for channels in (3, 64):
        method = conv_op.choose_method(np.zeros((2, 8, 8, channels)), np.zeros((4, channels, 3, 3)), geometry)
        assert method.algorithm == "im2col"


@pytest.mark.parametrize("model, algorithms", [
    ("cnn3", ["im2col"] + ["Winograd F(4x4,3x3)"] * 4),
    ("alexnet", ["direct", "Winograd F(4x4,5x5)"] + ["Winograd F(4x4,3x3)"] * 3),
    ("lenet", ["direct"] * 2),
    ("resnet10", ["im2col"] + ["Winograd F(4x4,3x3)"] * 2 + (["im2col"] * 2 + ["Winograd F(4x4,3x3)"]) * 2 +
     ["im2col"] * 2 + ["Winograd F(2x2,3x3)"]),
])
def test_models_layers_record_their_algorithm(model, algorithms, monkeypatch):
    """Each Conv2d op records the algorithm it ran, and the models' layers run the ones meant for them."""
    ran = []
    forward = conv_op.Conv2d.forward

    def recording(self, *args, **kwargs):
        out = forward(self, *args, **kwargs)
        ran.append(self.algorithm)
        return out

    monkeypatch.setattr(conv_op.Conv2d, "forward", recording)
    with mt.no_grad(), mt.use_kernels("fast"):
        mt.models.get_model(model)(mt.randn(2, 3, 32, 32))
    assert ran == algorithms
    ran.clear()
    with mt.no_grad(), mt.use_kernels("reference"):
        mt.models.get_model(model)(mt.randn(2, 3, 32, 32))
    assert ran == ["im2col"] * len(algorithms)


def test_every_method_declares_the_interface():
    for method, _ in METHODS.values():
        assert issubclass(method, conv_methods.ConvMethod) and not getattr(method, "__abstractmethods__")
        assert isinstance(method.algorithm, str)
    with pytest.raises(TypeError, match="abstract"):
        conv_methods.ConvMethod(np.zeros((1, 1, 1, 1)), None, None)


# ----------------------------------------------------------------------------- threads, layouts, arguments
@pytest.mark.parametrize("config", [CONFIGS[2], CONFIGS[3], CONFIGS[9]], ids=[IDS[2], IDS[3], IDS[9]])
def test_chunks_on_threads_give_the_same_result(config, many_chunks, device):
    check_against_torch(specs(config), lambda *t: F.conv2d(*t, **conv_args(config)),
                        lambda *t: torch.nn.functional.conv2d(*t, **conv_args(config)), device=device,
                        rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("in_channels", [8, 32])  # direct, and Winograd on the CPU
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


# direct, Winograd F(4x4,3x3) and F(4x4,5x5) on the CPU. The 5x5 layer sums 800 products of values up to 2: its
# outputs and gradients reach about 145, and F(4x4,5x5)'s float32 error is about 5e-6 of that (PyTorch's 1e-6).
@pytest.mark.parametrize("in_channels, size, atol", [(8, 3, 1e-4), (32, 3, 1e-4), (32, 5, 1.5e-3)])
def test_float32_matches_pytorch_on_a_cifar_sized_layer(in_channels, size, atol, device, many_chunks):
    check_against_torch([(4, in_channels, 16, 15), (32, in_channels, size, size), (32,)],
                        lambda x, w, b: F.conv2d(x, w, b, padding=size // 2),
                        lambda x, w, b: torch.nn.functional.conv2d(x, w, b, padding=size // 2), device=device,
                        dtype=np.float32, rtol=1e-4, atol=atol)


@pytest.mark.parametrize("layout", ["channels_last", "strided"])
@pytest.mark.parametrize("channels, out_channels, algorithm", [
    (3, 4, "direct"),  # reads x where it lies, into lanes
    (3, 32, "im2col"),  # these two read a channels-last copy
    (16, 32, "Winograd F(4x4,3x3)"),
])
def test_any_input_layout_gives_the_same_result(layout, channels, out_channels, algorithm, rng):
    """The output and both gradients, from NCHW input and from a channels-last or a strided one, agree bit for bit."""
    x = rng.standard_normal((2, channels, 6, 5))
    given = channels_last(x) if layout == "channels_last" else np.repeat(x, 2, axis=3)[..., ::2]
    w = mt.tensor(rng.standard_normal((out_channels, channels, 3, 3)))
    grad_y = mt.tensor(rng.standard_normal((2, out_channels, 6, 5)))
    results = []
    for image in (x, given):
        image = mt.tensor(image, requires_grad=True)
        y = F.conv2d(image, w, padding=1)
        assert algorithm_of(y) == algorithm
        y.backward(grad_y)
        results.append((y.detach().numpy(), image.grad.numpy()))
    for expected, got in zip(*results):
        np.testing.assert_array_equal(got, expected)


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
    (dict(in_channels=2, out_channels=4, kernel_size=0), "kernel_size must be at least 1"),
    (dict(in_channels=2, out_channels=4, kernel_size=3, dilation=(1, 0)), "dilation must be at least 1"),
])
def test_layer_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        nn.Conv2d(**kwargs)
