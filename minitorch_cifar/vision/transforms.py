"""``torchvision.transforms``: each works on one image (an (H, W, C) NumPy array or PIL image, or after
``ToTensor`` a (C, H, W) Tensor) and, apart from ``ToTensor``, on a batch (N, C, H, W): they are the whole-batch
transforms of ``minitorch_cifar.data.transforms``. Random ones draw from the framework's generator
(``manual_seed``) when called on their own.
"""
import numpy as np

from ..data.transforms import (CIFAR10_MEAN, CIFAR10_STD, Compose, InterpolationMode, Normalize, Pad, RandomCrop,
                               RandomHorizontalFlip, Resize, to_float32)
from ..tensor import Tensor

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "Compose", "InterpolationMode", "Lambda", "Normalize", "Pad", "RandomCrop",
           "RandomHorizontalFlip", "Resize", "ToTensor"]


class ToTensor:
    """A PIL image or an (H, W, C) (or (H, W)) NumPy array as a (C, H, W) Tensor: uint8 pixels become float32 in
    [0, 1] (``x / 255``), other dtypes are kept, as torchvision's ``ToTensor``."""

    def __call__(self, picture):
        if isinstance(picture, Tensor) or not hasattr(picture, "__array_interface__"):
            raise TypeError(f"ToTensor takes a PIL image or an (H, W, C) NumPy array, got {type(picture).__name__}")
        array = np.asarray(picture)
        array = array[:, :, None] if array.ndim == 2 else array
        if array.ndim != 3:
            raise ValueError(f"ToTensor takes an (H, W, C) or (H, W) image, got shape {array.shape}")
        planes = np.ascontiguousarray(array.transpose(2, 0, 1))
        return Tensor._wrap(to_float32(planes) if planes.dtype == np.uint8 else planes)

    def __repr__(self):
        return "ToTensor()"


class Lambda:
    """Apply ``function`` to the image, as torchvision's ``Lambda``."""

    def __init__(self, function):
        if not callable(function):
            raise TypeError(f"Lambda takes a function, got {type(function).__name__}")
        self.function = function

    def __call__(self, image):
        return self.function(image)

    def __repr__(self):
        return "Lambda()"
