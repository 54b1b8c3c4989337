"""Looking at models and training: figures (``viz.plots``: ``viz.curves`` and ``viz.images``, matplotlib),
``summary`` and ``to_dot``.

``summary`` and ``to_dot`` need nothing beyond the framework; the plotting functions import matplotlib on
first use, so ``import minitorch_cifar.viz`` stays light.
"""
from .graph import to_dot
from .summary import summary

_PLOTS = ("LivePlot", "find_module", "history_columns", "plot_class_distribution", "plot_confusion_matrix",
          "plot_feature_maps", "plot_filters", "plot_history", "plot_lr_finder", "plot_per_class_accuracy",
          "plot_predictions", "plot_runs", "plot_samples", "save_figure")

__all__ = ["summary", "to_dot", *_PLOTS]


def __getattr__(name):
    if name in _PLOTS:
        from . import plots
        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
