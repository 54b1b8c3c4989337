"""Whole-batch augmentations against a per-image reference (torchvision's semantics, written out image by
image) that uses the same random draws; scaling and normalisation against PyTorch, to the last bit."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend
from minitorch_cifar.data import color as C
from minitorch_cifar.data import transforms as T

from helpers import torch

SEED = 11


def images(dtype=np.uint8, shape=(24, 3, 9, 8), seed=0):
    """Random images with no zero pixels, so that every zero in an output was written by a transform."""
    values = np.random.default_rng(seed).integers(1, 256, shape)
    return values.astype(np.uint8) if dtype == np.uint8 else (values / 255).astype(dtype)


def run(transform, batch, device, seed=SEED):
    """The transform on ``device`` with a fresh generator; the result back on the host."""
    out = transform(backend.to_device(batch, device), np.random.default_rng(seed))
    assert backend.device_of(out) == backend.parse_device(device)
    return backend.to_device(out, "cpu")


def draws(transform, batch, seed=SEED):
    """The parameters that ``run`` draws, from a generator seeded the same way."""
    return transform.sample(batch.shape, np.random.default_rng(seed))


# ---------------------------------------------------------------------- per-image references
def crop_one(image, top, left, size, padding, mode):
    """torchvision's RandomCrop on one image: pad all four sides (torch's pad), then cut the window at (top, left)."""
    padded = torch.nn.functional.pad(torch.from_numpy(image.astype(np.float64))[None], [padding] * 4,
                                     mode={"edge": "replicate"}.get(mode, mode))[0].numpy()
    return padded[:, top:top + size[0], left:left + size[1]].astype(image.dtype)


def flip_one(image, flip):
    return image[:, :, ::-1] if flip else image


def cutout_one(image, row, col, size):
    out = image.copy()
    top, left = max(row - size // 2, 0), max(col - size // 2, 0)
    out[:, top:max(row - size // 2 + size, 0), left:max(col - size // 2 + size, 0)] = 0
    return out


# ---------------------------------------------------------------------- RandomCrop
@pytest.mark.parametrize("size, padding, mode", [(9, 2, "constant"), ((9, 8), 3, "reflect"), ((5, 6), 0, "constant"),
                                                 (7, 1, "reflect"), ((11, 10), 1, "constant"), (8, 2, "edge")])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_random_crop_matches_per_image_reference(device, size, padding, mode, dtype):
    batch = images(dtype)
    crop = T.RandomCrop(size, padding=padding, padding_mode=mode)
    out = run(crop, batch, device)
    corners = draws(crop, batch)
    expected = np.stack([crop_one(image, top, left, crop.size, padding, mode)
                         for image, (top, left) in zip(batch, corners)])
    assert out.dtype == dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


def test_random_crop_draws_every_offset_uniformly():
    corners = T.RandomCrop(32, padding=4).sample((20000, 3, 32, 32), np.random.default_rng(0))
    for axis in range(2):
        counts = np.bincount(corners[:, axis], minlength=9)
        assert len(counts) == 9 and counts.min() > 0.8 * 20000 / 9 and counts.max() < 1.2 * 20000 / 9
    narrow = T.RandomCrop((30, 28)).sample((5000, 3, 32, 32), np.random.default_rng(0))
    assert set(narrow[:, 0]) == {0, 1, 2} and set(narrow[:, 1]) == {0, 1, 2, 3, 4}


# ---------------------------------------------------------------------- RandomHorizontalFlip
@pytest.mark.parametrize("p", [0.0, 0.3, 1.0])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_random_flip_matches_per_image_reference(device, p, dtype):
    batch = images(dtype)
    flip = T.RandomHorizontalFlip(p)
    out = run(flip, batch, device)
    flips = draws(flip, batch)
    assert flips.sum() == {0.0: 0, 1.0: len(batch)}.get(p, flips.sum()) and out.dtype == dtype
    np.testing.assert_array_equal(out, np.stack([flip_one(image, f) for image, f in zip(batch, flips)]))


def test_random_flip_flips_a_fraction_p():
    flips = T.RandomHorizontalFlip(0.5).sample((20000, 3, 2, 2), np.random.default_rng(0))
    assert abs(flips.mean() - 0.5) < 0.02


# ---------------------------------------------------------------------- Cutout
@pytest.mark.parametrize("size", [1, 4, 5, 16])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_cutout_matches_per_image_reference(device, size, dtype):
    batch = images(dtype, shape=(64, 3, 9, 8))
    cutout = T.Cutout(size)
    out = run(cutout, batch, device)
    centres = draws(cutout, batch)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, np.stack([cutout_one(image, r, c, size) for image, (r, c) in zip(batch, centres)]))


def test_cutout_square_is_whole_inside_and_clipped_at_borders():
    batch = images(shape=(3, 3, 10, 10))
    out = T.Cutout(4).apply(batch, np.array([[5, 5], [0, 0], [9, 3]]))
    zeros = (out == 0).all(axis=1)
    assert zeros[0].sum() == 16 and zeros[0, 3:7, 3:7].all()   # rows and columns 5-2 .. 5+1
    assert zeros[1].sum() == 4 and zeros[1, :2, :2].all()      # clipped at the top-left corner
    assert zeros[2].sum() == 12 and zeros[2, 7:, 1:5].all()    # clipped at the bottom: rows 7..9
    centres = T.Cutout(8).sample((20000, 3, 32, 32), np.random.default_rng(0))
    assert centres.min() == 0 and centres.max() == 31


# ---------------------------------------------------------------------- scaling and Normalize
def test_to_float_and_normalize_match_pytorch_exactly(device):
    batch = images(shape=(16, 3, 32, 32))
    mean, std = T.CIFAR10_MEAN, T.CIFAR10_STD
    scaled = torch.from_numpy(batch).float().div(255)
    normalized = (scaled - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    for transform, expected in [(T.ToFloat(), scaled), (T.Normalize(mean, std), normalized)]:
        out = run(transform, batch, device)
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out, expected.numpy())
    from_float = run(T.Normalize(mean, std), scaled.numpy(), device)
    np.testing.assert_array_equal(from_float, normalized.numpy())


def test_to_float_keeps_float_values():
    batch = np.linspace(-1, 2, 48).reshape(1, 3, 4, 4)
    out = T.ToFloat()(batch)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, batch.astype(np.float32))


# ---------------------------------------------------------------------- composing, inputs, errors
def test_compose_draws_from_one_generator_in_order(device):
    batch = images()
    steps = [T.RandomCrop(9, padding=2, padding_mode="reflect"), T.RandomHorizontalFlip(), T.Cutout(3),
             T.Normalize((0.5, 0.4, 0.3), (0.2, 0.25, 0.3))]
    out = run(T.Compose(steps), batch, device)
    rng = np.random.default_rng(SEED)
    expected = batch
    for step in steps:
        expected = step(expected, rng)
    np.testing.assert_array_equal(out, expected)
    assert "RandomCrop(size=(9, 9), padding=2, pad_if_needed=False, fill=0, padding_mode='reflect')" in repr(
        T.Compose(steps))


@pytest.mark.parametrize("transform", [T.RandomCrop(8, padding=2), T.RandomHorizontalFlip(1.0), T.Cutout(4),
                                       T.Normalize((0.5,) * 3, (0.5,) * 3), T.ToFloat()])
def test_transforms_leave_their_input_alone_and_take_tensors(device, transform):
    batch = images(np.float32)
    on_device = backend.to_device(batch, device)
    out = transform(mt.Tensor(on_device), np.random.default_rng(0))
    assert isinstance(out, mt.Tensor) and out.device == backend.parse_device(device)
    np.testing.assert_array_equal(backend.to_device(on_device, "cpu"), batch)
    np.testing.assert_array_equal(out.numpy(), transform(batch, np.random.default_rng(0)))


def test_without_a_generator_the_framework_seed_decides():
    batch = images()
    augment = T.Compose([T.RandomCrop(9, padding=2), T.RandomHorizontalFlip()])
    mt.manual_seed(3)
    first = augment(batch)
    mt.manual_seed(3)
    np.testing.assert_array_equal(augment(batch), first)
    assert not np.array_equal(augment(batch), first)


def test_bad_arguments_get_clear_errors():
    with pytest.raises(ValueError, match="padding_mode"):
        T.RandomCrop(32, 4, padding_mode="wrap")
    with pytest.raises(ValueError, match="padding must be"):
        T.Pad((1, 2, 3))
    with pytest.raises(ValueError, match="does not fit"):
        T.RandomCrop(14, padding=2)(images())
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        T.RandomHorizontalFlip()(images()[0, 0])
    with pytest.raises(ValueError, match=r"\(H, W, C\) with 1, 3 or 4 channels.*as a Tensor"):
        T.RandomHorizontalFlip()(images()[0])
    with pytest.raises(ValueError, match="only enlarges"):
        T.Resize(4)(images())
    with pytest.raises(ValueError, match="3 channels' mean and std, the batch has 1"):
        T.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD)(images(shape=(2, 1, 4, 4)))
    with pytest.raises(ValueError, match="positive std"):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(ValueError, match="Cutout size"):
        T.Cutout(0)


# ====================================================================== colour, erasing, centre crop, containers
# torchvision's tensor formulas (torchvision/transforms/_functional_tensor.py), re-written in torch, on one image.
def tv_gray(image):
    if len(image) == 1:
        return image
    r, g, b = image.unbind(dim=-3)
    return (0.2989 * r + 0.587 * g + 0.114 * b).to(image.dtype).unsqueeze(dim=-3)


def tv_blend(image, other, ratio):
    return (ratio * image + (1.0 - ratio) * other).clamp(0, 255 if image.dtype == torch.uint8 else 1).to(image.dtype)


def tv_contrast(image, factor):
    dtype = image.dtype if torch.is_floating_point(image) else torch.float32
    return tv_blend(image, torch.mean(tv_gray(image).to(dtype), dim=(-3, -2, -1), keepdim=True), factor)


def tv_rgb2hsv(image):
    r, g, b = image.unbind(dim=-3)
    maxc, minc = torch.max(image, dim=-3).values, torch.min(image, dim=-3).values
    eqc = maxc == minc
    cr, ones = maxc - minc, torch.ones_like(maxc)
    s = cr / torch.where(eqc, ones, maxc)
    rc, gc, bc = ((maxc - c) / torch.where(eqc, ones, cr) for c in (r, g, b))
    h = (maxc == r) * (bc - gc) + ((maxc == g) & (maxc != r)) * (2.0 + rc - bc) + \
        ((maxc != g) & (maxc != r)) * (4.0 + gc - rc)
    return torch.fmod((h / 6.0 + 1.0), 1.0), s, maxc


def tv_hsv2rgb(h, s, v):
    i = torch.floor(h * 6.0)
    f = (h * 6.0) - i
    i = i.to(dtype=torch.int32) % 6
    p, q, t = (torch.clamp(v * (1.0 - x), 0.0, 1.0) for x in (s, s * f, s * (1.0 - f)))
    mask = i.unsqueeze(dim=-3) == torch.arange(6).view(-1, 1, 1)
    a4 = torch.stack([torch.stack(c, dim=-3) for c in ((v, q, p, p, t, v), (t, v, v, q, p, p), (p, p, t, v, v, q))],
                     dim=-4)
    return torch.einsum("...ijk, ...xijk -> ...xjk", mask.to(dtype=v.dtype), a4)


def tv_hue(image, factor):
    if len(image) == 1:
        return image
    dtype = image.dtype
    h, s, v = tv_rgb2hsv(image.to(torch.float32) / 255 if dtype == torch.uint8 else image.to(torch.float32))
    rgb = tv_hsv2rgb((h + factor) % 1.0, s, v)
    return rgb.mul(255 + 1.0 - 1e-3).to(torch.uint8) if dtype == torch.uint8 else rgb.to(dtype)


TV_ADJUSTMENTS = {
    "brightness": lambda image, f: tv_blend(image, torch.zeros_like(image), f),
    "contrast": tv_contrast,
    "saturation": lambda image, f: image if len(image) == 1 else tv_blend(image, tv_gray(image), f),
    "hue": tv_hue,
}


def colour_images(dtype, shape=(32, 3, 9, 8)):
    """``images`` with grey pixels, pixels whose two largest channels tie, black and white pixels (hue's edge
    cases)."""
    batch = images(np.float64, shape)
    batch[:, :, 0] = batch[:, :1, 0]
    batch[:, 1:, 1] = batch[:, :1, 1]  # red and green tie (on an RGB image)
    batch[:, 2:, 2] = batch[:, 1:2, 2]  # green and blue tie
    batch[:, :, 3, :2] = [0, 1]
    return (batch * 255).round().astype(np.uint8) if dtype == np.uint8 else batch.astype(dtype)


def torch_per_image(batch, function, *params):
    """``function(image, *its params)`` on each image of ``batch`` in torch, back as a NumPy batch."""
    return np.stack([function(torch.from_numpy(image), *(p[n] for p in params)).numpy()
                     for n, image in enumerate(batch)])


@pytest.mark.parametrize("name", list(TV_ADJUSTMENTS))
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
@pytest.mark.parametrize("channels", [3, 1])
def test_colour_adjustments_are_torchvisions_formulas(device, name, dtype, channels):
    batch = colour_images(dtype, (32, channels, 9, 8))
    factors = np.random.default_rng(1).uniform(-0.5, 0.5, 32) if name == "hue" else \
        np.random.default_rng(1).uniform(0, 2, 32)
    out = backend.to_device(getattr(C, f"adjust_{name}")(backend.to_device(batch, device), factors), "cpu")
    expected = torch_per_image(batch, TV_ADJUSTMENTS[name], [float(f) for f in factors])
    assert out.dtype == dtype and out.shape == batch.shape
    if name == "contrast" and dtype != np.uint8:  # torch sums the grey's mean in another order: the last bit differs
        np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)
    else:
        np.testing.assert_array_equal(out, expected)
    assert not np.array_equal(out, batch) or channels == 1 and name in ("saturation", "hue")


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
@pytest.mark.parametrize("channels, output_channels", [(3, 1), (3, 3), (1, 1), (1, 3)])
def test_grayscale_is_torchvisions(device, dtype, channels, output_channels):
    batch = colour_images(dtype, (4, channels, 9, 8))
    out = run(C.Grayscale(output_channels), batch, device)
    expected = torch_per_image(batch, tv_gray)
    assert out.dtype == dtype and out.shape == (4, output_channels, 9, 8)
    np.testing.assert_array_equal(out, np.repeat(expected, output_channels, axis=1))


@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_color_jitter_adjusts_each_image_in_its_own_order(device, dtype):
    batch = colour_images(dtype, (64, 3, 9, 8))
    jitter = C.ColorJitter(brightness=0.4, contrast=(0.5, 1.2), saturation=0.4, hue=0.1)
    out = run(jitter, batch, device)
    orders, factors = draws(jitter, batch)
    names = list(TV_ADJUSTMENTS)

    def reference(image, order, *image_factors):
        for k in order:
            image = TV_ADJUSTMENTS[names[k]](image, float(image_factors[k]))
        return image

    expected = torch_per_image(batch, reference, orders, *factors)
    assert out.dtype == dtype
    # float: contrast's mean differs from torch's in the last bit (see above), which hue's formulas amplify
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5 if dtype != np.uint8 else 0)
    assert len({tuple(order) for order in orders}) > 10  # the orders (and the factors) are each image's own
    same = run(jitter, np.repeat(batch[:1], 64, axis=0), device)
    assert len({image.tobytes() for image in same}) == 64


def test_color_jitter_draws_factors_from_torchvisions_ranges():
    jitter = C.ColorJitter(brightness=0.4, contrast=1.5, saturation=(0.2, 0.3), hue=0.1)
    assert (jitter.brightness, jitter.contrast, jitter.saturation, jitter.hue) == ((0.6, 1.4), (0, 2.5), (0.2, 0.3),
                                                                                   (-0.1, 0.1))
    orders, factors = jitter.sample((20000, 3, 2, 2), np.random.default_rng(0))
    for (low, high), drawn in zip([(0.6, 1.4), (0, 2.5), (0.2, 0.3), (-0.1, 0.1)], factors):
        assert low <= drawn.min() < low + 0.01 * (high - low) and high - 0.01 * (high - low) < drawn.max() <= high
        assert abs(drawn.mean() - (low + high) / 2) < 0.02 * (high - low)
    assert (np.sort(orders, axis=1) == np.arange(4)).all()
    firsts = np.bincount(orders[:, 0], minlength=4) / 20000
    assert abs(firsts - 0.25).max() < 0.02
    off = C.ColorJitter(contrast=0.2)
    assert off.brightness is off.saturation is off.hue is None
    assert [f is None for f in off.sample((3, 3, 2, 2), np.random.default_rng(0))[1]] == [True, False, True, True]


def test_random_grayscale_turns_a_fraction_p_grey_keeping_channels(device):
    batch = colour_images(np.uint8)
    gray = C.RandomGrayscale(0.5)
    out = run(gray, batch, device)
    chosen = draws(gray, batch)
    expected = np.where(chosen[:, None, None, None], np.repeat(torch_per_image(batch, tv_gray), 3, axis=1), batch)
    np.testing.assert_array_equal(out, expected)
    assert 0 < chosen.sum() < len(batch)
    assert abs(C.RandomGrayscale().sample((20000, 3, 2, 2), np.random.default_rng(0)).mean() - 0.1) < 0.01


# ---------------------------------------------------------------------- RandomErasing
def tv_erase(image, index, corners, sizes, noise, value):
    """torchvision's ``erase``: the rectangle at ``corners[k]`` of ``sizes[k]`` set to ``value`` (or to noise)."""
    k = list(index).index(image[1]) if image[1] in index else None
    image = image[0].clone()
    if k is not None:
        (i, j), (h, w) = corners[k], sizes[k]
        fill = torch.from_numpy(noise[k, :, i:i + h, j:j + w]) if noise is not None else \
            torch.tensor(value if isinstance(value, (tuple, list)) else [float(value)])[:, None, None]
        image[..., i:i + h, j:j + w] = fill
    return image


@pytest.mark.parametrize("value", [0, 0.5, (0.1, -0.2, 0.3), "random"])
@pytest.mark.parametrize("dtype", [np.float32, np.uint8])
def test_random_erasing_matches_torchvisions_erase(device, value, dtype):
    if dtype == np.uint8 and value == "random":
        pytest.skip("normal noise in uint8 pixels is meaningless")
    batch = images(dtype, (64, 3, 9, 8))
    erasing = T.RandomErasing(p=0.7, value=value)
    out = run(erasing, batch, device)
    index, corners, sizes, noise = draws(erasing, batch)
    expected = np.stack([tv_erase((torch.from_numpy(image), n), index, corners, sizes, noise, value).numpy()
                         for n, image in enumerate(batch)])
    assert out.dtype == dtype and 10 < len(index) < 64
    np.testing.assert_array_equal(out, expected)


def test_random_erasing_draws_torchvisions_rectangles():
    shape = (20000, 3, 32, 32)
    index, corners, sizes, _ = T.RandomErasing(p=0.5).sample(shape, np.random.default_rng(0))
    assert abs(len(index) / 20000 - 0.5) < 0.02
    fractions, aspects = sizes.prod(axis=1) / 1024, sizes[:, 0] / sizes[:, 1]
    assert 0.015 < fractions.min() < 0.03 and 0.3 < fractions.max() < 0.36  # (0.02, 0.33), sides rounded
    assert 0.2 < aspects.min() < 0.35 and 2.9 < aspects.max() < 5           # (0.3, 3.3), sides rounded
    assert (np.log(aspects) > 0).mean() == pytest.approx(0.5, abs=0.03)    # log-uniform: as many tall as wide
    assert (corners >= 0).all() and (corners + sizes <= 32).all() and (sizes < 32).all()
    assert corners.min(axis=0).tolist() == [0, 0]
    # no rectangle of the whole area fits strictly inside: the images stay as they are
    never = T.RandomErasing(p=1, scale=(1, 1), ratio=(1, 1))
    assert len(never.sample(shape, np.random.default_rng(0))[0]) == 0
    batch = images(np.float32)
    np.testing.assert_array_equal(never(batch), batch)


def test_random_erasing_bad_arguments():
    with pytest.raises(ValueError, match="If value is str, it should be 'random'"):
        T.RandomErasing(value="noise")
    with pytest.raises(TypeError, match="Argument value should be either a number or str or a sequence"):
        T.RandomErasing(value=None)
    with pytest.raises(TypeError, match="Scale should be a sequence"):
        T.RandomErasing(scale=0.5)
    with pytest.raises(ValueError, match="Scale should be between 0 and 1"):
        T.RandomErasing(scale=(0.5, 1.5))
    with pytest.raises(ValueError, match="probability should be between 0 and 1"):
        T.RandomErasing(p=1.5)
    with pytest.warns(UserWarning, match=r"kind \(min, max\)"):
        T.RandomErasing(ratio=(3.3, 0.3))
    with pytest.raises(ValueError, match="either a single value or 3"):
        T.RandomErasing(p=1, value=(0.1, 0.2))(images(np.float32))


# ---------------------------------------------------------------------- CenterCrop, RandomVerticalFlip
def tv_center_crop(image, size):
    """torchvision's ``center_crop``: pad with zeros up to ``size`` (the odd pixel after), then cut the middle."""
    (height, width), (crop_height, crop_width) = image.shape[-2:], size
    rows, cols = max(crop_height - height, 0), max(crop_width - width, 0)
    image = torch.nn.functional.pad(image, [cols // 2, (cols + 1) // 2, rows // 2, (rows + 1) // 2])
    top, left = int(round((image.shape[-2] - crop_height) / 2.0)), int(round((image.shape[-1] - crop_width) / 2.0))
    return image[..., top:top + crop_height, left:left + crop_width]


@pytest.mark.parametrize("size", [5, (4, 3), [6], (7, 6), (12, 5), (9, 11), (13, 14)])
@pytest.mark.parametrize("dtype", [np.uint8, np.float32])
def test_center_crop_is_torchvisions(device, size, dtype):
    batch = images(dtype, (4, 3, 9, 8))
    crop = T.CenterCrop(size)
    out = run(crop, batch, device)
    expected = torch_per_image(batch, lambda image: tv_center_crop(image, crop.size))
    assert out.dtype == dtype and out.shape == expected.shape
    np.testing.assert_array_equal(out, expected)


@pytest.mark.parametrize("p", [0.0, 0.4, 1.0])
def test_random_vertical_flip_turns_a_fraction_p_upside_down(device, p):
    batch = images()
    flip = T.RandomVerticalFlip(p)
    out = run(flip, batch, device)
    flips = draws(flip, batch)
    np.testing.assert_array_equal(out, np.where(flips[:, None, None, None], batch[:, :, ::-1], batch))
    assert flips.sum() == {0.0: 0, 1.0: len(batch)}.get(p, flips.sum()) and 0 < out.size
    assert abs(T.RandomVerticalFlip(0.4).sample((20000, 3, 2, 2), np.random.default_rng(0)).mean() - 0.4) < 0.02


# ---------------------------------------------------------------------- RandomApply, RandomChoice, RandomOrder
def twice(x):
    return x * 2


def plus_one(x):
    return x + 1


def test_random_apply_transforms_a_fraction_p_of_the_images(device):
    batch = images(np.float32, (400, 3, 4, 4))
    apply = T.RandomApply([twice, plus_one], p=0.3)
    out = run(apply, batch, device)
    chosen = draws(apply, batch)
    np.testing.assert_array_equal(out, np.where(chosen[:, None, None, None], batch * 2 + 1, batch))
    assert abs(chosen.mean() - 0.3) < 0.06


def test_random_choice_picks_one_transform_per_image_by_weight(device):
    batch = images(np.float32, (600, 3, 4, 4))
    choice = T.RandomChoice([twice, plus_one, T.RandomVerticalFlip(1.0)], p=[1, 2, 3])
    out = run(choice, batch, device)
    picks = draws(choice, batch)
    options = np.stack([batch * 2, batch + 1, batch[:, :, ::-1]])
    np.testing.assert_array_equal(out, options[picks, np.arange(len(batch))])
    assert abs(np.bincount(picks, minlength=3) / 600 - [1 / 6, 2 / 6, 3 / 6]).max() < 0.06
    assert abs(np.bincount(draws(T.RandomChoice([twice, plus_one]), batch)) / 600 - 0.5).max() < 0.06


def test_random_order_orders_each_image_on_its_own(device):
    batch = images(np.float32, (400, 3, 4, 4))
    order = T.RandomOrder([twice, plus_one])
    out = run(order, batch, device)
    orders = draws(order, batch)
    np.testing.assert_array_equal(out, np.where((orders[:, 0] == 0)[:, None, None, None], batch * 2 + 1,
                                                (batch + 1) * 2))
    assert abs(orders[:, 0].mean() - 0.5) < 0.06


def test_random_containers_draw_inner_parameters_per_image_and_repeat_with_the_seed(device):
    batch = np.repeat(images(np.uint8, (1, 3, 9, 8)), 32, axis=0)
    for transform in [T.RandomApply([C.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=1.0),
                      T.RandomChoice([T.RandomErasing(1.0), T.RandomCrop((9, 8), padding=2)]),
                      T.RandomOrder([T.RandomErasing(1.0), T.Compose([T.RandomCrop((9, 8), 2), T.Cutout(3)])])]:
        out = run(transform, batch, device)
        assert len({image.tobytes() for image in out}) > 24
        np.testing.assert_array_equal(run(transform, batch, device), out)


def test_random_containers_bad_arguments():
    with pytest.raises(ValueError, match=r"must keep an image's shape and dtype: \(3, 9, 8\) uint8 became "
                                         r"\(3, 4, 4\) uint8"):
        T.RandomApply([T.CenterCrop(4)], p=0.5)(images())
    with pytest.raises(ValueError, match="float32"):
        T.RandomChoice([T.Normalize((0.5,) * 3, (0.2,) * 3), T.RandomHorizontalFlip()])(images())
    with pytest.raises(TypeError, match="Argument transforms should be a sequence"):
        T.RandomOrder(T.RandomHorizontalFlip())
    with pytest.raises(TypeError, match="Argument p should be a sequence"):
        T.RandomChoice([twice, plus_one], p=0.5)
    with pytest.raises(ValueError, match="one weight >= 0 per transform"):
        T.RandomChoice([twice, plus_one], p=[1, 2, 3])


# ---------------------------------------------------------------------- the new transforms together
NEW_TRANSFORMS = [C.ColorJitter(0.4, 0.4, 0.4, 0.1), C.Grayscale(3), C.RandomGrayscale(0.5),
                  T.RandomErasing(), T.CenterCrop(6), T.RandomVerticalFlip(), T.RandomApply([T.RandomVerticalFlip()]),
                  T.RandomChoice([T.RandomVerticalFlip(), C.Grayscale(3)]), T.RandomOrder([plus_one, twice])]


@pytest.mark.parametrize("transform", NEW_TRANSFORMS, ids=lambda t: type(t).__name__)
def test_new_transforms_on_one_image_are_the_batch_of_one(device, transform):
    batch = images(np.float32, (1, 3, 9, 8))
    on_device = backend.to_device(batch, device)
    expected = run(transform, batch, device)[0]
    tensor = transform(mt.Tensor(on_device[0]), np.random.default_rng(SEED))
    assert isinstance(tensor, mt.Tensor) and tensor.device == backend.parse_device(device)
    np.testing.assert_array_equal(tensor.numpy(), expected)
    np.testing.assert_array_equal(backend.to_device(on_device, "cpu"), batch)  # the input is left alone
    pixels = (batch[0] * 255).round().astype(np.uint8)
    as_array = transform(pixels.transpose(1, 2, 0), np.random.default_rng(SEED))
    np.testing.assert_array_equal(as_array.transpose(2, 0, 1), run(transform, pixels[None], device)[0])


def test_a_torchvision_cifar_pipeline_runs_on_pil_images():
    Image = pytest.importorskip("PIL.Image")
    from minitorch_cifar.vision import transforms as V

    image = Image.fromarray(images(shape=(1, 32, 32, 3))[0])
    augment = V.Compose([V.RandomCrop(32, padding=4), V.RandomHorizontalFlip(),
                         V.RandomApply([V.ColorJitter(0.4, 0.4, 0.4, 0.1)], p=0.8), V.RandomGrayscale(p=0.2),
                         V.ToTensor(), V.Normalize(T.CIFAR10_MEAN, T.CIFAR10_STD), V.RandomErasing(p=1.0)])
    mt.manual_seed(5)
    first = augment(image)
    assert isinstance(first, mt.Tensor) and first.shape == (3, 32, 32) and first.dtype == mt.float32
    mt.manual_seed(5)
    np.testing.assert_array_equal(augment(image).numpy(), first.numpy())
    back = V.ToPILImage()(V.ToTensor()(image))
    assert back.mode == "RGB" and np.array_equal(np.asarray(back), np.asarray(image))
    assert V.ToPILImage()(np.zeros((4, 5), np.float32)).mode == "L"
    assert np.asarray(V.CenterCrop(24)(image)).shape == (24, 24, 3) and V.Grayscale()(image).mode == "L"
    with pytest.raises(TypeError, match="uint8 or float pixels"):
        V.ToPILImage()(np.zeros((4, 5, 3), np.int32))


def test_colour_transforms_bad_arguments():
    with pytest.raises(ValueError, match="If brightness is a single number, it must be non negative"):
        C.ColorJitter(brightness=-0.1)
    with pytest.raises(TypeError, match="contrast should be a single number or a list/tuple with length 2"):
        C.ColorJitter(contrast=(0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match=r"hue values should be between \(-0.5, 0.5\), but got \[-0.6, 0.6\]"):
        C.ColorJitter(hue=0.6)
    with pytest.raises(ValueError, match=r"saturation values should be between"):
        C.ColorJitter(saturation=(1.5, 0.5))
    with pytest.raises(ValueError, match="num_output_channels should be either 1 or 3"):
        C.Grayscale(2)
    with pytest.raises(TypeError, match="1 or 3 channels"):
        C.ColorJitter(0.5)(images(shape=(2, 4, 5, 5)))
    with pytest.raises(ValueError, match="CenterCrop needs a positive int or"):
        T.CenterCrop((1, 2, 3))
