"""Colour augmentations of whole batches (N, C, H, W) and of one image, as torchvision's transforms of the same names
(see ``transforms.BatchTransform``), with torchvision's formulas for tensors (``_functional_tensor.py``) in the same
float arithmetic: a float image is worked on in its dtype, a uint8 one in float32 and truncated back to uint8.

The ``adjust_*`` functions take a batch and one factor per image, (N,).
"""
import numbers

import numpy as np

from .. import backend
from .transforms import BatchTransform, to_float32

GRAY_WEIGHTS = (0.2989, 0.587, 0.114)  # of red, green and blue in torchvision's grey (ITU-R 601-2 luma)


def _work_dtype(batch):
    return batch.dtype if np.issubdtype(batch.dtype, np.floating) else np.dtype(np.float32)


def _per_image(factors, dtype, like):
    """``factors`` (N,) as (N, 1, 1, 1) of ``dtype`` on ``like``'s device: how torch uses a Python float with an
    array of ``dtype``."""
    return backend.get_array_module(like).asarray(np.asarray(factors, dtype).reshape(-1, 1, 1, 1))


def _check_channels(batch, name):
    if batch.shape[1] not in (1, 3):
        raise TypeError(f"{name} takes images with 1 or 3 channels (grey or RGB), got {batch.shape[1]}")


def rgb_to_grayscale(batch, num_output_channels=1):
    """Each image's grey ``0.2989 R + 0.587 G + 0.114 B`` (a grey image itself), repeated ``num_output_channels``
    times, in the batch's dtype."""
    _check_channels(batch, "rgb_to_grayscale")
    xp = backend.get_array_module(batch)
    gray = batch
    if batch.shape[1] == 3:
        red, green, blue = (batch[:, c:c + 1].astype(_work_dtype(batch), copy=False) for c in range(3))
        weights = np.asarray(GRAY_WEIGHTS, _work_dtype(batch))
        gray = (weights[0] * red + weights[1] * green + weights[2] * blue).astype(batch.dtype)
    return xp.repeat(gray, num_output_channels, axis=1)


def blend(batch, other, ratios):
    """``ratio * image + (1 - ratio) * other`` for each image and its ratio, clamped to the pixel range ([0, 1] for
    floats, [0, 255] for uint8), in the batch's dtype."""
    xp = backend.get_array_module(batch)
    dtype = _work_dtype(batch)
    ratios = np.asarray(ratios, np.float64)
    mixed = _per_image(ratios, dtype, batch) * batch + _per_image(1 - ratios, dtype, batch) * other
    return xp.clip(mixed, 0, 255 if batch.dtype == np.uint8 else 1).astype(batch.dtype)


def adjust_brightness(batch, factors):
    return blend(batch, 0, factors)


def adjust_contrast(batch, factors):
    """Each image blended with the mean of its grey."""
    gray = rgb_to_grayscale(batch) if batch.shape[1] == 3 else batch
    return blend(batch, gray.mean(axis=(1, 2, 3), dtype=_work_dtype(batch), keepdims=True), factors)


def adjust_saturation(batch, factors):
    """Each image blended with its grey (a grey image stays as it is)."""
    return batch if batch.shape[1] == 1 else blend(batch, rgb_to_grayscale(batch), factors)


def adjust_hue(batch, factors):
    """Each image's hue shifted by its factor in [-0.5, 0.5] (turns of the colour wheel), in float32 (uint8 scaled
    to [0, 1] and back as torchvision's ``convert_image_dtype``); a grey image stays as it is."""
    if batch.shape[1] == 1:
        return batch
    hue, saturation, value = _rgb_to_hsv(to_float32(batch, copy=False))
    hue = (hue + _per_image(factors, np.float32, batch)[:, 0]) % 1.0
    rgb = _hsv_to_rgb(hue, saturation, value)
    return (rgb * np.float32(255 + 1.0 - 1e-3)).astype(np.uint8) if batch.dtype == np.uint8 else \
        rgb.astype(batch.dtype)


def _rgb_to_hsv(images):
    """Hue (in turns), saturation and value (N, H, W) of RGB ``images`` (N, 3, H, W), as torchvision (Pillow's
    formulas; grey pixels get hue and saturation 0)."""
    xp = backend.get_array_module(images)
    red, green, blue = images[:, 0], images[:, 1], images[:, 2]
    top, bottom = images.max(axis=1), images.min(axis=1)
    grey = top == bottom
    spread = top - bottom
    ones = xp.ones_like(top)
    saturation = spread / xp.where(grey, ones, top)
    spread = xp.where(grey, ones, spread)
    red_c, green_c, blue_c = ((top - channel) / spread for channel in (red, green, blue))
    # The hue's sextant from the largest channel, red first on ties, then green.
    hue = ((top == red) * (blue_c - green_c) + ((top == green) & (top != red)) * (2.0 + red_c - blue_c)
           + ((top != green) & (top != red)) * (4.0 + green_c - red_c))
    return xp.fmod(hue / 6.0 + 1.0, 1.0), saturation, top


def _hsv_to_rgb(hue, saturation, value):
    """RGB images (N, 3, H, W) from hue (in turns), saturation and value (N, H, W), as torchvision."""
    xp = backend.get_array_module(hue)
    sextant = xp.floor(hue * 6.0)
    fraction = hue * 6.0 - sextant
    p = xp.clip(value * (1.0 - saturation), 0.0, 1.0)
    q = xp.clip(value * (1.0 - saturation * fraction), 0.0, 1.0)
    t = xp.clip(value * (1.0 - saturation * (1.0 - fraction)), 0.0, 1.0)
    # options[n, channel, s]: the channel's value in sextant s; torchvision sums them weighted by a one-hot sextant
    options = xp.stack([xp.stack(c, axis=1) for c in ((value, q, p, p, t, value), (t, value, value, q, p, p),
                                                       (p, p, t, value, value, q))], axis=1)
    sextant = sextant.astype(np.int32) % 6
    return xp.take_along_axis(options, sextant[:, None, None], axis=2)[:, :, 0]


def _jitter_range(value, name, center=1.0, bound=(0.0, float("inf")), clip_first_on_zero=True):
    """torchvision's range of a ColorJitter factor: ``center`` -/+ a number, or (min, max); None if it is just
    ``center``."""
    if isinstance(value, numbers.Number):
        if value < 0:
            raise ValueError(f"If {name} is a single number, it must be non negative.")
        low, high = center - float(value), center + float(value)
        low = max(low, 0.0) if clip_first_on_zero else low
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        low, high = float(value[0]), float(value[1])
    else:
        raise TypeError(f"{name} should be a single number or a list/tuple with length 2.")
    if not bound[0] <= low <= high <= bound[1]:
        raise ValueError(f"{name} values should be between {bound}, but got {[low, high]}.")
    return None if low == high == center else (low, high)


class ColorJitter(BatchTransform):
    """Change each image's brightness, contrast, saturation and hue by factors drawn for it uniformly from
    [max(0, 1 - b), 1 + b] (or a given (min, max)), and for the hue from [-h, h] (h <= 0.5), the four in an order
    drawn for it, as torchvision. Float images should be in [0, 1] (results are clamped to it): put it before
    ``Normalize``."""

    ADJUSTMENTS = (adjust_brightness, adjust_contrast, adjust_saturation, adjust_hue)

    def __init__(self, brightness=0, contrast=0, saturation=0, hue=0):
        self.brightness = _jitter_range(brightness, "brightness")
        self.contrast = _jitter_range(contrast, "contrast")
        self.saturation = _jitter_range(saturation, "saturation")
        self.hue = _jitter_range(hue, "hue", center=0.0, bound=(-0.5, 0.5), clip_first_on_zero=False)

    def sample(self, shape, rng):
        """Each image's order of the four adjustments, (N, 4), and their factors: (N,) each, None where off."""
        order = rng.random((shape[0], 4)).argsort(axis=1)
        ranges = (self.brightness, self.contrast, self.saturation, self.hue)
        return order, [None if span is None else rng.uniform(span[0], span[1], shape[0]) for span in ranges]

    def apply(self, batch, params):
        _check_channels(batch, "ColorJitter")
        xp = backend.get_array_module(batch)
        order, factors = params
        out = batch.copy()
        for step in range(4):
            for k, (adjust, factor) in enumerate(zip(self.ADJUSTMENTS, factors)):
                index = np.flatnonzero(order[:, step] == k)
                if factor is not None and len(index):
                    on = xp.asarray(index)
                    out[on] = adjust(out[on], factor[index])
        return out


class Grayscale(BatchTransform):
    """Each image's grey, 0.2989 R + 0.587 G + 0.114 B, in ``num_output_channels`` (1 or 3) equal channels."""

    def __init__(self, num_output_channels=1):
        if num_output_channels not in (1, 3):
            raise ValueError("num_output_channels should be either 1 or 3")
        self.num_output_channels = num_output_channels

    def apply(self, batch, params):
        return rgb_to_grayscale(batch, self.num_output_channels)


class RandomGrayscale(BatchTransform):
    """Turn each image, with probability ``p``, into its grey (as ``Grayscale``), keeping its number of channels."""

    def __init__(self, p=0.1):
        self.p = float(p)

    def sample(self, shape, rng):
        """Which images turn grey: (N,) bools."""
        return rng.random(shape[0]) < self.p

    def apply(self, batch, gray):
        _check_channels(batch, "RandomGrayscale")
        xp = backend.get_array_module(batch)
        on = xp.asarray(np.flatnonzero(gray))
        out = batch.copy()
        out[on] = rgb_to_grayscale(batch[on], batch.shape[1])
        return out
