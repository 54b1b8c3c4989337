"""Map-style datasets as ``torch.utils.data`` has them (``Dataset``, ``TensorDataset``, ``Subset``, ``ConcatDataset``,
``random_split``),
in-memory image datasets (images ``(N, C, H, W)`` and integer labels) and a seeded train/validation split.

A dataset held whole in memory as arrays says so with ``stacked_arrays()``: the arrays whose rows batch its
items, which the ``DataLoader`` gathers a batch from with one index array instead of reading item by item.
"""
import bisect
import math

import numpy as np

from .. import backend
from ..tensor import Tensor


def _on_host(values):
    """A NumPy array from a NumPy or CuPy array, a Tensor or a list (np.asarray refuses CuPy arrays)."""
    if isinstance(values, Tensor):
        values = values.array
    return backend.to_device(values, "cpu") if hasattr(values, "shape") else np.asarray(values)


class Dataset:
    """Base class of map-style datasets, as PyTorch's: ``len(dataset)`` items, ``dataset[i]`` the i-th."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must define __getitem__")

    def stacked_arrays(self):
        """The arrays whose rows are this dataset's items (item i is ``tuple(a[i] for a in arrays)``), when it is
        held whole in memory that way; None otherwise (then a DataLoader reads item by item)."""
        return None


class ArrayDataset(Dataset):
    """Images ``data`` (N, C, H, W) and labels ``targets`` (N,) int64, indexable as ``(image, label)`` pairs.

    ``classes`` names the labels (``classes[k]`` is label k's name) when known.
    """

    def __init__(self, data, targets, classes=None):
        data, targets = _on_host(data), _on_host(targets)
        if data.ndim != 4:
            raise ValueError(f"images must have shape (N, C, H, W), got {data.shape}")
        if targets.ndim != 1 or targets.dtype.kind not in "iu":
            raise ValueError(f"labels must be a 1-d integer array, got shape {targets.shape} and dtype {targets.dtype}")
        if len(data) != len(targets):
            raise ValueError(f"{len(data)} images but {len(targets)} labels")
        self.data = data
        self.targets = targets.astype(np.int64, copy=False)
        self.classes = None if classes is None else list(classes)

    def __len__(self):
        return len(self.targets)

    def __getitem__(self, index):
        return self.data[index], int(self.targets[index])

    def stacked_arrays(self):
        return self.data, self.targets

    def __repr__(self):
        return f"{type(self).__name__}(images={self.data.shape} {self.data.dtype}, classes={self.classes})"


class TensorDataset(Dataset):
    """Tensors (or arrays) of equal length; item i is the tuple of their i-th rows, as ``torch.utils.data``'s."""

    def __init__(self, *tensors):
        self.tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
        lengths = [len(t) for t in self.tensors]
        if not self.tensors or len(set(lengths)) != 1:
            raise ValueError(f"TensorDataset needs one or more tensors of equal length, got lengths {lengths}")

    def __len__(self):
        return len(self.tensors[0])

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def stacked_arrays(self):
        return tuple(t.array for t in self.tensors)

    def __repr__(self):
        return f"TensorDataset({', '.join(f'{tuple(t.shape)} {t.dtype}' for t in self.tensors)})"


class Subset(Dataset):
    """The items of ``dataset`` at ``indices``, in that order, as ``torch.utils.data.Subset``."""

    def __init__(self, dataset, indices):
        self.dataset, self.indices = dataset, indices

    def __len__(self):
        return len(self.indices)

    def __getitem__(self, index):
        if isinstance(index, list):  # as PyTorch's: one lookup of the dataset with a list of indices
            return self.dataset[[self.indices[i] for i in index]]
        return self.dataset[self.indices[index]]

    def stacked_arrays(self):
        arrays = self.dataset.stacked_arrays() if isinstance(self.dataset, Dataset) else None
        if arrays is None:
            return None
        return tuple(a[backend.get_array_module(a).asarray(np.asarray(self.indices, dtype=np.int64))] for a in arrays)

    def __repr__(self):
        return f"Subset({self.dataset!r}, {len(self.indices)} indices)"


class ConcatDataset(Dataset):
    """The items of ``datasets`` one after another, as ``torch.utils.data.ConcatDataset``; ``cumulative_sizes[k]``
    is the number of items in the first k + 1 datasets."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise AssertionError("datasets should not be an empty iterable")  # PyTorch's exception and message
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self):
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        if index < 0:
            if -index > len(self):
                raise ValueError("absolute value of index should not exceed dataset length")
            index += len(self)
        if index >= len(self):
            raise IndexError(f"index {index} is out of range for a ConcatDataset of {len(self)} items")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        return self.datasets[which][index - (self.cumulative_sizes[which - 1] if which else 0)]

    def stacked_arrays(self):
        parts = [d.stacked_arrays() if isinstance(d, Dataset) else None for d in self.datasets]
        if any(arrays is None for arrays in parts) or len({len(arrays) for arrays in parts}) != 1:
            return None
        return tuple(backend.get_array_module(*column).concatenate(column) for column in zip(*parts))

    def __repr__(self):
        return f"ConcatDataset({', '.join(repr(d) for d in self.datasets)})"


def random_split(dataset, lengths, generator=None):
    """Split ``dataset`` into non-overlapping ``Subset``s of ``lengths`` at random, as PyTorch's ``random_split``.

    ``lengths`` are counts that add up to ``len(dataset)``, or fractions that add up to 1 (each part gets the floor
    of its share, and the examples left over go one each to the first parts). ``generator``: a NumPy generator
    (or anything with ``permutation(n)``); by default the framework's, which ``manual_seed`` seeds.
    """
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:  # fractions
        if any(not 0 <= f <= 1 for f in lengths):
            raise ValueError(f"random_split: fractions must lie in [0, 1], got {lengths}")
        counts = [int(math.floor(n * fraction)) for fraction in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if sum(lengths) != n or any(not isinstance(k, (int, np.integer)) or k < 0 for k in lengths):
        raise ValueError(f"random_split: lengths {lengths} must be counts adding up to the dataset's {n} examples, or "
                         f"fractions adding up to 1")
    order = (generator if generator is not None else backend.generator(np)).permutation(n).tolist()
    ends = np.cumsum(lengths).tolist()
    return [Subset(dataset, order[end - length:end]) for end, length in zip(ends, lengths)]


def as_dataset(dataset_or_arrays):
    """An ``ArrayDataset`` from an image dataset held in memory (one, or anything with ``stacked_arrays()``, ``.data``
    and ``.targets``) or from an (images, labels) pair."""
    if isinstance(dataset_or_arrays, ArrayDataset):
        return dataset_or_arrays
    arrays = dataset_or_arrays.stacked_arrays() if isinstance(dataset_or_arrays, Dataset) else None
    if arrays is not None and len(arrays) == 2:
        return ArrayDataset(*(backend.to_device(a, "cpu") for a in arrays), getattr(dataset_or_arrays, "classes", None))
    if hasattr(dataset_or_arrays, "data") and hasattr(dataset_or_arrays, "targets"):
        return ArrayDataset(dataset_or_arrays.data, dataset_or_arrays.targets,
                            getattr(dataset_or_arrays, "classes", None))
    if isinstance(dataset_or_arrays, (tuple, list)) and len(dataset_or_arrays) == 2:
        return ArrayDataset(*dataset_or_arrays)
    raise TypeError(f"expected a dataset with .data and .targets or an (images, labels) pair, "
                    f"got {type(dataset_or_arrays).__name__}")


def train_val_split(dataset_or_arrays, val_size, seed=0):
    """Split into (train, validation) ``ArrayDataset``s at random, like ``torch.utils.data.random_split``.

    ``val_size`` is a number of examples or, below 1, a fraction of them. The same seed gives the same split;
    each part keeps the source order.
    """
    dataset = as_dataset(dataset_or_arrays)
    n = len(dataset)
    n_val = int(round(val_size * n)) if isinstance(val_size, float) and 0 < val_size < 1 else val_size
    if not isinstance(n_val, (int, np.integer)) or not 0 < n_val < n:
        raise ValueError(f"val_size must be a count in 1..{n - 1} or a fraction in (0, 1), got {val_size!r}")
    order = np.random.default_rng(seed).permutation(n)
    val_index, train_index = np.sort(order[:n_val]), np.sort(order[n_val:])
    return tuple(ArrayDataset(dataset.data[i], dataset.targets[i], dataset.classes) for i in (train_index, val_index))
