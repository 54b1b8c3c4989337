"""torchvision's names for CIFAR-10 work: ``import torchvision`` becomes ``from minitorch_cifar import vision as
torchvision``, with ``datasets.CIFAR10``, ``transforms`` and ``utils.make_grid`` / ``utils.save_image``."""
from . import datasets, transforms, utils

__all__ = ["datasets", "transforms", "utils"]
