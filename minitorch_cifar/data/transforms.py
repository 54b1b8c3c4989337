"""Augmentations of whole batches ``(N, C, H, W)`` on the batch's own device (NumPy or CuPy arrays, or Tensors).

Each does what torchvision's transform of the same name does to every image on its own, without a Python
loop over the images. A random transform first draws its parameters for the whole batch on the host, from a
NumPy generator (the DataLoader's, or else the framework's), in ``sample``, then applies them with array ops
in ``apply``; so one seed gives the same images on the CPU and on a GPU.
"""
import numpy as np

from .. import backend
from ..tensor import Tensor

# Per-channel mean and standard deviation of CIFAR-10's 50,000 training images, pixels scaled to [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class BatchTransform:
    """Base class: ``transform(batch, rng=None)`` returns a new batch and never changes the one it gets."""

    def __call__(self, batch, rng=None):
        if isinstance(batch, Tensor):
            return Tensor._wrap(self(batch.array, rng))
        if batch.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects a batch of shape (N, C, H, W), got {tuple(batch.shape)}")
        params = self.sample(tuple(batch.shape), rng if rng is not None else backend.generator(np))
        return self.apply(batch, params)

    def sample(self, shape, rng):
        """This transform's random parameters for a batch of ``shape``, as NumPy arrays (None if not random)."""
        return None

    def apply(self, batch, params):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


class Compose(BatchTransform):
    """Apply the transforms one after the other, drawing from one generator."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, batch, rng=None):
        rng = rng if rng is not None else backend.generator(np)
        for transform in self.transforms:
            batch = transform(batch, rng)
        return batch

    def __repr__(self):
        return "Compose([\n" + "".join(f"    {t!r},\n" for t in self.transforms) + "])"


class ToFloat(BatchTransform):
    """uint8 pixels to float32 in [0, 1] (``x / 255``, as ``ToTensor``); other batches just become float32."""

    def apply(self, batch, params):
        return to_float32(batch)


def to_float32(batch, copy=True):
    """``batch`` as float32, uint8 pixels divided by 255; a new array unless ``copy=False`` and it is float32."""
    out = batch.astype(np.float32, copy=copy or batch.dtype == np.uint8)
    if batch.dtype == np.uint8:
        out /= np.float32(255)
    return out


class Normalize(BatchTransform):
    """``(x - mean[c]) / std[c]`` per channel; a uint8 batch is first scaled to [0, 1] as by ``ToFloat``."""

    def __init__(self, mean, std):
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        if len(self.mean) != len(self.std) or min(self.std) <= 0:
            raise ValueError(f"Normalize needs one mean and one positive std per channel, got {mean} and {std}")

    def apply(self, batch, params):
        if batch.shape[1] != len(self.mean):
            raise ValueError(f"Normalize has {len(self.mean)} channels' mean and std, the batch has {batch.shape[1]}")
        mean, std = (np.array(v, dtype=np.float32).reshape(-1, 1, 1) for v in (self.mean, self.std))
        if backend.is_cupy_array(batch):  # uploaded once per device, not per batch
            mean, std = backend.device_constant(mean, batch), backend.device_constant(std, batch)
        out = to_float32(batch)
        out -= mean
        out /= std
        return out


class RandomCrop(BatchTransform):
    """Pad each side by ``padding`` (zeros, or a mirror image with 'reflect'), then cut a ``size`` window at a
    random offset, drawn for every image."""

    def __init__(self, size, padding=0, padding_mode="constant"):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = int(padding)
        self.padding_mode = padding_mode
        if padding_mode not in ("constant", "reflect"):
            raise ValueError(f"padding_mode must be 'constant' or 'reflect', got {padding_mode!r}")
        if self.padding < 0 or len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"RandomCrop needs a positive size and padding >= 0, got size={size}, padding={padding}")

    def sample(self, shape, rng):
        """The top-left corner of each window in the padded image: (N, 2) ints, rows then columns."""
        spans = [extent + 2 * self.padding - crop + 1 for extent, crop in zip(shape[2:], self.size)]
        if min(spans) < 1:
            raise ValueError(f"RandomCrop of size {self.size} does not fit images of {shape[2:]} padded by "
                             f"{self.padding}")
        return rng.integers(0, spans, size=(shape[0], 2))

    def apply(self, batch, corners):
        xp = backend.get_array_module(batch)
        p = self.padding
        padded = xp.pad(batch, ((0, 0), (0, 0), (p, p), (p, p)), mode=self.padding_mode)
        # windows[n, c, i, j] is the (size) window of image n, channel c whose top-left corner is (i, j).
        windows = xp.lib.stride_tricks.sliding_window_view(padded, self.size, axis=(2, 3))
        corners = xp.asarray(corners)
        return windows[xp.arange(len(batch)), :, corners[:, 0], corners[:, 1]]


class RandomHorizontalFlip(BatchTransform):
    """Mirror each image left to right with probability ``p``."""

    def __init__(self, p=0.5):
        self.p = float(p)

    def sample(self, shape, rng):
        """Which images flip: (N,) bools."""
        return rng.random(shape[0]) < self.p

    def apply(self, batch, flip):
        xp = backend.get_array_module(batch)
        index = xp.asarray(np.flatnonzero(flip))
        out = batch.copy()
        out[index] = batch[index, ..., ::-1]
        return out


class Cutout(BatchTransform):
    """Zero a ``size`` x ``size`` square centred on a random pixel of each image, clipped at the borders
    (DeVries & Taylor 2017, as in the DAWNBench CIFAR-10 recipes)."""

    def __init__(self, size):
        self.size = int(size)
        if self.size < 1:
            raise ValueError(f"Cutout size must be positive, got {size}")

    def sample(self, shape, rng):
        """Each square's centre: (N, 2) ints, row then column."""
        return rng.integers(0, shape[2:], size=(shape[0], 2))

    def apply(self, batch, centres):
        xp = backend.get_array_module(batch)
        height, width = batch.shape[2:]
        # The square covers [centre - size // 2, centre - size // 2 + size) on each axis. That range always
        # meets the image, so clamping its indices into the image only repeats border pixels of the square.
        start = xp.asarray(centres) - self.size // 2
        span = xp.arange(self.size)
        rows = xp.clip(start[:, :1] + span, 0, height - 1)  # (N, size)
        cols = xp.clip(start[:, 1:] + span, 0, width - 1)
        out = batch.copy()
        out[xp.arange(len(batch))[:, None, None], :, rows[:, :, None], cols[:, None, :]] = 0
        return out
