"""In-memory image datasets (images ``(N, C, H, W)`` and integer labels) and a seeded train/validation split."""
import numpy as np

from .. import backend
from ..tensor import Tensor


def _on_host(values):
    """A NumPy array from a NumPy or CuPy array, a Tensor or a list (np.asarray refuses CuPy arrays)."""
    if isinstance(values, Tensor):
        values = values.array
    return backend.to_device(values, "cpu") if hasattr(values, "shape") else np.asarray(values)


class ArrayDataset:
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

    def __repr__(self):
        return f"{type(self).__name__}(images={self.data.shape} {self.data.dtype}, classes={self.classes})"


def as_dataset(dataset_or_arrays):
    """An ``ArrayDataset`` from one (anything with ``.data`` and ``.targets``) or from an (images, labels) pair."""
    if isinstance(dataset_or_arrays, ArrayDataset):
        return dataset_or_arrays
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
