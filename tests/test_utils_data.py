"""``minitorch_cifar.utils.data`` against ``torch.utils.data``: datasets, ``random_split``, default collation and
the DataLoader over any map-style dataset; the whole-batch path of in-memory datasets against the item-by-item one."""
import collections

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend
from minitorch_cifar.utils.data import (BatchSampler, DataLoader, Dataset, RandomSampler, SequentialSampler, Subset,
                                        SubsetRandomSampler, TensorDataset, default_collate, random_split)

from helpers import torch

Point = collections.namedtuple("Point", "x y")


def same(ours, theirs):
    """Assert that a collated structure of ours equals torch's: the same nesting, types, dtypes and values."""
    if isinstance(theirs, torch.Tensor):
        assert isinstance(ours, mt.Tensor), f"expected a Tensor, got {type(ours).__name__}"
        assert ours.shape == tuple(theirs.shape) and ours.numpy().dtype == theirs.numpy().dtype
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    elif isinstance(theirs, dict):
        assert isinstance(ours, dict) and list(ours) == list(theirs)
        for key in theirs:
            same(ours[key], theirs[key])
    elif isinstance(theirs, (list, tuple)):
        assert type(ours) is type(theirs) and len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            same(a, b)
    else:
        assert ours == theirs


class Records(Dataset):
    """A map-style dataset whose items are dicts of arrays of any shape, numbers and strings (for both libraries)."""

    def __init__(self, n, tensor=lambda a: a):
        rng = np.random.default_rng(0)
        self.features = rng.standard_normal((n, 2, 5)).astype(np.float32)
        self.tensor = tensor
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, index):
        return {"features": self.tensor(self.features[index]), "label": index % 3, "weight": index / 4,
                "name": f"item{index}", "pair": (index, self.tensor(self.features[index, 0]))}


@pytest.mark.parametrize("items", [
    [(np.arange(6, dtype=np.uint8).reshape(2, 3), 1), (np.ones((2, 3), np.uint8), 2)],
    [{"a": 1.5, "b": [1, 2]}, {"a": 2.5, "b": [3, 4]}],
    [Point(1, np.float32(2)), Point(3, np.float32(4))],
    [[True, "x"], [False, "y"]],
    [(np.int32(3), np.arange(3.0)), (np.int32(4), np.arange(3.0) + 1)],
])
def test_default_collate_matches_pytorch(items):
    same(default_collate(items), torch.utils.data.default_collate(items))


def test_default_collate_stacks_tensors_as_pytorch_does():
    rows = np.random.default_rng(0).standard_normal((3, 2, 5))
    same(default_collate([(mt.tensor(row), {"k": mt.tensor(row[0])}) for row in rows]),
         torch.utils.data.default_collate([(torch.from_numpy(row), {"k": torch.from_numpy(row[0])}) for row in rows]))


def test_default_collate_names_what_it_cannot_stack():
    with pytest.raises(TypeError, match=r"different shapes \[\(2,\), \(3,\)\]"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object(), object()])


def test_tensor_dataset_and_subset_index_like_pytorch():
    images = np.random.default_rng(0).integers(0, 256, (10, 3, 4, 4), dtype=np.uint8)
    labels = np.arange(10) % 4
    ours, theirs = TensorDataset(mt.tensor(images), labels), torch.utils.data.TensorDataset(
        torch.from_numpy(images), torch.from_numpy(labels))
    assert len(ours) == len(theirs) == 10
    for i in (0, 7, -1):
        same(list(ours[i]), list(theirs[i]))
    subset, their_subset = Subset(ours, [5, 2, 9]), torch.utils.data.Subset(theirs, [5, 2, 9])
    assert len(subset) == 3
    same(list(subset[1]), list(their_subset[1]))
    same(list(subset[[0, 2]]), list(their_subset[[0, 2]]))
    with pytest.raises(ValueError, match=r"equal length, got lengths \[10, 9\]"):
        TensorDataset(images, labels[:9])
    with pytest.raises(NotImplementedError, match="__getitem__"):
        Dataset()[0]


@pytest.mark.parametrize("n, lengths", [(10, [3, 7]), (10, [0.7, 0.2, 0.1]), (11, [0.5, 0.5]), (7, [0.3, 0.3, 0.4]),
                                        (50000, [0.9, 0.1]), (5, [1.0])])
def test_random_split_sizes_match_pytorch(n, lengths):
    parts = random_split(range(n), lengths, generator=np.random.default_rng(0))
    expected = torch.utils.data.random_split(range(n), lengths, generator=torch.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [len(p) for p in expected]
    assert sorted(i for p in parts for i in p) == list(range(n))  # every example in exactly one part


def test_random_split_repeats_with_its_generator_or_the_framework_seed():
    first = [list(p) for p in random_split(range(20), [15, 5], generator=np.random.default_rng(4))]
    assert [list(p) for p in random_split(range(20), [15, 5], generator=np.random.default_rng(4))] == first
    mt.manual_seed(1)
    seeded = [list(p) for p in random_split(range(20), [0.75, 0.25])]
    mt.manual_seed(1)
    assert [list(p) for p in random_split(range(20), [0.75, 0.25])] == seeded != first
    for bad in ([3, 3], [0.5, 0.6], [-1, 21], [1.5, -0.5]):
        with pytest.raises(ValueError, match="random_split"):
            random_split(range(20), bad)


def epoch(loader):
    return [batch for batch in loader]


@pytest.mark.parametrize("batch_size, drop_last", [(4, False), (4, True), (1, False), (32, False)])
def test_loader_over_any_map_style_dataset_matches_pytorch(batch_size, drop_last):
    ours, theirs = Records(10, mt.tensor), Records(10, torch.from_numpy)
    loader = DataLoader(ours, batch_size, False, num_workers=2, pin_memory=True, drop_last=drop_last)
    reference = torch.utils.data.DataLoader(theirs, batch_size, False, drop_last=drop_last)
    assert len(loader) == len(reference)
    batches = epoch(loader)
    assert len(batches) == len(reference)
    for got, expected in zip(batches, reference):
        same(got, expected)


def test_loader_follows_a_sampler_or_a_batch_sampler_as_pytorch_does():
    order = [7, 2, 9, 0, 4, 4, 1]
    ours, theirs = Records(10, mt.tensor), Records(10, torch.from_numpy)
    for got, expected in zip(DataLoader(ours, 3, sampler=order),
                             torch.utils.data.DataLoader(theirs, 3, sampler=order)):
        same(got, expected)
    batches = [[3, 1], [0, 2, 5], [9]]
    assert len(DataLoader(ours, batch_sampler=batches)) == 3
    for got, expected in zip(DataLoader(ours, batch_sampler=batches),
                             torch.utils.data.DataLoader(theirs, batch_sampler=batches)):
        same(got, expected)


def test_samplers_give_pytorchs_counts_and_batches():
    data = range(10)
    for ours, theirs in [(SequentialSampler(data), torch.utils.data.SequentialSampler(data)),
                         (BatchSampler(SequentialSampler(data), 4, False),
                          torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(data), 4, False)),
                         (BatchSampler(range(7), 3, True), torch.utils.data.BatchSampler(range(7), 3, True))]:
        assert len(ours) == len(theirs) and list(ours) == list(theirs)
    for options in [{}, {"num_samples": 25}, {"replacement": True, "num_samples": 7}]:
        drawn = list(RandomSampler(data, generator=np.random.default_rng(0), **options))
        assert len(drawn) == len(torch.utils.data.RandomSampler(data, **options)) == len(RandomSampler(data, **options))
        assert set(drawn) <= set(data)
        if not options.get("replacement"):  # whole permutations, then part of one
            assert sorted(drawn[:10]) == list(data) and len(set(drawn[20:])) == len(drawn[20:])
    subset = SubsetRandomSampler([3, 5, 8, 13], generator=np.random.default_rng(1))
    assert sorted(subset) == [3, 5, 8, 13] and len(subset) == 4


def test_subset_random_sampler_splits_a_dataset_for_the_loader():
    dataset = TensorDataset(np.arange(12.0).reshape(12, 1), np.arange(12))

    def labels_after_seeding():
        mt.manual_seed(2)
        return [y.numpy().tolist() for _, y in DataLoader(dataset, 4, sampler=SubsetRandomSampler([0, 2, 4, 6, 8, 10]))]

    labels = labels_after_seeding()
    assert [len(batch) for batch in labels] == [4, 2] and sorted(sum(labels, [])) == list(range(0, 12, 2))
    assert labels_after_seeding() == labels  # the framework seed decides the order


def test_shuffle_visits_every_item_once_in_a_repeatable_order():
    dataset = Records(23, mt.tensor)
    labels_of = lambda loader: np.concatenate([b["pair"][0].numpy() for b in loader])  # noqa: E731
    loader = DataLoader(dataset, 64, shuffle=True, seed=2)
    first, second = labels_of(loader), labels_of(loader)
    assert sorted(first) == sorted(second) == list(range(23)) and list(first) != list(second)
    np.testing.assert_array_equal(labels_of(DataLoader(dataset, 5, True, seed=2)), first)


def items_never_read(monkeypatch):
    """Make reading a TensorDataset item by item fail, so that a loader that batches it can only gather whole."""
    def refuse(self, index):
        raise AssertionError("the whole-batch path read an item")
    monkeypatch.setattr(TensorDataset, "__getitem__", refuse)


def test_tensor_dataset_of_images_is_batched_whole_with_the_same_batches(monkeypatch, device):
    rng = np.random.default_rng(0)
    images, labels = rng.integers(0, 256, (30, 3, 8, 8), dtype=np.uint8), rng.integers(0, 10, 30).astype(np.int32)
    dataset = TensorDataset(images, labels)
    itemwise = epoch(DataLoader(dataset, 8, shuffle=True, seed=5, collate_fn=default_collate))  # a collate_fn: by item
    subset_itemwise = epoch(DataLoader(Subset(dataset, [4, 9, 1, 22]), 3, collate_fn=default_collate))
    with monkeypatch.context() as patch:
        items_never_read(patch)
        whole = epoch(DataLoader(dataset, 8, shuffle=True, seed=5, device=device))
        subset_whole = epoch(DataLoader(Subset(dataset, [4, 9, 1, 22]), 3, device=device))
    for got, expected in zip(whole + subset_whole, itemwise + subset_itemwise):
        assert isinstance(got, list) and len(got) == 2 and got[0].device == backend.parse_device(device)
        for ours, theirs in zip(got, expected):
            assert ours.dtype == theirs.dtype and ours.shape == theirs.shape
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert len(whole) == 4 and whole[0][1].dtype == np.int32


def test_cifar_sized_loader_takes_pytorchs_positional_order():
    images = np.zeros((200, 3, 32, 32), np.uint8)
    loader = DataLoader(TensorDataset(images, np.arange(200)), 64, True)
    assert loader.shuffle and loader.batch_size == 64 and len(loader) == 4
    assert [len(y) for _, y in loader] == [64, 64, 64, 8]
    assert sorted(np.concatenate([y.numpy() for _, y in loader])) == list(range(200))


def test_loader_refuses_what_it_cannot_do():
    dataset = Records(6)
    with pytest.raises(ValueError, match="per-item transform"):
        DataLoader(dataset, 2, transform=lambda batch, rng: batch)
    with pytest.raises(ValueError, match="batch_sampler gives whole batches"):
        DataLoader(dataset, 2, batch_sampler=[[0, 1]])
    with pytest.raises(TypeError, match="NumPy PCG64 Generator"):
        DataLoader(dataset, 2, shuffle=True, generator=torch.Generator())
