"""Figures for CIFAR-10 experiments: training curves, per-class results, images, feature maps, filters, LR finder.

Every ``plot_*`` function draws one matplotlib Figure and returns it; given ``path`` it also saves the image
there (PNG unless the suffix names another format), atomically (a temporary file, then a rename), creating
missing folders. Figures are made through pyplot so that ``plt.show()`` displays them; close one with
``plt.close(fig)`` once it is saved. matplotlib picks its backend as usual: an interactive one when a
display exists, else the file-only Agg backend (``MPLBACKEND=Agg`` forces it), so nothing here blocks.

Images are ``(N, 3, H, W)`` (NumPy arrays or Tensors on any device): uint8 in [0, 255], or floats, which are
shown as ``x * std + mean`` when ``mean`` and ``std`` (per channel, as given to the Normalize transform) are
given, else taken to lie in [0, 1].

A *history* holds per-epoch metrics: a dict of equal-length lists, a list of per-epoch dicts, or the path of
a CSV file with one row per epoch, using the keys ``epoch`` (1, 2, ...; counted when absent), ``train_loss``,
``train_acc``, ``val_loss``, ``val_acc`` (accuracies as fractions in [0, 1]), ``lr`` and ``seconds``. Missing
keys are skipped; a missing or empty value is NaN (a gap in the line).
"""
import csv
import math
import os
import uuid

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from .. import backend
from ..tensor import Tensor
from ._inspect import inspecting

DPI = 100
_WRONG, _RIGHT = "tab:red", "black"
_LOSS_COLOUR, _ACC_COLOUR, _LR_COLOUR = "tab:red", "tab:blue", "tab:green"


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


def _finish(fig, path):
    if path is not None:
        save_figure(fig, path)
    return fig


# ---------------------------------------------------------------------- conversions
def _numpy(x):
    """A Tensor (any device, with or without grad), CuPy/NumPy array or sequence as a NumPy array."""
    if isinstance(x, Tensor):
        x = x.array
    return backend.to_device(x, "cpu") if hasattr(x, "shape") else np.asarray(x)


def _class_names(classes, *indices):
    """The given class names (checked to cover ``indices``), else "0", "1", ... up to the largest index."""
    count = max(int(a.max(initial=0)) for a in indices) + 1
    if classes is None:
        return [str(i) for i in range(count)]
    if len(classes) < count:
        raise ValueError(f"{len(classes)} class names, but class indices go up to {count - 1}")
    return [str(c) for c in classes]


def _one_name_each(classes, count):
    """Names for ``count`` classes, one each."""
    names = _class_names(classes, np.arange(count))
    if len(names) != count:
        raise ValueError(f"{len(names)} class names for {count} classes")
    return names


def displayable(images, mean=None, std=None):
    """``(N, 3, H, W)`` or ``(3, H, W)`` images as float ``(N, H, W, 3)`` in [0, 1] for ``imshow``."""
    x = _numpy(images)
    if x.ndim == 3:
        x = x[None]
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"images must have shape (N, 3, H, W) or (N, 1, H, W), got {x.shape}")
    if x.dtype == np.uint8:
        x = x.astype(np.float32) / 255
    elif mean is not None and std is not None:
        x = x * _per_channel(std, np.float32) + _per_channel(mean, np.float32)
    return np.clip(x.transpose(0, 2, 3, 1), 0, 1).astype(np.float32, copy=False)


def _per_channel(values, dtype):
    """Per-channel statistics (a number or one per channel) shaped to broadcast over (N, C, H, W)."""
    return np.reshape(np.asarray(values, dtype), (1, -1, 1, 1))


def _grid(count, ncols):
    ncols = max(1, min(ncols, count))
    return math.ceil(count / ncols), ncols


def _image_axes(fig, rows, cols):
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes:
        ax.axis("off")
    return axes


def _draw_image(ax, image, cmap=None):
    ax.imshow(image.squeeze(-1) if image.shape[-1] == 1 else image, cmap=cmap, interpolation="nearest")


# ---------------------------------------------------------------------- training curves
def history_columns(history):
    """A history (see the module docstring) as ``{key: float array}``, with ``epoch`` always present."""
    if isinstance(history, (str, os.PathLike)):
        with open(history, newline="") as file:
            history = list(csv.DictReader(file))
    if isinstance(history, dict):
        columns = {k: list(v) for k, v in history.items()}
    else:
        keys = list(dict.fromkeys(k for row in history for k in row))
        columns = {k: [row.get(k) for row in history] for k in keys}
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError(f"history columns have different lengths: { {k: len(v) for k, v in columns.items()} }")
    count = lengths.pop() if lengths else 0
    arrays = {}
    for key, values in columns.items():
        try:
            arrays[key] = np.array([_number(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError):
            pass  # a column that is not numeric (a time stamp, a note) is not a curve
    arrays.setdefault("epoch", np.arange(1, count + 1, dtype=np.float64))
    return arrays


def _number(value):
    """A metric as a float: None or an empty CSV cell is NaN."""
    return math.nan if value is None or (isinstance(value, str) and not value.strip()) else float(value)


def _plot_pair(ax, h, metric, colour, prefix=""):
    """Train (solid, dots) and validation (dashed) lines of ``metric`` ('loss' or 'acc') where present."""
    lines = []
    for split, style in (("train", "-"), ("val", "--")):
        key = f"{split}_{metric}"
        if key in h and not np.all(np.isnan(h[key])):
            lines += ax.plot(h["epoch"], h[key], style, color=colour, marker=".", label=f"{prefix}{split} {metric}")
    return lines


def _accuracy_axis(ax, histories):
    """Label ``ax`` as accuracy, in percent when every accuracy in ``histories`` is a fraction."""
    values = [h[k] for h in histories for k in ("train_acc", "val_acc") if k in h]
    if values and np.nanmax(np.concatenate(values), initial=0) <= 1:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_ylabel("accuracy")


def _epoch_axis(ax):
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def draw_history(fig, history, layout="twin", title=None):
    """Draw training curves on an empty figure; ``plot_history`` and ``LivePlot`` share it."""
    h = history_columns(history)
    if layout == "twin":
        loss_ax = fig.subplots()
        acc_ax = loss_ax.twinx()
        lines = _plot_pair(loss_ax, h, "loss", _LOSS_COLOUR) + _plot_pair(acc_ax, h, "acc", _ACC_COLOUR)
        loss_ax.set_ylabel("loss", color=_LOSS_COLOUR)
        _accuracy_axis(acc_ax, [h])
        acc_ax.yaxis.label.set_color(_ACC_COLOUR)
        loss_ax.grid(alpha=0.3)
        if lines:
            loss_ax.legend(lines, [line.get_label() for line in lines], loc="center right")
        axes = [loss_ax]
    elif layout == "panels":
        has_lr = "lr" in h and not np.all(np.isnan(h["lr"]))
        axes = fig.subplots(1, 3 if has_lr else 2)
        _plot_pair(axes[0], h, "loss", _LOSS_COLOUR)
        _plot_pair(axes[1], h, "acc", _ACC_COLOUR)
        axes[0].set_ylabel("loss")
        _accuracy_axis(axes[1], [h])
        if has_lr:
            axes[2].plot(h["epoch"], h["lr"], color=_LR_COLOUR, marker=".")
            axes[2].set_ylabel("learning rate")
        for ax in axes:
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
    else:
        raise ValueError(f"layout must be 'twin' (loss and accuracy on two y-axes) or 'panels', got {layout!r}")
    for ax in axes:
        _epoch_axis(ax)
    fig.suptitle(title or "loss and accuracy per epoch")
    fig.tight_layout()
    return fig


def plot_history(history, path=None, layout="twin", title=None, figsize=(8, 5)):
    """Training curves: loss and accuracy, train (solid) and validation (dashed), per epoch.

    ``layout='twin'`` puts loss on the left y-axis and accuracy on the right one; ``'panels'`` draws them side
    by side, with a third panel for the learning rate when the history has one."""
    return _finish(draw_history(plt.figure(figsize=figsize, dpi=DPI), history, layout, title), path)


def plot_runs(runs, path=None, title=None, figsize=(12, 4.5)):
    """Several runs' curves overlaid, ``runs`` mapping a name to a history: loss and accuracy panels, one
    colour per run, train solid and validation dashed, so the gap that overfitting opens is visible."""
    fig = plt.figure(figsize=figsize, dpi=DPI)
    loss_ax, acc_ax = fig.subplots(1, 2)
    columns = {name: history_columns(h) for name, h in runs.items()}
    for i, (name, h) in enumerate(columns.items()):
        colour = f"C{i % 10}"
        _plot_pair(loss_ax, h, "loss", colour, prefix=f"{name} ")
        _plot_pair(acc_ax, h, "acc", colour, prefix=f"{name} ")
    loss_ax.set_ylabel("loss")
    _accuracy_axis(acc_ax, columns.values())
    for ax in (loss_ax, acc_ax):
        _epoch_axis(ax)
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title or "runs compared (solid: train, dashed: validation)")
    fig.tight_layout()
    return _finish(fig, path)


class LivePlot:
    """Training curves redrawn after every epoch: ``live.update(history)`` at the end of each epoch.

    When matplotlib runs an interactive backend (a window can open), the figure is shown and refreshed
    without blocking; in a Jupyter notebook with the inline backend, the cell's output is replaced by the new
    figure; otherwise (no display: Agg) nothing is shown. In every case, given ``path``, the PNG is rewritten
    on each update, so the file is the live view on a headless machine. ``close()`` (or leaving a ``with``
    block) releases the figure.
    """

    def __init__(self, path=None, layout="twin", title=None, figsize=(8, 5)):
        self.path, self.layout, self.title = path, layout, title
        self.mode = _display_mode()
        # Only a window needs pyplot's figure manager; elsewhere a bare Figure keeps pyplot's list (which the
        # notebook backend would show once more at the end of the cell) untouched.
        self.fig = plt.figure(figsize=figsize, dpi=DPI) if self.mode == "window" else Figure(figsize=figsize, dpi=DPI)

    def update(self, history):
        self.fig.clear()
        draw_history(self.fig, history, self.layout, self.title)
        if self.path is not None:
            save_figure(self.fig, self.path)
        if self.mode == "window":
            plt.pause(0.001)  # draws and processes window events, returning at once
        elif self.mode == "notebook":
            from IPython.display import display
            display(self.fig, clear=True)
        return self.fig

    def close(self):
        plt.close(self.fig)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _display_mode():
    """'window' for an interactive GUI backend, 'notebook' for Jupyter's inline backend, else 'file'."""
    name = matplotlib.get_backend().lower()
    if "inline" in name:
        return "notebook"
    try:
        from matplotlib.backends import BackendFilter, backend_registry
        interactive = backend_registry.list_builtin(BackendFilter.INTERACTIVE)
    except ImportError:  # matplotlib < 3.9
        interactive = matplotlib.rcsetup.interactive_bk
    return "window" if name in {b.lower() for b in interactive} else "file"


# ---------------------------------------------------------------------- results per class
def plot_per_class_accuracy(accuracy, classes=None, path=None, title=None, figsize=(10, 5)):
    """Bars of each class's accuracy (fractions in [0, 1]), labelled, with the mean as a dashed line."""
    accuracy = _numpy(accuracy).astype(np.float64).ravel()
    names = _one_name_each(classes, accuracy.size)
    fig = plt.figure(figsize=figsize, dpi=DPI)
    ax = fig.subplots()
    bars = ax.bar(names, accuracy, color=_ACC_COLOUR)
    ax.bar_label(bars, labels=[f"{a:.0%}" for a in accuracy], fontsize=8)
    ax.axhline(accuracy.mean(), color="grey", linestyle="--", label=f"mean {accuracy.mean():.1%}")
    ax.set_ylim(0, 1.15)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left")
    ax.tick_params(axis="x", rotation=45)
    ax.set_title(title or "accuracy per class")
    fig.tight_layout()
    return _finish(fig, path)


def plot_confusion_matrix(matrix, classes=None, normalize=False, path=None, title=None, figsize=(8, 7)):
    """Confusion matrix, rows the true class and columns the predicted one: counts, or with
    ``normalize=True`` each row divided by its total (the diagonal is then each class's recall)."""
    matrix = _numpy(matrix).astype(np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion matrix must be square (classes x classes), got shape {matrix.shape}")
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    names = _one_name_each(classes, matrix.shape[0])
    fig = plt.figure(figsize=figsize, dpi=DPI)
    ax = fig.subplots()
    image = ax.imshow(matrix, cmap="Blues", vmin=0)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    threshold = matrix.max() / 2
    for (i, j), value in np.ndenumerate(matrix):
        ax.text(j, i, f"{value:.2f}" if normalize else f"{value:.0f}", ha="center", va="center", fontsize=7,
                color="white" if value > threshold else "black")
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=45, ha="right")
    ax.set_yticks(ticks, names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_title(title or ("confusion matrix (each row normalised)" if normalize else "confusion matrix (counts)"))
    fig.tight_layout()
    return _finish(fig, path)


# ---------------------------------------------------------------------- images
def plot_predictions(images, labels, predictions=None, classes=None, path=None, mean=None, std=None, ncols=8,
                     title=None):
    """A grid of images titled with their true class and, when ``predictions`` (class indices, or logits
    of shape (N, classes)) are given, the predicted one; wrong predictions in red."""
    pictures = displayable(images, mean, std)
    labels = _numpy(labels).astype(np.int64).ravel()
    if predictions is not None:
        predictions = _numpy(predictions)
        predictions = (predictions.argmax(axis=1) if predictions.ndim == 2 else predictions).astype(np.int64).ravel()
    if not len(pictures) == len(labels) == (len(labels) if predictions is None else len(predictions)):
        raise ValueError(f"got {len(pictures)} images, {len(labels)} labels and "
                         f"{'no' if predictions is None else len(predictions)} predictions; they must match")
    names = _class_names(classes, labels, *([] if predictions is None else [predictions]))
    rows, cols = _grid(len(pictures), ncols)
    fig = plt.figure(figsize=(1.5 * cols, 2.0 * rows + 0.4), dpi=DPI)
    for i, ax in enumerate(_image_axes(fig, rows, cols)[:len(pictures)]):
        _draw_image(ax, pictures[i])
        if predictions is None:
            ax.set_title(names[labels[i]], fontsize=8)
        else:
            wrong = predictions[i] != labels[i]
            ax.set_title(f"true: {names[labels[i]]}\npred: {names[predictions[i]]}", fontsize=8,
                         color=_WRONG if wrong else _RIGHT)
    if title is None and predictions is not None:
        title = f"predictions: {np.sum(predictions == labels)} of {len(labels)} right (wrong in red)"
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _finish(fig, path)


def plot_samples(images, labels, classes=None, per_class=8, path=None, mean=None, std=None, title=None):
    """Dataset samples: one row per class, holding the first ``per_class`` images of that class."""
    pictures = displayable(images, mean, std)
    labels = _numpy(labels).astype(np.int64).ravel()
    names = _class_names(classes, labels)
    fig = plt.figure(figsize=(1.1 * per_class + 1.2, 1.1 * len(names) + 0.5), dpi=DPI)
    axes = _image_axes(fig, len(names), per_class).reshape(len(names), per_class)
    for c, name in enumerate(names):
        for ax, index in zip(axes[c], np.flatnonzero(labels == c)[:per_class]):
            _draw_image(ax, pictures[index])
        axes[c, 0].text(-0.1, 0.5, name, transform=axes[c, 0].transAxes, ha="right", va="center", fontsize=9)
    fig.suptitle(title or "samples per class")
    fig.tight_layout()
    return _finish(fig, path)


def plot_class_distribution(labels, classes=None, path=None, title=None, figsize=(10, 5)):
    """Bar chart of the number of samples of each class, with the counts written on the bars."""
    labels = _numpy(labels).astype(np.int64).ravel()
    names = _class_names(classes, labels)
    counts = np.bincount(labels, minlength=len(names))
    fig = plt.figure(figsize=figsize, dpi=DPI)
    ax = fig.subplots()
    ax.bar_label(ax.bar(names, counts, color=_ACC_COLOUR), fontsize=8)
    ax.set_ylabel("samples")
    ax.tick_params(axis="x", rotation=45)
    ax.set_title(title or f"samples per class ({len(labels):,} in all)")
    fig.tight_layout()
    return _finish(fig, path)


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
        pixels = _numpy(image).astype(dtype) / 255
        if mean is not None and std is not None:
            pixels = (pixels - _per_channel(mean, dtype)) / _per_channel(std, dtype)
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
    maps = _numpy(caught[0])
    if maps.ndim != 4:
        raise ValueError(f"feature maps need a layer with a 4-D output (N, C, H, W); {layer!r} gave shape {maps.shape}")
    maps = maps[0, :max_maps]
    rows, cols = _grid(len(maps) + 1, ncols)
    fig = plt.figure(figsize=(1.4 * cols, 1.6 * rows + 0.4), dpi=DPI)
    axes = _image_axes(fig, rows, cols)
    _draw_image(axes[0], displayable(image, mean, std)[0])
    axes[0].set_title("input", fontsize=8)
    for c, (ax, feature_map) in enumerate(zip(axes[1:], maps)):
        ax.imshow(feature_map, cmap=cmap, interpolation="nearest")
        ax.set_title(f"channel {c}", fontsize=7)
    fig.suptitle(title or f"feature maps of {_layer_name(layer, module)}: {len(maps)} of {caught[0].shape[1]} "
                          f"channels, {maps.shape[1]}x{maps.shape[2]}")
    fig.tight_layout()
    return _finish(fig, path)


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
    w = _numpy(weight.detach()).astype(np.float64)
    w = w[:max_filters]
    w = w.transpose(0, 2, 3, 1) if w.shape[1] == 3 else w.mean(axis=1, keepdims=True).transpose(0, 2, 3, 1)
    low = w.min(axis=(1, 2, 3), keepdims=True)
    span = w.max(axis=(1, 2, 3), keepdims=True) - low
    w = np.divide(w - low, span, out=np.full_like(w, 0.5), where=span > 0)
    rows, cols = _grid(len(w), ncols)
    fig = plt.figure(figsize=(1.1 * cols, 1.1 * rows + 0.5), dpi=DPI)
    for ax, f in zip(_image_axes(fig, rows, cols), w):
        _draw_image(ax, f, cmap="gray")
    fig.suptitle(title or f"filters of {name}: {len(w)} of {weight.shape[0]}, {weight.shape[2]}x{weight.shape[3]}")
    fig.tight_layout()
    return _finish(fig, path)


# ---------------------------------------------------------------------- learning-rate range test
def plot_lr_finder(lrs, losses, suggested_lr=None, path=None, title=None, figsize=(8, 5)):
    """Loss against learning rate on a log axis (the LR range test), the suggested rate marked in red."""
    lrs, losses = _numpy(lrs).astype(np.float64).ravel(), _numpy(losses).astype(np.float64).ravel()
    if lrs.size != losses.size or lrs.size == 0:
        raise ValueError(f"need as many learning rates as losses, and at least one: got {lrs.size} and {losses.size}")
    if np.any(lrs <= 0):
        raise ValueError("learning rates must be positive to be drawn on a log axis")
    fig = plt.figure(figsize=figsize, dpi=DPI)
    ax = fig.subplots()
    ax.plot(lrs, losses, color=_ACC_COLOUR)
    ax.set_xscale("log")
    if suggested_lr is not None:
        nearest = int(np.argmin(np.abs(np.log(lrs) - math.log(suggested_lr))))
        ax.axvline(suggested_lr, color=_WRONG, linestyle=":")
        ax.plot([suggested_lr], [losses[nearest]], "o", color=_WRONG, label=f"suggested lr = {suggested_lr:.2e}")
        ax.legend()
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.set_title(title or "learning-rate range test")
    fig.tight_layout()
    return _finish(fig, path)
