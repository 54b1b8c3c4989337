"""CIFAR-10 on disk and a tiny synthetic stand-in for tests.

    train = CIFAR10(train=True)                      # ./data, $MINITORCH_CIFAR_DATA or root=...
"""
from .cifar import (CIFAR10, CLASSES, CorruptDatasetError, DatasetError, DatasetNotFoundError, UnsafePickleError,
                    resolve_root)
from .dataset import ArrayDataset, train_val_split
from .synthetic import write_fake_cifar10

__all__ = ["CIFAR10", "CLASSES", "ArrayDataset", "CorruptDatasetError", "DatasetError",
           "DatasetNotFoundError", "UnsafePickleError", "resolve_root", "train_val_split",
           "write_fake_cifar10"]
