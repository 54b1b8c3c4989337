"""After a run: test saved weights, print an evaluation, draw the data."""
import dataclasses
import math
from pathlib import Path

import numpy as np

from ..train import Trainer, load_weights
from .builders import build_loss, build_model
from .data import build_loaders, load_data
from .folder import close_figure, load_run


def evaluate_checkpoint(path, config=None, **overrides):
    """Test the weights in ``path`` (final.npz, best.npz, checkpoint.npz, or any weight file of the model) on
    the test images; returns (Evaluation, RunConfig, Datasets). The model, normalisation and test subset come
    from ``config``, else from the run.json beside ``path`` (whose data folder is used unless ``data_dir`` is
    overridden); ``overrides`` replace config fields (data_dir=, device=, test_subset=, ...)."""
    if config is None:
        config, record = load_run(path)
        recorded = Path(record.get("data", {}).get("folder") or "")
        if "data_dir" not in overrides and recorded.name and recorded.is_dir():
            overrides["data_dir"] = str(recorded)
    config = dataclasses.replace(config, **overrides).check()
    data = load_data(config, train=False)
    model = load_weights(build_model(config, len(data.classes)), path)
    loader = build_loaders(config, data).test
    trainer = Trainer(model, None, build_loss(config), device=config.device, progress=False)
    return trainer.evaluate(loader), config, data


def format_evaluation(evaluation, classes=None, what="test"):
    """The accuracy (with the count, so that two runs can be compared exactly), the loss, and one line per class."""
    matrix = evaluation.confusion_matrix
    correct, total = int(np.trace(matrix)), int(matrix.sum())
    lines = [f"{what} accuracy: {evaluation.acc:.2%} ({correct}/{total}), loss {evaluation.loss:.4f}"]
    names = classes if classes is not None else [str(k) for k in range(len(matrix))]
    width = max(len(name) for name in names)
    for k, (name, acc) in enumerate(zip(names, evaluation.per_class_acc)):
        shown = "   n/a" if math.isnan(acc) else f"{acc:6.1%}"
        lines.append(f"  {name:<{width}}  {shown}  ({int(matrix[k, k])}/{int(matrix[k].sum())})")
    return "\n".join(lines)


def plot_data(dataset, folder, per_class=8, title=None):
    """Save samples.png (``per_class`` images of every class) and class_distribution.png of ``dataset`` in
    ``folder``; returns the two paths."""
    from ..viz import plots
    folder = Path(folder)
    paths = folder / "samples.png", folder / "class_distribution.png"
    close_figure(plots.plot_samples(dataset.data, dataset.targets, dataset.classes, per_class, path=paths[0],
                                    title=title))
    close_figure(plots.plot_class_distribution(dataset.targets, dataset.classes, path=paths[1], title=title))
    return paths
