"""What every figure shares: atomic saving, conversion of Tensors and images to NumPy, class names, image grids."""
import math
import os
import uuid

import numpy as np

from .. import backend
from ..tensor import Tensor

DPI = 100
WRONG, RIGHT = "tab:red", "black"
LOSS_COLOUR, ACC_COLOUR, LR_COLOUR = "tab:red", "tab:blue", "tab:green"


# ---------------------------------------------------------------------- saving
def save_figure(fig, path):
    """Write ``fig`` to ``path`` atomically, creating parent folders; the format follows the suffix (PNG if none)."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fmt = os.path.splitext(path)[1][1:].lower() or "png"
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with open(temporary, "xb") as file:
            fig.savefig(file, format=fmt, dpi="figure")
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)
    return path


def finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


# ---------------------------------------------------------------------- conversions
def to_numpy(x):
    """A Tensor (any device, with or without grad), CuPy/NumPy array or sequence as a NumPy array."""
    if isinstance(x, Tensor):
        x = x.array
    return backend.to_device(x, "cpu") if hasattr(x, "shape") else np.asarray(x)


def class_names(classes, *indices):
    """The given class names (checked to cover ``indices``), else "0", "1", ... up to the largest index."""
    count = max(int(a.max(initial=0)) for a in indices) + 1
    if classes is None:
        return [str(i) for i in range(count)]
    if len(classes) < count:
        raise ValueError(f"{len(classes)} class names, but class indices go up to {count - 1}")
    return [str(c) for c in classes]


def one_name_each(classes, count):
    """Names for ``count`` classes, one each."""
    names = class_names(classes, np.arange(count))
    if len(names) != count:
        raise ValueError(f"{len(names)} class names for {count} classes")
    return names


def displayable(images, mean=None, std=None):
    """``(N, 3, H, W)`` or ``(3, H, W)`` images as float ``(N, H, W, 3)`` in [0, 1] for ``imshow``."""
    x = to_numpy(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (N, 3, H, W) or (N, 1, H, W), got {x.shape}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255
    elif mean is not None and std is not None:
        x = x * per_channel(std, np.float32) + per_channel(mean, np.float32)
    return np.clip(x.transpose(0, 2, 3, 1), 0, 1).astype(np.float32, copy=False)


def per_channel(values, dtype):
    """Per-channel statistics (a number or one per channel) shaped to broadcast over (N, C, H, W)."""
    return np.reshape(np.asarray(values, dtype), (1, -1, 1, 1))


def grid(count, ncols):
    ncols = max(1, min(ncols, count))
    return math.ceil(count / ncols), ncols


def image_axes(fig, rows, cols):
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes:
        ax.axis("off")
    return axes


def draw_image(ax, image, cmap=None):
    ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap=cmap, interpolation="nearest")

