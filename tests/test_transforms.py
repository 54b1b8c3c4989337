"""Whole-batch augmentations against a per-image reference (torchvision's semantics, written out image by
image) that uses the same random draws; scaling and normalisation against PyTorch, to the last bit."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend
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
