"""``torchvision.transforms``: each works on one image (an (H, W, C) NumPy array or PIL image, or after
``ToTensor`` a (C, H, W) Tensor) and, apart from ``ToTensor`` and ``ToPILImage``, on a batch (N, C, H, W): they are
the whole-batch transforms of ``minitorch_cifar.data.transforms`` and ``minitorch_cifar.data.color``. Random ones
draw from the framework's generator (``manual_seed``) when called on their own.
"""
import numpy as np

from .. import backend
from ..data.color import ColorJitter, Grayscale, RandomGrayscale
from ..data.transforms import (CIFAR10_MEAN, CIFAR10_STD, CenterCrop, Compose, InterpolationMode, Normalize, Pad,
                               RandomApply, RandomChoice, RandomCrop, RandomErasing, RandomHorizontalFlip, RandomOrder,
                               RandomVerticalFlip, Resize, to_float32, to_pil)
from ..tensor import Tensor

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "CenterCrop", "ColorJitter", "Compose", "Grayscale", "InterpolationMode",
           "Lambda", "Normalize", "Pad", "RandomApply", "RandomChoice", "RandomCrop", "RandomErasing",
           "RandomGrayscale", "RandomHorizontalFlip", "RandomOrder", "RandomVerticalFlip", "Resize", "ToPILImage",
           "ToTensor"]


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


class ToPILImage:
    """A (C, H, W) Tensor or an (H, W, C) (or (H, W)) NumPy array as a PIL image (needs Pillow), as torchvision's
    ``ToPILImage()``: float pixels become uint8 as ``(x * 255).astype(uint8)`` (truncated, not clamped); the mode
    (L, LA, RGB, RGBA) follows from the number of channels."""

    def __call__(self, picture):
        if isinstance(picture, Tensor):
            picture = backend.to_device(picture.array, "cpu")
            picture = picture.transpose(1, 2, 0) if picture.ndim == 3 else picture
        elif not isinstance(picture, np.ndarray):
            raise TypeError(f"ToPILImage takes a Tensor or a NumPy array, got {type(picture).__name__}")
        picture = picture[:, :, None] if picture.ndim == 2 else picture
        if picture.ndim != 3 or picture.shape[2] > 4:
            raise ValueError(f"ToPILImage takes an image of at most 4 channels, (C, H, W) as a Tensor or (H, W, C) as "
                             f"an array, got shape {picture.shape}")
        if np.issubdtype(picture.dtype, np.floating):
            picture = (picture * 255).astype(np.uint8)
        if picture.dtype != np.uint8:
            raise TypeError(f"ToPILImage takes uint8 or float pixels, got {picture.dtype}")
        return to_pil(np.ascontiguousarray(picture), "ToPILImage")

    def __repr__(self):
        return "ToPILImage()"


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
