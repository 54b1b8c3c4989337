"""Augmentations of whole batches ``(N, C, H, W)`` on the batch's own device (NumPy or CuPy arrays, or Tensors),
and of one image at a time, as torchvision's transforms of the same names.

Each does what torchvision's transform of the same name does to every image on its own, without a Python
loop over the images. A random transform first draws its parameters for the whole batch on the host, from a
NumPy generator (the DataLoader's, or else the framework's), in ``sample``, then applies them with array ops
in ``apply``; so one seed gives the same images on the CPU and on a GPU. One image goes through the same code
as a batch of one: a (C, H, W) Tensor, or an (H, W, C) NumPy array or PIL image as torchvision reads them,
comes back in the kind it came in.
"""
import enum
import math
import numbers
import warnings
from collections.abc import Sequence

import numpy as np

from .. import backend
from ..tensor import Tensor

# Per-channel mean and standard deviation of CIFAR-10's 50,000 training images, pixels scaled to [0, 1].
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


class BatchTransform:
    """Base class: ``transform(images, rng=None)`` returns new images and never changes the ones it gets.

    ``images`` is a batch (N, C, H, W) (array or Tensor), one (C, H, W) Tensor, or one (H, W, C) NumPy array or
    PIL image (torchvision's layout for those).
    """

    def __call__(self, images, rng=None):
        rng = rng if rng is not None else backend.generator(np)
        if isinstance(images, Tensor):
            return Tensor._wrap(self._on_planes(images.array, rng))
        if _is_pil_image(images):
            return to_pil(self(_image_array(images), rng), type(self).__name__)
        if images.ndim == 3:  # one (H, W, C) image, as torchvision's ToTensor reads NumPy arrays
            xp = backend.get_array_module(images)
            return xp.moveaxis(self._on_planes(xp.moveaxis(_image_array(images), -1, 0), rng), 0, -1)
        return self._on_planes(images, rng)

    def _on_planes(self, images, rng):
        """This transform of a batch (N, C, H, W) or of one image (C, H, W)."""
        if images.ndim == 3:
            return self._on_planes(images[None], rng)[0]
        if images.ndim != 4:
            raise ValueError(f"{type(self).__name__} expects a batch (N, C, H, W) or one image (a (C, H, W) Tensor, "
                             f"or an (H, W, C) array), got shape {tuple(images.shape)}")
        return self._on_batch(images, rng)

    def _on_batch(self, batch, rng):
        """This transform of a batch (N, C, H, W): parameters drawn from ``rng`` by ``sample``, then ``apply``."""
        return self.apply(batch, self.sample(tuple(batch.shape), rng))

    def sample(self, shape, rng):
        """This transform's random parameters for a batch of ``shape``, as NumPy arrays (None if not random)."""
        return None

    def apply(self, batch, params):
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in vars(self).items())})"


def _is_pil_image(obj):
    return type(obj).__module__.startswith("PIL.")


def _image_array(image):
    """One (H, W, C) image as an array: a PIL image's pixels (a grey one gets its channel axis), checked."""
    array = np.asarray(image) if _is_pil_image(image) else image
    array = array[..., None] if array.ndim == 2 else array
    if array.shape[-1] not in (1, 3, 4):
        raise ValueError(f"an image array is (H, W, C) with 1, 3 or 4 channels, as torchvision reads NumPy images; "
                         f"got shape {tuple(array.shape)}: a (C, H, W) image goes in as a Tensor")
    return array


def to_pil(array, name):
    """An (H, W, C) uint8 array as a PIL image, as torchvision's transforms return PIL images they were given."""
    from PIL import Image

    if array.dtype != np.uint8:
        raise TypeError(f"{name} of a PIL image gives {array.dtype} pixels, which a PIL image cannot hold: put "
                        f"ToTensor() before it")
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


class Compose(BatchTransform):
    """Apply the transforms one after the other, the random ones drawing from one generator; any other callable
    (``ToTensor()``, a function) is called with the images alone, as torchvision's ``Compose`` does."""

    def __init__(self, transforms):
        self.transforms = list(transforms)

    def __call__(self, images, rng=None):
        return _one_after_another(self.transforms, images, rng if rng is not None else backend.generator(np))

    def __repr__(self):
        return "Compose([\n" + "".join(f"    {t!r},\n" for t in self.transforms) + "])"


def _one_after_another(transforms, images, rng):
    for transform in transforms:
        images = transform(images, rng) if isinstance(transform, BatchTransform) else transform(images)
    return images


class _RandomTransforms(BatchTransform):
    """Base of the transforms that pick, for each image of a batch on its own, which of ``transforms`` it goes
    through. The picked images of a batch go through a transform together, as a batch (an array (k, C, H, W),
    also for a callable that is not one of these transforms), and must keep their shape and dtype."""

    def __init__(self, transforms):
        if not isinstance(transforms, Sequence):
            raise TypeError("Argument transforms should be a sequence")
        self.transforms = list(transforms)

    def _transform_some(self, out, which, transforms, rng):
        """Put the images of ``out`` where ``which`` (N,) is True through ``transforms``, in place."""
        xp = backend.get_array_module(out)
        index = xp.asarray(np.flatnonzero(which))
        done = _one_after_another(transforms, out[index], rng)
        if done.shape[1:] != out.shape[1:] or done.dtype != out.dtype:
            raise ValueError(f"{type(self).__name__} of a batch changes some images and keeps others, so its "
                             f"transforms must keep an image's shape and dtype: {tuple(out.shape[1:])} {out.dtype} "
                             f"became {tuple(done.shape[1:])} {done.dtype}")
        out[index] = done

    def __repr__(self):
        return f"{type(self).__name__}(" + "".join(f"\n    {t}" for t in self.transforms) + "\n)"


class RandomApply(_RandomTransforms):
    """Put each image, with probability ``p``, through all of ``transforms`` (see ``_RandomTransforms``)."""

    def __init__(self, transforms, p=0.5):
        super().__init__(transforms)
        self.p = float(p)

    def sample(self, shape, rng):
        """Which images are transformed: (N,) bools."""
        return rng.random(shape[0]) < self.p

    def _on_batch(self, batch, rng):
        out = batch.copy()
        self._transform_some(out, self.sample(batch.shape, rng), self.transforms, rng)
        return out

    def __repr__(self):
        return super().__repr__().replace("(", f"(\n    p={self.p}", 1)


class RandomChoice(_RandomTransforms):
    """Put each image through one of ``transforms``, picked with the relative weights ``p`` (equal if None)."""

    def __init__(self, transforms, p=None):
        super().__init__(transforms)
        if p is not None and not isinstance(p, Sequence):
            raise TypeError("Argument p should be a sequence")
        if p is not None and (len(p) != len(self.transforms) or min(p) < 0 or sum(p) <= 0):
            raise ValueError(f"RandomChoice needs one weight >= 0 per transform, not all zero: got p={p} for "
                             f"{len(self.transforms)} transforms")
        self.p = p

    def sample(self, shape, rng):
        """Which transform each image goes through: (N,) indices."""
        weights = None if self.p is None else np.asarray(self.p, dtype=np.float64) / sum(self.p)
        return rng.choice(len(self.transforms), size=shape[0], p=weights)

    def _on_batch(self, batch, rng):
        out, picks = batch.copy(), self.sample(batch.shape, rng)
        for k, transform in enumerate(self.transforms):
            self._transform_some(out, picks == k, [transform], rng)
        return out

    def __repr__(self):
        return f"{super().__repr__()}(p={self.p})"


class RandomOrder(_RandomTransforms):
    """Put each image through all of ``transforms``, in an order drawn for every image."""

    def sample(self, shape, rng):
        """Each image's order of the transforms: (N, len(transforms)) indices, a permutation in every row."""
        return rng.random((shape[0], len(self.transforms))).argsort(axis=1)

    def _on_batch(self, batch, rng):
        out, orders = batch.copy(), self.sample(batch.shape, rng)
        for step in range(len(self.transforms)):
            for k, transform in enumerate(self.transforms):
                self._transform_some(out, orders[:, step] == k, [transform], rng)
        return out


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

    def __init__(self, mean, std, inplace=False):  # inplace: accepted as torchvision's; a new array either way
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


def padding_sides(padding):
    """torchvision's ``padding``: one int for all sides, (left/right, top/bottom) or (left, top, right, bottom);
    returned as (top, bottom, left, right)."""
    sides = (padding,) * 4 if isinstance(padding, (int, np.integer)) else tuple(padding)
    sides = sides * 2 if len(sides) == 2 else sides
    if len(sides) != 4 or not all(isinstance(p, (int, np.integer)) and p >= 0 for p in sides):
        raise ValueError(f"padding must be an int >= 0 or a sequence of 2 or 4 of them, got {padding!r}")
    left, top, right, bottom = (int(p) for p in sides)
    return top, bottom, left, right


PADDING_MODES = ("constant", "edge", "reflect", "symmetric")  # torchvision's names, which are also NumPy's


def pad(batch, sides, fill=0, mode="constant"):
    """``batch`` (N, C, H, W) padded by ``sides`` = (top, bottom, left, right): with ``fill``, or as ``mode`` says."""
    xp = backend.get_array_module(batch)
    top, bottom, left, right = sides
    width = ((0, 0), (0, 0), (top, bottom), (left, right))
    return xp.pad(batch, width, mode="constant", constant_values=fill) if mode == "constant" else \
        xp.pad(batch, width, mode=mode)


def _check_padding_mode(mode):
    if mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {mode!r}")


class Pad(BatchTransform):
    """Pad every image by ``padding`` (see ``padding_sides``) with ``fill``, or by ``padding_mode``."""

    def __init__(self, padding, fill=0, padding_mode="constant"):
        padding_sides(padding)
        _check_padding_mode(padding_mode)
        self.padding, self.fill, self.padding_mode = padding, fill, padding_mode

    def apply(self, batch, params):
        return pad(batch, padding_sides(self.padding), self.fill, self.padding_mode)


class RandomCrop(BatchTransform):
    """Pad each side by ``padding`` (as ``Pad``), then cut a ``size`` window at a random offset, drawn for every
    image. ``pad_if_needed`` pads images still smaller than ``size`` on both sides by the shortfall, as torchvision."""

    def __init__(self, size, padding=None, pad_if_needed=False, fill=0, padding_mode="constant"):
        self.size = (size, size) if isinstance(size, int) else tuple(size)
        self.padding = 0 if padding is None else padding
        self.pad_if_needed, self.fill, self.padding_mode = bool(pad_if_needed), fill, padding_mode
        padding_sides(self.padding)
        _check_padding_mode(padding_mode)
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"RandomCrop needs a positive size, got size={size}")

    def sides(self, shape):
        """(top, bottom, left, right) padding for a batch of ``shape``."""
        top, bottom, left, right = padding_sides(self.padding)
        if self.pad_if_needed:
            short_rows = max(self.size[0] - (shape[2] + top + bottom), 0)
            short_cols = max(self.size[1] - (shape[3] + left + right), 0)
            top, bottom, left, right = top + short_rows, bottom + short_rows, left + short_cols, right + short_cols
        return top, bottom, left, right

    def sample(self, shape, rng):
        """The top-left corner of each window in the padded image: (N, 2) ints, rows then columns."""
        top, bottom, left, right = self.sides(shape)
        spans = [shape[2] + top + bottom - self.size[0] + 1, shape[3] + left + right - self.size[1] + 1]
        if min(spans) < 1:
            raise ValueError(f"RandomCrop of size {self.size} does not fit images of {shape[2:]} padded by "
                             f"{self.padding}")
        return rng.integers(0, spans, size=(shape[0], 2))

    def apply(self, batch, corners):
        xp = backend.get_array_module(batch)
        padded = pad(batch, self.sides(batch.shape), self.fill, self.padding_mode)
        # windows[n, c, i, j] is the (size) window of image n, channel c whose top-left corner is (i, j).
        windows = xp.lib.stride_tricks.sliding_window_view(padded, self.size, axis=(2, 3))
        corners = xp.asarray(corners)
        return windows[xp.arange(len(batch)), :, corners[:, 0], corners[:, 1]]


class CenterCrop(BatchTransform):
    """Cut the central ``size`` window (an int for a square) of every image, first padding with zeros an image
    smaller than ``size``, as torchvision (which rounds an odd margin's half to even, as Python's ``round``)."""

    def __init__(self, size):
        self.size = (int(size), int(size)) if isinstance(size, numbers.Number) else tuple(size)
        self.size = self.size * 2 if len(self.size) == 1 else self.size
        if len(self.size) != 2 or min(self.size) < 1:
            raise ValueError(f"CenterCrop needs a positive int or (h, w) for size, got {size!r}")

    def apply(self, batch, params):
        (height, width), (crop_height, crop_width) = batch.shape[2:], self.size
        rows, cols = max(crop_height - height, 0), max(crop_width - width, 0)
        batch = pad(batch, (rows // 2, (rows + 1) // 2, cols // 2, (cols + 1) // 2)) if rows or cols else batch
        top = int(round((batch.shape[2] - crop_height) / 2))
        left = int(round((batch.shape[3] - crop_width) / 2))
        return batch[:, :, top:top + crop_height, left:left + crop_width].copy()


class _RandomFlip(BatchTransform):
    axis = None  # the image axis reversed: -1 columns, -2 rows

    def __init__(self, p=0.5):
        self.p = float(p)

    def sample(self, shape, rng):
        """Which images flip: (N,) bools."""
        return rng.random(shape[0]) < self.p

    def apply(self, batch, flip):
        xp = backend.get_array_module(batch)
        index = xp.asarray(np.flatnonzero(flip))
        out = batch.copy()
        out[index] = xp.flip(batch[index], axis=self.axis)
        return out


class RandomHorizontalFlip(_RandomFlip):
    """Mirror each image left to right with probability ``p``."""
    axis = -1


class RandomVerticalFlip(_RandomFlip):
    """Turn each image upside down with probability ``p``."""
    axis = -2


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


class RandomErasing(BatchTransform):
    """Fill a random rectangle of each image, with probability ``p``, with ``value``: a number, one per channel, or
    ``'random'`` (standard normal noise), as torchvision (Zhong et al. 2017): the rectangle covers a fraction of
    the image drawn uniformly from ``scale``, its height / width drawn log-uniformly from ``ratio``, drawn again up
    to 10 times until it fits inside, else the image is left as it is. ``inplace``: accepted as torchvision's; a
    new array either way."""

    def __init__(self, p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, inplace=False):
        if not isinstance(value, (numbers.Number, str, tuple, list)):
            raise TypeError("Argument value should be either a number or str or a sequence")
        if isinstance(value, str) and value != "random":
            raise ValueError("If value is str, it should be 'random'")
        if not isinstance(scale, Sequence):
            raise TypeError("Scale should be a sequence")
        if not isinstance(ratio, Sequence):
            raise TypeError("Ratio should be a sequence")
        if (scale[0] > scale[1]) or (ratio[0] > ratio[1]):
            warnings.warn("Scale and ratio should be of kind (min, max)")
        if scale[0] < 0 or scale[1] > 1:
            raise ValueError("Scale should be between 0 and 1")
        if p < 0 or p > 1:
            raise ValueError("Random erasing probability should be between 0 and 1")
        self.p, self.scale, self.ratio, self.value, self.inplace = p, scale, ratio, value, inplace

    def sample(self, shape, rng):
        """The erased images, their rectangles and, for ``value='random'``, the noise: (index (k,), top-left corners
        (k, 2), sizes (k, 2) as rows and columns, noise (k, C, H, W) or None)."""
        count, channels, height, width = shape
        if not isinstance(self.value, (str, numbers.Number)) and len(self.value) not in (1, channels):
            raise ValueError(f"If value is a sequence, it should have either a single value or {channels} (number "
                             f"of input channels)")
        erased = rng.random(count) < self.p
        tries = (int(erased.sum()), 10)
        areas = height * width * rng.uniform(self.scale[0], self.scale[1], tries)
        aspects = np.exp(rng.uniform(math.log(self.ratio[0]), math.log(self.ratio[1]), tries))
        sizes = np.rint(np.sqrt(np.stack([areas * aspects, areas / aspects], axis=-1))).astype(np.int64)
        fits = (sizes < (height, width)).all(axis=-1)
        found = fits.any(axis=1)  # images with no rectangle in 10 tries stay as they are
        index, sizes = np.flatnonzero(erased)[found], sizes[found, fits.argmax(axis=1)[found]]  # the first fitting try
        corners = rng.integers(0, (height, width) - sizes + 1)
        noise = rng.standard_normal((len(index),) + tuple(shape[1:]), dtype=np.float32) if self.value == "random" \
            else None
        return index, corners, sizes, noise

    def apply(self, batch, params):
        index, corners, sizes, noise = params
        xp = backend.get_array_module(batch)
        # inside[k, i, j]: pixel (i, j) lies in image k's rectangle, rows then columns
        rows, cols = (xp.arange(n)[None] - xp.asarray(corners[:, axis:axis + 1]) for axis, n in
                      enumerate(batch.shape[2:]))
        sizes = xp.asarray(sizes)
        inside = ((rows >= 0) & (rows < sizes[:, :1]))[:, :, None] & ((cols >= 0) & (cols < sizes[:, 1:]))[:, None]
        value = xp.asarray(noise if noise is not None else np.array(self.value, np.float32).reshape(-1, 1, 1))
        out = batch.copy()
        on = xp.asarray(index)
        out[on] = xp.where(inside[:, None], value.astype(batch.dtype), batch[on])
        return out


class InterpolationMode(enum.Enum):
    """How ``Resize`` computes new pixels (torchvision's names)."""
    NEAREST = "nearest"
    BILINEAR = "bilinear"


class Resize(BatchTransform):
    """Enlarge images to ``size``: (height, width), or one int for the shorter side (keeping the aspect ratio).

    As torchvision does to tensors: bilinear interpolation (or nearest) between pixel centres, i.e. PyTorch's
    ``interpolate(..., align_corners=False)``; uint8 images are rounded back to uint8. Shrinking, which needs
    antialiasing to match torchvision, is refused.
    """

    def __init__(self, size, interpolation=InterpolationMode.BILINEAR):
        self.size = size if isinstance(size, int) else tuple(size)
        self.interpolation = InterpolationMode(interpolation)
        if not (isinstance(self.size, int) or len(self.size) == 2) or min(np.atleast_1d(self.size)) < 1:
            raise ValueError(f"Resize needs a positive int or (height, width), got {size!r}")

    def output_size(self, height, width):
        if not isinstance(self.size, int):
            return self.size
        short, long = sorted((height, width))
        scaled = (self.size, int(self.size * long / short))
        return scaled if height <= width else scaled[::-1]

    def apply(self, batch, params):
        xp = backend.get_array_module(batch)
        size = self.output_size(*batch.shape[2:])
        if size[0] < batch.shape[2] or size[1] < batch.shape[3]:
            raise ValueError(f"Resize only enlarges images: {tuple(batch.shape[2:])} to {size} would shrink them")
        out = batch.astype(np.float32) if batch.dtype == np.uint8 else batch
        for axis in (3, 2):  # columns, then rows: PyTorch's order of the two blends
            out = self._along(out, axis, batch.shape[axis], size[axis - 2], xp)
        return xp.clip(xp.rint(out), 0, 255).astype(np.uint8) if batch.dtype == np.uint8 else out

    def _along(self, images, axis, old, new, xp):
        """``images`` resampled from ``old`` to ``new`` pixels along ``axis``."""
        scale = old / new
        target = xp.arange(new, dtype=np.float32)
        if self.interpolation is InterpolationMode.NEAREST:
            return xp.take(images, xp.minimum((target * np.float32(scale)).astype(np.int64), old - 1), axis=axis)
        # Pixel centres: output pixel t sits at input coordinate (t + 0.5) * scale - 0.5, clamped at 0; the value
        # there is the linear blend of the two input pixels around it.
        source = xp.maximum((target + 0.5) * np.float32(scale) - 0.5, 0)
        below = source.astype(np.int64)
        above = xp.minimum(below + 1, old - 1)
        weight = (source - below).astype(images.dtype).reshape((-1,) + (1,) * (images.ndim - axis - 1))
        return xp.take(images, below, axis=axis) * (1 - weight) + xp.take(images, above, axis=axis) * weight
