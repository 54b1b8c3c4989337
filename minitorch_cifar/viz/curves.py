"""Figures of training runs: loss and accuracy curves (one run, live, or several overlaid), results per class,
and the learning-rate range test.

A *history* holds per-epoch metrics: a dict of equal-length lists, a list of per-epoch dicts, or the path of
a CSV file with one row per epoch, using the keys ``epoch`` (1, 2, ...; counted when absent), ``train_loss``,
``train_acc``, ``val_loss``, ``val_acc`` (accuracies as fractions in [0, 1]), ``lr`` and ``seconds``. Missing
keys are skipped; a missing or empty value is NaN (a gap in the line).
"""
import csv
import math
import os

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from .figure import ACC_COLOUR, DPI, LOSS_COLOUR, LR_COLOUR, WRONG, finish, one_name_each, save_figure, to_numpy

SHORT_RUN = 20  # epochs: up to this many, each one is marked clearly
LABELLED_RUN = 2  # epochs: up to this many, each point is labelled with its value


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
    """Train (solid, dots) and validation (dashed) lines of ``metric`` ('loss' or 'acc') where present. A short
    run's points are marked clearly (train filled circles, validation open squares) and labelled with their
    values, since a line of one or two points says little."""
    lines = []
    for split, style in (("train", "-"), ("val", "--")):
        key = f"{split}_{metric}"
        if key in h and not np.all(np.isnan(h[key])):
            lines += ax.plot(h["epoch"], h[key], style, color=colour, label=f"{prefix}{split} {metric}",
                             **_markers(h["epoch"], split))
            if len(h["epoch"]) <= LABELLED_RUN:
                for x, y in zip(h["epoch"], h[key]):
                    text = f"{y:.1%}" if metric == "acc" and y <= 1 else f"{y:.3f}"
                    ax.annotate(text, (x, y), xytext=(7, 0), textcoords="offset points", va="center", fontsize=8,
                                color=colour)
    if len(h["epoch"]) <= SHORT_RUN:
        ax.margins(y=0.15)
    return lines


def _accuracy_axis(ax, histories):
    """Label ``ax`` as accuracy, in percent when every accuracy in ``histories`` is a fraction."""
    values = [h[k] for h in histories for k in ("train_acc", "val_acc") if k in h]
    if values and np.nanmax(np.concatenate(values), initial=0) <= 1:
        ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_ylabel("accuracy")


def _markers(epochs, split="train"):
    """Dots on a long curve; on a short one (a run of a few epochs, a single point) markers that stand out, filled
    circles for training and open squares for validation, so that the two differ without a line between points."""
    if len(epochs) > SHORT_RUN:
        return {"marker": "."}
    return {"marker": "o", "markersize": 6} if split == "train" else \
        {"marker": "s", "markersize": 6, "markerfacecolor": "white"}


def _epoch_axis(ax, epochs):
    """Whole-number epoch ticks; a short run gets half an epoch of room each side, so one epoch is a point in the
    middle of the axis rather than at its edge."""
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    if 0 < len(epochs) <= SHORT_RUN:
        ax.set_xlim(np.nanmin(epochs) - 0.5, np.nanmax(epochs) + 0.5)


def draw_history(fig, history, layout="twin", title=None):
    """Draw training curves on an empty figure; ``plot_history`` and ``LivePlot`` share it. A run of one or two
    epochs is drawn as panels whatever the layout: on twin axes its few points would fall on one another."""
    h = history_columns(history)
    if layout == "twin" and len(h["epoch"]) <= LABELLED_RUN:
        layout = "panels"
    if layout == "twin":
        loss_ax = fig.subplots()
        acc_ax = loss_ax.twinx()
        lines = _plot_pair(loss_ax, h, "loss", LOSS_COLOUR) + _plot_pair(acc_ax, h, "acc", ACC_COLOUR)
        loss_ax.set_ylabel("loss", color=LOSS_COLOUR)
        _accuracy_axis(acc_ax, [h])
        acc_ax.yaxis.label.set_color(ACC_COLOUR)
        loss_ax.grid(alpha=0.3)
        if lines:
            loss_ax.legend(lines, [line.get_label() for line in lines], loc="center right")
        axes = [loss_ax]
    elif layout == "panels":
        has_lr = "lr" in h and not np.all(np.isnan(h["lr"]))
        axes = fig.subplots(1, 3 if has_lr else 2)
        _plot_pair(axes[0], h, "loss", LOSS_COLOUR)
        _plot_pair(axes[1], h, "acc", ACC_COLOUR)
        axes[0].set_ylabel("loss")
        _accuracy_axis(axes[1], [h])
        if has_lr:
            axes[2].plot(h["epoch"], h["lr"], color=LR_COLOUR, **_markers(h["epoch"]))
            axes[2].set_ylabel("learning rate")
        for ax in axes:
            ax.grid(alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend()
    else:
        raise ValueError(f"layout must be 'twin' (loss and accuracy on two y-axes) or 'panels', got {layout!r}")
    for ax in axes:
        _epoch_axis(ax, h["epoch"])
    fig.suptitle(title or "loss and accuracy per epoch")
    fig.tight_layout()
    return fig


def plot_history(history, path=None, layout="twin", title=None, figsize=(8, 5)):
    """Training curves: loss and accuracy, train (solid) and validation (dashed), per epoch.

    ``layout='twin'`` puts loss on the left y-axis and accuracy on the right one; ``'panels'`` draws them side
    by side, with a third panel for the learning rate when the history has one."""
    return finish(draw_history(plt.figure(figsize=figsize, dpi=DPI), history, layout, title), path)


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
        _epoch_axis(ax, np.concatenate([h["epoch"] for h in columns.values()] or [np.zeros(0)]))
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title or "runs compared (solid: train, dashed: validation)")
    fig.tight_layout()
    return finish(fig, path)


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
    accuracy = to_numpy(accuracy).astype(np.float64).ravel()
    names = one_name_each(classes, accuracy.size)
    fig = plt.figure(figsize=figsize, dpi=DPI)
    ax = fig.subplots()
    bars = ax.bar(names, accuracy, color=ACC_COLOUR)
    ax.bar_label(bars, labels=[f"{a:.0%}" for a in accuracy], fontsize=8)
    ax.axhline(accuracy.mean(), color="grey", linestyle="--", label=f"mean {accuracy.mean():.1%}")
    ax.set_ylim(0, 1.15)
    ax.yaxis.set_major_formatter(PercentFormatter(xmax=1))
    ax.set_ylabel("accuracy")
    ax.legend(loc="upper left")
    ax.tick_params(axis="x", rotation=45)
    ax.set_title(title or "accuracy per class")
    fig.tight_layout()
    return finish(fig, path)


def plot_confusion_matrix(matrix, classes=None, normalize=False, path=None, title=None, figsize=(8, 7)):
    """Confusion matrix, rows the true class and columns the predicted one: counts, or with
    ``normalize=True`` each row divided by its total (the diagonal is then each class's recall)."""
    matrix = to_numpy(matrix).astype(np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"a confusion matrix must be square (classes x classes), got shape {matrix.shape}")
    if normalize:
        totals = matrix.sum(axis=1, keepdims=True)
        matrix = np.divide(matrix, totals, out=np.zeros_like(matrix), where=totals > 0)
    names = one_name_each(classes, matrix.shape[0])
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
    return finish(fig, path)



# ---------------------------------------------------------------------- learning-rate range test
def plot_lr_finder(lrs, losses, suggested_lr=None, path=None, title=None, figsize=(8, 5)):
    """Loss against learning rate on a log axis (the LR range test), the suggested rate marked in red."""
    lrs, losses = to_numpy(lrs).astype(np.float64).ravel(), to_numpy(losses).astype(np.float64).ravel()
    if lrs.size != losses.size or lrs.size == 0:
        raise ValueError(f"need as many learning rates as losses, and at least one: got {lrs.size} and {losses.size}")
    if np.any(lrs <= 0):
        raise ValueError("learning rates must be positive to be drawn on a log axis")
    fig = plt.figure(figsize=figsize, dpi=DPI)
    ax = fig.subplots()
    ax.plot(lrs, losses, color=ACC_COLOUR)
    ax.set_xscale("log")
    if suggested_lr is not None:
        nearest = int(np.argmin(np.abs(np.log(lrs) - math.log(suggested_lr))))
        ax.axvline(suggested_lr, color=WRONG, linestyle=":")
        ax.plot([suggested_lr], [losses[nearest]], "o", color=WRONG, label=f"suggested lr = {suggested_lr:.2e}")
        ax.legend()
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    ax.set_title(title or "learning-rate range test")
    fig.tight_layout()
    return finish(fig, path)
