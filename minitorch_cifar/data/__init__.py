"""CIFAR-10 on disk, a tiny synthetic stand-in for tests, PyTorch's map-style datasets, and a DataLoader with
whole-batch augmentations.

    train = CIFAR10(train=True)                      # ./data, $MINITORCH_CIFAR_DATA or root=...
    loader = DataLoader(train, batch_size=128, shuffle=True, device="cuda", transform=transforms.Compose([
        transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(),
        transforms.Normalize(transforms.CIFAR10_MEAN, transforms.CIFAR10_STD)]))
"""
from . import transforms
from .cifar import (CIFAR10, CLASSES, CorruptDatasetError, DatasetError, DatasetNotFoundError, UnsafePickleError,
                    resolve_root)
from .dataset import ArrayDataset, Dataset, Subset, TensorDataset, random_split, train_val_split
from .loader import DataLoader, default_collate
from .synthetic import write_fake_cifar10

__all__ = ["CIFAR10", "CLASSES", "ArrayDataset", "CorruptDatasetError", "DataLoader", "Dataset", "DatasetError",
           "DatasetNotFoundError", "Subset", "TensorDataset", "UnsafePickleError", "default_collate", "random_split",
           "resolve_root", "train_val_split", "transforms", "write_fake_cifar10"]
