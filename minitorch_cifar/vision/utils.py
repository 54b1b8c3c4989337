"""``torchvision.utils``: ``make_grid`` tiles a batch of images into one image, ``save_image`` writes it to a file."""
import math
import os
import tempfile
from pathlib import Path

import numpy as np

from .. import backend
from ..tensor import Tensor

__all__ = ["make_grid", "save_image"]


def make_grid(tensor, nrow=8, padding=2, normalize=False, value_range=None, scale_each=False, pad_value=0.0):
    """The images of ``tensor`` ((N, C, H, W), or a list of (C, H, W) Tensors) side by side, ``nrow`` to a row,
    ``padding`` pixels of ``pad_value`` around each: a (C, rows, columns) Tensor, as torchvision's ``make_grid``.

    One-channel images are repeated into three. ``normalize`` shifts and scales the pixels from ``value_range``
    (default: their min and max, per image with ``scale_each``) to [0, 1], clamping outside it. One image is
    returned as it is (after those steps), without a border.
    """
    images = _batch_of_images(tensor)
    xp = backend.get_array_module(images)
    if normalize:
        if value_range is not None and not isinstance(value_range, tuple):
            raise TypeError(f"value_range must be a tuple (min, max), got {value_range!r}")
        images = images.copy()
        for part in (images if scale_each else [images]):
            low, high = value_range if value_range is not None else (float(part.min()), float(part.max()))
            part[...] = (xp.clip(part, low, high) - low) / max(high - low, 1e-5)
    if len(images) == 1:
        return Tensor._wrap(images[0])
    count, channels, height, width = images.shape
    columns = min(nrow, count)
    rows = math.ceil(count / columns)
    cell_height, cell_width = height + padding, width + padding
    with backend.on_device(backend.device_of(images)):
        grid = xp.full((channels, cell_height * rows + padding, cell_width * columns + padding), pad_value,
                       dtype=images.dtype)
    for k, image in enumerate(images):
        top, left = (k // columns) * cell_height + padding, (k % columns) * cell_width + padding
        grid[:, top:top + height, left:left + width] = image
    return Tensor._wrap(grid)


def _batch_of_images(tensor):
    """(N, C, H, W) array from a Tensor or list of Tensors, one-channel images repeated into three (torchvision's)."""
    if isinstance(tensor, (list, tuple)):
        if not all(isinstance(t, Tensor) for t in tensor):
            raise TypeError("make_grid takes a Tensor or a list of Tensors")
        arrays = [t.array for t in tensor]
        images = backend.get_array_module(*arrays).stack(arrays)
    elif isinstance(tensor, Tensor):
        images = tensor.array
    else:
        raise TypeError(f"make_grid takes a Tensor or a list of Tensors, got {type(tensor).__name__}")
    xp = backend.get_array_module(images)
    if images.ndim == 2:
        images = images[None]
    if images.ndim == 3:
        images = images[None]
    if images.ndim != 4:
        raise ValueError(f"make_grid takes images of shape (N, C, H, W), (C, H, W) or (H, W), got {images.shape}")
    return xp.concatenate([images] * 3, axis=1) if images.shape[1] == 1 else images


def save_image(tensor, fp, format=None, **grid_options):
    """Write ``make_grid(tensor, **grid_options)`` (pixels in [0, 1]) as an 8-bit image to ``fp`` (a path, written
    atomically, its suffix naming the format unless ``format`` does; or a binary file object), as torchvision's."""
    from PIL import Image

    grid = make_grid(tensor, **grid_options).numpy()
    pixels = np.clip(grid * 255 + 0.5, 0, 255).astype(np.uint8).transpose(1, 2, 0)
    image = Image.fromarray(np.ascontiguousarray(pixels))
    if not isinstance(fp, (str, os.PathLike)):
        image.save(fp, format=format)
        return
    path = Path(fp)
    format = format or Image.registered_extensions().get(path.suffix.lower())
    if format is None:
        raise ValueError(f"save_image: cannot tell the image format of {path} from its suffix: pass format='PNG' "
                         f"(or another format Pillow writes)")
    fd, part = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            image.save(out, format=format)
        os.replace(part, path)
    finally:
        Path(part).unlink(missing_ok=True)
