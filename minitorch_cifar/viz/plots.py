"""Every figure in one namespace (``from minitorch_cifar.viz import plots``): ``viz.curves`` draws training runs
(curves, per-class results, the LR range test), ``viz.images`` the data and the inside of a model (samples,
predictions, feature maps, filters); ``viz.figure`` holds what they share.

Every ``plot_*`` function draws one matplotlib Figure and returns it; given ``path`` it also saves the image
there (PNG unless the suffix names another format), atomically (a temporary file, then a rename), creating
missing folders. Figures are made through pyplot so that ``plt.show()`` displays them; close one with
``plt.close(fig)`` once it is saved. matplotlib picks its backend as usual: an interactive one when a
display exists, else the file-only Agg backend (``MPLBACKEND=Agg`` forces it), so nothing here blocks.

Images are ``(N, 3, H, W)`` (NumPy arrays or Tensors on any device): uint8 in [0, 255], or floats, which are
shown as ``x * std + mean`` when ``mean`` and ``std`` (per channel, as given to the Normalize transform) are
given, else taken to lie in [0, 1].
"""
from .curves import (LivePlot, draw_history, history_columns, plot_confusion_matrix, plot_history, plot_lr_finder,
                     plot_per_class_accuracy, plot_runs)
from .figure import displayable, save_figure
from .images import (find_module, plot_class_distribution, plot_feature_maps, plot_filters, plot_predictions,
                     plot_samples)

__all__ = ["LivePlot", "draw_history", "history_columns", "plot_confusion_matrix", "plot_history", "plot_lr_finder",
           "plot_per_class_accuracy", "plot_runs", "displayable", "save_figure", "find_module",
           "plot_class_distribution", "plot_feature_maps", "plot_filters", "plot_predictions", "plot_samples"]
