"""Pictures of the data and of what a model does with it: samples per class, the class distribution,
predictions, a layer's feature maps and a convolution's filters.

Images are ``(N, 3, H, W)`` (NumPy arrays or Tensors on any device): uint8 in [0, 255], or floats, which are
shown as ``x * std + mean`` when ``mean`` and ``std`` (per channel, as given to the Normalize transform) are
given, else taken to lie in [0, 1].
"""
import matplotlib.pyplot as plt
import numpy as np

from ..tensor import Tensor
from ._inspect import inspecting
from .figure import (ACC_COLOUR, DPI, RIGHT, WRONG, class_names, displayable, draw_image, finish, grid, image_axes,
                     per_channel, to_numpy)


def plot_predictions(images, labels, predictions=None, classes=None, path=None, mean=None, std=None, ncols=8,
                     title=None):
    """A grid of images titled with their true class and, when ``predictions`` (class indices, or logits
    of shape (N, classes)) are given, the predicted one; wrong predictions in red."""
    pictures = displayable(images, mean, std)
    labels = to_numpy(labels).astype(np.int64).ravel()
    if predictions is not None:
        predictions = to_numpy(predictions)
        predictions = (predictions.argmax(axis=1) if predictions.ndim == 2 else predictions).astype(np.int64).ravel()
    if not len(pictures) == len(labels) == (len(labels) if predictions is None else len(predictions)):
        raise ValueError(f"got {len(pictures)} images, {len(labels)} labels and "
                         f"{'no' if predictions is None else len(predictions)} predictions; they must match")
    names = class_names(classes, labels, *([] if predictions is None else [predictions]))
    rows, cols = grid(len(pictures), ncols)
    fig = plt.figure(figsize=(1.5 * cols, 2.0 * rows + 0.4), dpi=DPI)
    for i, ax in enumerate(image_axes(fig, rows, cols)[:len(pictures)]):
        draw_image(ax, pictures[i])
        if predictions is None:
            ax.set_title(names[labels[i]], fontsize=8)
        else:
            wrong = predictions[i] != labels[i]
            ax.set_title(f"true: {names[labels[i]]}\npred: {names[predictions[i]]}", fontsize=8,
                         color=WRONG if wrong else RIGHT)
    if title is None and predictions is not None:
        title = f"predictions: {np.sum(predictions == labels)} of {len(labels)} right (wrong in red)"
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return finish(fig, path)


def plot_samples(images, labels, classes=None, per_class=8, path=None, mean=None, std=None, title=None):
    """Dataset samples: one row per class, holding the first ``per_class`` images of that class."""
    pictures = displayable(images, mean, std)
    labels = to_numpy(labels).astype(np.int64).ravel()
    names = class_names(classes, labels)
    fig = plt.figure(figsize=(1.1 * per_class + 1.2, 1.1 * len(names) + 0.5), dpi=DPI)
    axes = image_axes(fig, len(names), per_class).reshape(len(names), per_class)
    for c, name in enumerate(names):
        for ax, index in zip(axes[c], np.flatnonzero(labels == c)[:per_class]):
            draw_image(ax, pictures[index])
        axes[c, 0].text(-0.1, 0.5, name, transform=axes[c, 0].transAxes, ha="right", va="center", fontsize=9)
    fig.suptitle(title or "samples per class")
    fig.tight_layout()
    return finish(fig, path)


def plot_class_distribution(labels, classes=None, path=None, title=None, figsize=(10, 5)):
    """Bar chart of the number of samples of each class, with the counts written on the bars."""
    labels = to_numpy(labels).astype(np.int64).ravel()
    names = class_names(classes, labels)
    counts = np.bincount(labels, minlength=len(names))
    fig = plt.figure(figsize=figsize, dpi=DPI)
    ax = fig.subplots()
    ax.bar_label(ax.bar(names, counts, color=ACC_COLOUR), fontsize=8)
    ax.set_ylabel("samples")
    ax.tick_params(axis="x", rotation=45)
    ax.set_title(title or f"samples per class ({len(labels):,} in all)")
    fig.tight_layout()
    return finish(fig, path)


# ---------------------------------------------------------------------- inside a model
def find_module(model, layer):
    """``layer`` itself when it is a module, else the sub-module of ``model`` with that dotted name
    (as ``named_modules()`` spells it, e.g. ``'features.0'`` or ``'layer1.0.conv1'``)."""
    if not isinstance(layer, str):
        return layer
    modules = dict(model.named_modules())
    if layer not in modules:
        raise KeyError(f"{type(model).__name__} has no sub-module named {layer!r}; its sub-modules are: "
                       f"{', '.join(repr(n) for n in modules if n)}")
    return modules[layer]


def _model_input(model, image, mean, std):
    """One image as a (1, C, H, W) float tensor on the model's device, normalised when it was uint8."""
    params = list(model.parameters())
    dtype, device = (params[0].dtype, params[0].device) if params else (np.dtype(np.float32), "cpu")
    if _numpy_dtype(image) == np.uint8:
        pixels = to_numpy(image).astype(dtype) / 255
        if mean is not None and std is not None:
            pixels = (pixels - per_channel(mean, dtype)) / per_channel(std, dtype)
        image = pixels
    x = Tensor(image).to(device, dtype)
    return x.reshape(1, *x.shape) if x.ndim == 3 else x


def _numpy_dtype(x):
    return x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype


def plot_feature_maps(model, image, layer, path=None, max_maps=32, ncols=8, mean=None, std=None, cmap="viridis",
                      title=None):
    """The output channels of one layer for one image: ``layer`` is a sub-module or its dotted name.

    ``image`` is ``(3, H, W)`` or ``(1, 3, H, W)``: the normalised float input the model was trained on, or
    uint8, which is scaled to [0, 1] and normalised with ``mean``/``std`` when given. A forward hook on the
    layer catches its output while the model runs once in eval mode under ``no_grad``; the hook is removed and
    the train/eval modes restored afterwards. The first panel shows the input; then up to ``max_maps``
    channels, each with its own colour scale."""
    module = find_module(model, layer)
    x = _model_input(model, image, mean, std)
    caught = []
    handle = module.register_forward_hook(lambda m, args, out: caught.append(out))
    try:
        with inspecting(model):
            model(x)
    finally:
        handle.remove()
    if not caught:
        raise RuntimeError(f"layer {layer!r} was not called by {type(model).__name__}.forward")
    maps = to_numpy(caught[0])
    if maps.ndim != 4:
        raise ValueError(f"feature maps need a layer with a 4-D output (N, C, H, W); {layer!r} gave shape {maps.shape}")
    maps = maps[0, :max_maps]
    rows, cols = grid(len(maps) + 1, ncols)
    fig = plt.figure(figsize=(1.4 * cols, 1.6 * rows + 0.4), dpi=DPI)
    axes = image_axes(fig, rows, cols)
    draw_image(axes[0], displayable(image, mean, std)[0])
    axes[0].set_title("input", fontsize=8)
    for c, (ax, feature_map) in enumerate(zip(axes[1:], maps)):
        ax.imshow(feature_map, cmap=cmap, interpolation="nearest")
        ax.set_title(f"channel {c}", fontsize=7)
    fig.suptitle(title or f"feature maps of {_layer_name(layer, module)}: {len(maps)} of {caught[0].shape[1]} "
                          f"channels, {maps.shape[1]}x{maps.shape[2]}")
    fig.tight_layout()
    return finish(fig, path)


def _layer_name(name, module):
    return f"{name!r} ({type(module).__name__})" if isinstance(name, str) and name else type(module).__name__


def _first_4d_weight(model, layer):
    """(a name for the figure, the weight) of ``layer``, or else of the first module with a 4-D weight."""
    if layer is not None:
        module = find_module(model, layer)
        return _layer_name(layer, module), getattr(module, "weight", None)
    for name, module in model.named_modules():
        weight = getattr(module, "weight", None)
        if isinstance(weight, Tensor) and weight.ndim == 4:
            return _layer_name(name, module), weight
    raise ValueError(f"{type(model).__name__} has no module with a 4-D weight (out, in, kh, kw), such as Conv2d")


def plot_filters(model, layer=None, path=None, max_filters=64, ncols=8, title=None):
    """The filters of a convolution: ``layer`` (a module or dotted name) or else the first module in
    ``model.named_modules()`` with a 4-D weight (out, in, kh, kw). Each filter is scaled to [0, 1] on its own
    (its min to 0, its max to 1); a filter with 3 input channels is shown in colour, any other as the mean
    over its input channels in grey."""
    name, weight = _first_4d_weight(model, layer)
    if not (isinstance(weight, Tensor) and weight.ndim == 4):
        raise ValueError(f"filters need a 4-D weight (out, in, kh, kw); {name} has "
                         f"{'none' if weight is None else f'one of shape {weight.shape}'}")
    w = to_numpy(weight.detach()).astype(np.float64)
    w = w[:max_filters]
    w = w.transpose(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(axis=1, keepdims=True).transpose(0, 2, 3, 1)
    low = w.min(axis=(1, 2, 3), keepdims=True)
    span = w.max(axis=(1, 2, 3), keepdims=True) - low
    w = np.divide(w - low, span, out=np.full_like(w, 0.5), where=span > 0)
    rows, cols = grid(len(w), ncols)
    fig = plt.figure(figsize=(1.1 * cols, 1.1 * rows + 0.5), dpi=DPI)
    for ax, f in zip(image_axes(fig, rows, cols), w):
        draw_image(ax, f, cmap="gray")
    fig.suptitle(title or f"filters of {name}: {len(w)} of {weight.shape[0]}, {weight.shape[2]}x{weight.shape[3]}")
    fig.tight_layout()
    return finish(fig, path)

