"""``minitorch_cifar.vision`` (torchvision's names): per-image transforms against the whole-batch ones and PyTorch,
``datasets.CIFAR10`` with per-item transforms through the DataLoader against PyTorch's loader, ``make_grid`` and
``save_image`` against torchvision's algorithm written out in torch (torchvision itself is not needed)."""
import math

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import data
from minitorch_cifar.data import DatasetNotFoundError, write_fake_cifar10
from minitorch_cifar.utils.data import DataLoader, Subset
from minitorch_cifar.vision import datasets, transforms, utils

from helpers import torch

Image = pytest.importorskip("PIL.Image")


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return write_fake_cifar10(tmp_path_factory.mktemp("fake"), train_per_class=3, test_per_class=2, seed=0)


def picture(shape=(9, 8, 3), seed=0):
    """A random (H, W, C) uint8 image with no zero pixels."""
    return np.random.default_rng(seed).integers(1, 256, shape, dtype=np.uint8)


def rng():
    return np.random.default_rng(5)


# ---------------------------------------------------------------------- ToTensor
def test_to_tensor_is_torchvisions_for_arrays_and_pil_images():
    image = picture()
    expected = torch.from_numpy(image.transpose(2, 0, 1)).contiguous().float().div(255)  # torchvision's ToTensor
    for source in (image, Image.fromarray(image)):
        out = transforms.ToTensor()(source)
        assert isinstance(out, mt.Tensor) and out.dtype == np.float32
        np.testing.assert_array_equal(out.numpy(), expected.numpy())
    grey = transforms.ToTensor()(Image.fromarray(image[..., 0]))
    np.testing.assert_array_equal(grey.numpy(), expected[:1].numpy())
    floats = np.linspace(-1, 1, 24).reshape(2, 4, 3)
    kept = transforms.ToTensor()(floats)
    assert kept.dtype == np.float64 and kept.shape == (3, 2, 4)
    np.testing.assert_array_equal(kept.numpy(), floats.transpose(2, 0, 1))
    with pytest.raises(TypeError, match="PIL image or an"):
        transforms.ToTensor()(mt.tensor(floats))


# ---------------------------------------------------------------------- one image = a batch of one
PER_IMAGE = [transforms.RandomCrop(7, padding=2), transforms.RandomCrop((9, 6), padding=(1, 2, 3, 0), fill=7),
             transforms.RandomCrop(8, padding=1, padding_mode="symmetric"), transforms.RandomHorizontalFlip(),
             transforms.Pad((1, 2), padding_mode="reflect"), transforms.Resize(12),
             transforms.Resize((10, 16), transforms.InterpolationMode.NEAREST),
             transforms.Compose([transforms.Pad(2), transforms.RandomCrop(9), transforms.RandomHorizontalFlip()])]


@pytest.mark.parametrize("transform", PER_IMAGE, ids=repr)
def test_one_image_in_every_form_is_transformed_as_a_batch_of_one(transform):
    image = picture()
    batch = image.transpose(2, 0, 1)[None]
    expected = transform(batch, rng())[0]                                   # (C, H, W)
    as_array = transform(image, rng())                                       # (H, W, C) in, (H, W, C) out
    as_tensor = transform(mt.tensor(image.transpose(2, 0, 1)), rng())       # (C, H, W) Tensor in and out
    as_pil = transform(Image.fromarray(image), rng())                       # PIL in, PIL out
    np.testing.assert_array_equal(as_array.transpose(2, 0, 1), expected)
    assert isinstance(as_tensor, mt.Tensor)
    np.testing.assert_array_equal(as_tensor.numpy(), expected)
    assert isinstance(as_pil, Image.Image)
    np.testing.assert_array_equal(np.asarray(as_pil).transpose(2, 0, 1), expected)


def test_a_batch_is_each_of_its_images_with_its_own_draws():
    images = np.stack([picture(seed=s) for s in range(6)])                   # (N, H, W, C)
    crop = transforms.RandomCrop(7, padding=3, padding_mode="reflect")
    batch = crop(images.transpose(0, 3, 1, 2), rng())
    corners = crop.sample((6, 3, 9, 8), rng())
    for image, (top, left), out in zip(images, corners, batch):
        padded = np.pad(image, ((3, 3), (3, 3), (0, 0)), mode="reflect")
        np.testing.assert_array_equal(out, padded[top:top + 7, left:left + 7].transpose(2, 0, 1))


@pytest.mark.parametrize("padding, mode, torch_mode", [(3, "constant", "constant"), ((1, 2), "edge", "replicate"),
                                                       ((2, 0, 1, 3), "reflect", "reflect")])
def test_pad_matches_pytorch(padding, mode, torch_mode):
    image = picture().transpose(2, 0, 1).astype(np.float32)
    left, top, right, bottom = (padding,) * 4 if isinstance(padding, int) else padding * (4 // len(padding))
    expected = torch.nn.functional.pad(torch.from_numpy(image)[None], [left, right, top, bottom], mode=torch_mode)
    out = transforms.Pad(padding, padding_mode=mode)(mt.tensor(image))
    np.testing.assert_array_equal(out.numpy(), expected[0].numpy())
    np.testing.assert_array_equal(transforms.Pad(1, fill=9)(image[None])[0, :, 0], np.full((3, 10), 9))


@pytest.mark.parametrize("size, mode", [(18, "bilinear"), ((20, 9), "bilinear"), (18, "nearest"),
                                        ((27, 24), "nearest")])
def test_resize_enlarges_as_pytorchs_interpolate(size, mode):
    image = np.random.default_rng(0).random((3, 9, 8)).astype(np.float32)
    target = (math.floor(18 * 9 / 8), 18) if size == 18 else size      # an int sizes the shorter side
    options = {"align_corners": False} if mode == "bilinear" else {}
    expected = torch.nn.functional.interpolate(torch.from_numpy(image)[None], size=target, mode=mode, **options)[0]
    out = transforms.Resize(size, transforms.InterpolationMode(mode))(mt.tensor(image))
    assert out.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=0, atol=1e-6)
    image = picture()                                                        # uint8 (H, W, C) in, rounded uint8 out
    pixels = transforms.Resize(size, transforms.InterpolationMode(mode))(image)
    exact = torch.nn.functional.interpolate(torch.from_numpy(image.transpose(2, 0, 1)).float()[None], size=target,
                                            mode=mode, **options)[0].numpy().transpose(1, 2, 0)
    assert pixels.dtype == np.uint8 and pixels.shape == exact.shape
    assert np.abs(pixels - exact).max() <= 0.5 + 1e-4


def test_normalize_of_one_tensor_matches_pytorch():
    image = transforms.ToTensor()(picture())
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    expected = (torch.from_numpy(image.numpy()) - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)
    np.testing.assert_array_equal(transforms.Normalize(mean, std)(image).numpy(), expected.numpy())
    with pytest.raises(TypeError, match="put ToTensor"):
        transforms.Normalize(mean, std)(Image.fromarray(picture()))


def test_random_transforms_alone_follow_manual_seed():
    pipeline = transforms.Compose([transforms.RandomCrop(7, padding=2), transforms.RandomHorizontalFlip(),
                                   transforms.ToTensor(), transforms.Lambda(lambda t: t * 2)])
    mt.manual_seed(4)
    first = [pipeline(picture()).numpy() for _ in range(4)]
    mt.manual_seed(4)
    np.testing.assert_array_equal([pipeline(picture()).numpy() for _ in range(4)], first)
    assert any(not np.array_equal(first[0], other) for other in first[1:])
    assert first[0].max() > 1  # the Lambda ran after ToTensor


# ---------------------------------------------------------------------- datasets.CIFAR10
def test_cifar10_is_torchvisions_view_of_the_same_files(fake_root, tmp_path):
    plain = data.CIFAR10(fake_root, train=False)
    dataset = datasets.CIFAR10(fake_root, train=False)
    assert len(dataset) == len(plain) == 20 and dataset.data.shape == (20, 32, 32, 3)
    np.testing.assert_array_equal(dataset.data, plain.data.transpose(0, 2, 3, 1))
    assert dataset.targets == plain.targets.tolist() and dataset.classes == plain.classes
    assert dataset.class_to_idx["truck"] == 9
    image, label = dataset[3]
    assert isinstance(label, int) and label == plain.targets[3]
    np.testing.assert_array_equal(image, plain.data[3].transpose(1, 2, 0))
    shifted = datasets.CIFAR10(fake_root, False, transforms.ToTensor(), lambda y: y + 100)
    tensor, label = shifted[3]
    np.testing.assert_array_equal(tensor.numpy(), plain.data[3] / np.float32(255))
    assert label == plain.targets[3] + 100
    assert sum(1 for _ in dataset) == 20  # iterating stops at the end, as torchvision's
    with pytest.raises(DatasetNotFoundError):
        datasets.CIFAR10(tmp_path / "empty")  # download=False by default


class TorchStyleCIFAR(torch.utils.data.Dataset):
    """The same images through the same pipeline written in torch ops, as torchvision would give them."""

    def __init__(self, dataset, mean, std):
        self.data, self.targets = dataset.data, dataset.targets
        self.mean, self.std = torch.tensor(mean).view(3, 1, 1), torch.tensor(std).view(3, 1, 1)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        image = torch.from_numpy(self.data[index].transpose(2, 0, 1).copy()).float().div(255)
        return (image - self.mean) / self.std, self.targets[index]


def test_per_item_pipeline_through_the_loader_gives_pytorchs_batches(fake_root):
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    dataset = datasets.CIFAR10(fake_root, train=True, transform=transforms.Compose([
        transforms.ToTensor(), transforms.Normalize(mean, std)]))
    batches = list(DataLoader(dataset, 4, shuffle=True))
    # The order our loader drew, recovered from the images themselves (the synthetic ones are all different).
    rows = {image.tobytes(): i for i, image in enumerate(dataset.data)}
    order = [rows[np.ascontiguousarray(np.rint(((x * np.array(std)[:, None, None] + np.array(mean)[:, None, None])
                                                 * 255)).astype(np.uint8).transpose(1, 2, 0)).tobytes()]
             for batch, _ in batches for x in batch.numpy()]
    assert sorted(order) == list(range(len(dataset))) and order != sorted(order)
    reference = torch.utils.data.DataLoader(TorchStyleCIFAR(dataset, mean, std), 4, sampler=order)
    assert len(batches) == len(reference) == 8
    for (x, y), (tx, ty) in zip(batches, reference):
        assert x.dtype == np.float32 and y.dtype == np.int64
        np.testing.assert_array_equal(x.numpy(), tx.numpy())
        np.testing.assert_array_equal(y.numpy(), ty.numpy())


def test_untransformed_cifar10_is_batched_whole_as_the_projects_loader(fake_root, monkeypatch):
    augment = data.transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
                                       transforms.Normalize(data.transforms.CIFAR10_MEAN, data.transforms.CIFAR10_STD)])
    expected = list(DataLoader(data.CIFAR10(fake_root), 16, shuffle=True, transform=augment, seed=3))
    monkeypatch.setattr(datasets.CIFAR10, "__getitem__", lambda self, i: pytest.fail("an item was read"))
    dataset = datasets.CIFAR10(fake_root)
    for loader in (DataLoader(dataset, 16, shuffle=True, transform=augment, seed=3),
                   DataLoader(Subset(dataset, range(len(dataset))), 16, shuffle=True, transform=augment, seed=3)):
        got = list(loader)
        assert len(got) == len(expected) == 2  # 30 images
        for (x, y), (ex, ey) in zip(got, expected):
            np.testing.assert_array_equal(x.numpy(), ex.numpy())
            np.testing.assert_array_equal(y.numpy(), ey.numpy())
    raw, _ = next(iter(DataLoader(dataset, 5)))
    assert raw.dtype == np.uint8 and raw.shape == (5, 3, 32, 32)


# ---------------------------------------------------------------------- make_grid and save_image
def torchvision_make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False,
                          pad_value=0.0):
    """torchvision.utils.make_grid's documented algorithm, step by step in torch."""
    if isinstance(tensor, list):
        tensor = torch.stack(tensor, dim=0)
    if tensor.dim() == 2:
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 3:
        if tensor.size(0) == 1:
            tensor = torch.cat((tensor, tensor, tensor), 0)
        tensor = tensor.unsqueeze(0)
    if tensor.dim() == 4 and tensor.size(1) == 1:
        tensor = torch.cat((tensor, tensor, tensor), 1)
    if normalize:
        tensor = tensor.clone()

        def norm(t, low, high):
            t.clamp_(min=low, max=high)
            t.sub_(low).div_(max(high - low, 1e-5))

        for t in (tensor if scale_each else [tensor]):
            norm(t, *(value_range if value_range is not None else (float(t.min()), float(t.max()))))
    if tensor.size(0) == 1:
        return tensor.squeeze(0)
    nmaps = tensor.size(0)
    xmaps = min(nrow, nmaps)
    ymaps = int(math.ceil(float(nmaps) / xmaps))
    height, width = int(tensor.size(2) + padding), int(tensor.size(3) + padding)
    grid = tensor.new_full((tensor.size(1), height * ymaps + padding, width * xmaps + padding), pad_value)
    k = 0
    for y in range(ymaps):
        for x in range(xmaps):
            if k >= nmaps:
                break
            grid.narrow(1, y * height + padding, height - padding).narrow(2, x * width + padding,
                                                                           width - padding).copy_(tensor[k])
            k += 1
    return grid


@pytest.mark.parametrize("shape, options", [
    ((5, 3, 4, 6), {}), ((5, 3, 4, 6), {"nrow": 2, "padding": 1, "pad_value": 0.5}),
    ((7, 1, 5, 5), {"nrow": 3, "normalize": True}), ((4, 3, 4, 4), {"normalize": True, "value_range": (-1.0, 1.0)}),
    ((4, 3, 4, 4), {"normalize": True, "scale_each": True, "padding": 0}), ((1, 3, 4, 4), {"normalize": True}),
    ((3, 4, 4), {}), ((4, 4), {}), ((9, 3, 2, 3), {"nrow": 4, "padding": 3})])
def test_make_grid_matches_torchvisions_algorithm(shape, options):
    images = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    expected = torchvision_make_grid(torch.from_numpy(images), **options)
    grid = utils.make_grid(mt.tensor(images), **options)
    assert grid.shape == tuple(expected.shape)
    np.testing.assert_allclose(grid.numpy(), expected.numpy(), rtol=0, atol=1e-6)
    if len(shape) == 4:
        listed = utils.make_grid([mt.tensor(image) for image in images], **options)
        np.testing.assert_array_equal(listed.numpy(), grid.numpy())


def test_save_image_writes_torchvisions_pixels(tmp_path):
    images = np.random.default_rng(1).random((6, 3, 5, 4)).astype(np.float32)
    path = tmp_path / "grid.png"
    utils.save_image(mt.tensor(images), path, nrow=3, padding=1)
    expected = torchvision_make_grid(torch.from_numpy(images), nrow=3, padding=1)
    expected = expected.mul(255).add_(0.5).clamp_(0, 255).permute(1, 2, 0).to("cpu", torch.uint8).numpy()
    np.testing.assert_array_equal(np.asarray(Image.open(path)), expected)
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"]  # written whole, nothing left behind
    with pytest.raises(ValueError, match="format"):
        utils.save_image(mt.tensor(images), tmp_path / "grid.unknown")
