"""``torch.utils.data``: map-style datasets, ``random_split`` and the ``DataLoader``, the framework's own.

``from torch.utils.data import DataLoader, TensorDataset`` (or samplers) becomes
``from minitorch_cifar.utils.data import DataLoader, TensorDataset``. In-memory datasets (``TensorDataset``,
CIFAR-10 without a per-item transform, subsets of them) are batched whole on the device; any other dataset item by
item, as PyTorch does. ``num_workers`` and ``pin_memory`` are accepted and have no effect.
"""
from ..data.dataset import ConcatDataset, Dataset, Subset, TensorDataset, random_split
from ..data.loader import (BatchSampler, DataLoader, RandomSampler, Sampler, SequentialSampler, SubsetRandomSampler,
                           WeightedRandomSampler, default_collate)

__all__ = ["BatchSampler", "ConcatDataset", "DataLoader", "Dataset", "RandomSampler", "Sampler", "SequentialSampler",
           "Subset", "SubsetRandomSampler", "TensorDataset", "WeightedRandomSampler", "default_collate",
           "random_split"]
