"""Draw the tour's pictures (docs/images/) from the code itself, so that they show what the code does.

    python docs/make_figures.py --data-dir DIR [--run RUN] [--lr-find LR] [--compare NAME=RUN ...] [--out docs/images]

Always, from the CIFAR-10 test images in DIR (``DIR/cifar-10-batches-py``):
    im2col.png           one image's 3x3 patches becoming the rows of the patch matrix (``kernels/im2col.py``)
    maxpool_grad.png     where max-pooling sends the gradient (``ops/pool.py``)
    graph_cnn2.png       the autograd graph one cnn2 training step records (``viz/graph_plot.py``)
From a run folder of ``python -m minitorch_cifar train`` (``--run``), and of ``lr-find`` (``--lr-find``):
    run_curves.png, run_confusion.png, run_per_class.png, run_feature_maps.png, run_filters.png, lr_find.png
With ``--compare`` (two or more run folders, each NAME=FOLDER): run_compare.png, their curves overlaid.
Only matplotlib draws; nothing else is needed.
"""
import argparse
import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("MPLBACKEND", "Agg")  # files only: never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import minitorch_cifar as mt  # noqa: E402
from minitorch_cifar import experiment, models, nn  # noqa: E402
from minitorch_cifar.data import CIFAR10, transforms  # noqa: E402
from minitorch_cifar.kernels.im2col import ConvGeometry, im2col  # noqa: E402
from minitorch_cifar.train.checkpoint import load_weights  # noqa: E402
from minitorch_cifar.train.lr_finder import LRFinderResult, steepest_descent  # noqa: E402
from minitorch_cifar.viz import plots  # noqa: E402
from minitorch_cifar.viz.graph_plot import draw_graph  # noqa: E402

DPI = 100  # sharp enough to read, and each PNG stays under 150 KB
PATCH_COLOURS = ("tab:red", "tab:orange", "tab:cyan")


def save(fig, path):
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(f"wrote {path}")


# ---------------------------------------------------------------------- the pictures of the code
def busiest_crop(image, size=6):
    """(top, left) of the size x size crop of ``image`` (3, H, W) whose pixels vary most: the clearest patches."""
    grey = image.astype(np.float64).mean(axis=0)
    h, w = grey.shape
    spread = {(t, l): grey[t:t + size, l:l + size].std() for t in range(h - size + 1) for l in range(w - size + 1)}
    return max(spread, key=spread.get)


def draw_im2col(image, path):
    """A 6x6 crop of ``image`` (3, 32, 32) uint8 through the real im2col: 16 patches of 3x3 -> 16 rows of 27 columns."""
    top, left = busiest_crop(image)
    crop = image[:, top:top + 6, left:left + 6].transpose(1, 2, 0)  # channels last (6, 6, 3), as im2col takes it
    geometry = ConvGeometry(kernel=(3, 3), stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1, output=(4, 4))
    patches = im2col(crop[None].astype(np.float32), geometry)  # (16, 27): row r = output pixel (r // 4, r % 4)
    rows = patches.reshape(16, 9, 3) / 255  # column k = tap * 3 + channel: each tap's 3 columns drawn as one pixel

    fig, (ax_image, ax_crop, ax_p) = plt.subplots(1, 3, figsize=(11, 4), gridspec_kw={"width_ratios": [1, 1, 1.3]})
    ax_image.imshow(image.transpose(1, 2, 0), interpolation="nearest")
    ax_image.add_patch(plt.Rectangle((left - 0.5, top - 0.5), 6, 6, fill=False, color="white", linewidth=1.5))
    ax_image.set_title("a test image, 32x32, and a 6x6 crop", fontsize=9)
    ax_crop.imshow(crop, interpolation="nearest")
    ax_crop.set_title("the crop: a 3x3 kernel fits at 4x4 positions", fontsize=9)
    ax_p.imshow(rows, interpolation="nearest", aspect="auto")
    ax_p.set_title("P = im2col(crop), 16 x 27: one row per output pixel;\n"
                   "each square is one tap's 3 columns (R, G, B)", fontsize=9)
    ax_p.set_xticks(range(9), [f"({i},{j})" for i in range(3) for j in range(3)], fontsize=7)
    ax_p.set_xlabel("tap (i, j) of the kernel")
    ax_p.set_yticks(range(16), [f"{r}: ({r // 4},{r % 4})" for r in range(16)], fontsize=7)
    ax_p.set_ylabel("row r: output pixel (oh, ow)")
    for colour, row in zip(PATCH_COLOURS, (0, 6, 15)):
        oh, ow = divmod(row, 4)
        ax_crop.add_patch(plt.Rectangle((ow - 0.45, oh - 0.45), 2.9, 2.9, fill=False, color=colour, linewidth=2.5))
        ax_p.add_patch(plt.Rectangle((-0.45, row - 0.45), 8.9, 0.9, fill=False, color=colour, linewidth=2.5))
    for ax in (ax_image, ax_crop):
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    save(fig, path)


def _grid_panel(ax, values, title, bold=None, lines=False):
    ax.imshow(np.zeros_like(values), cmap="Greys", vmin=0, vmax=1)
    for (r, c), v in np.ndenumerate(values):
        weight = "bold" if bold is not None and bold[r, c] else "normal"
        ax.text(c, r, f"{v:g}", ha="center", va="center", fontsize=11, fontweight=weight,
                color="tab:red" if weight == "bold" else "black")
    ax.set_xticks(np.arange(-0.5, values.shape[1]), minor=True)
    ax.set_yticks(np.arange(-0.5, values.shape[0]), minor=True)
    ax.grid(which="minor", color="lightgrey")
    if lines:  # the borders of the 2x2 windows
        ax.axhline(1.5, color="black", linewidth=2)
        ax.axvline(1.5, color="black", linewidth=2)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=9)


def draw_maxpool_gradient(path, seed=3):
    """A 4x4 input through the real max_pool2d(2) and its backward: each window's gradient lands on its maximum."""
    rng = np.random.default_rng(seed)
    x = mt.tensor(rng.permutation(16).reshape(1, 1, 4, 4).astype(np.float64), requires_grad=True)
    y = nn.functional.max_pool2d(x, 2)
    upstream = np.array([[[[0.1, 0.2], [0.3, 0.4]]]])
    y.backward(mt.tensor(upstream))
    grad = x.grad.numpy()[0, 0]
    fig, axes = plt.subplots(1, 4, figsize=(10, 2.9))
    _grid_panel(axes[0], x.detach().numpy()[0, 0], "x: four 2x2 windows,\neach one's maximum in red", grad != 0, True)
    _grid_panel(axes[1], y.detach().numpy()[0, 0], "y = max_pool2d(x, 2)")
    _grid_panel(axes[2], upstream[0, 0], "dL/dy, from the layer above")
    _grid_panel(axes[3], grad, "dL/dx = x.grad: dL/dy at\neach window's maximum, 0 elsewhere", grad != 0, True)
    fig.tight_layout()
    save(fig, path)


def draw_training_graph(images, labels, path):
    """The graph a cnn2 training step records, from two real images, drawn before backward() frees it."""
    mt.manual_seed(0)
    model = models.get_model("cnn2")
    mean, std = (np.array(s, np.float32)[:, None, None] for s in (transforms.CIFAR10_MEAN, transforms.CIFAR10_STD))
    x = mt.tensor((images / np.float32(255) - mean) / std)
    with mt.use_kernels("reference"):
        loss = nn.functional.cross_entropy(model(x), mt.tensor(labels))
    save(draw_graph(loss, params=model, title="the autograd graph of one cnn2 step (batch of 2, reference kernels)"),
         path)


# ---------------------------------------------------------------------- the pictures of runs
def _history(folder):
    return Path(folder) / experiment.FILES["metrics"]


def draw_run(folder, data_dir, out, image):
    """Curves, test results per class, feature maps and filters of a finished ``train`` run folder."""
    folder = Path(folder)
    config, _ = experiment.load_run(folder)
    name = config.model
    save(plots.plot_history(_history(folder), title=f"{name}: loss and accuracy per epoch"), out / "run_curves.png")
    evaluation, config, data = experiment.evaluate_checkpoint(folder / experiment.FILES["final"], data_dir=data_dir)
    save(plots.plot_confusion_matrix(evaluation.confusion_matrix, data.classes, normalize=True,
                                     title=f"{name}: test confusion matrix (rows: true class)"),
         out / "run_confusion.png")
    save(plots.plot_per_class_accuracy(evaluation.per_class_acc, data.classes,
                                       title=f"{name}: test accuracy per class"), out / "run_per_class.png")
    model = load_weights(experiment.build_model(config, len(data.classes)), folder / experiment.FILES["final"])
    statistics = experiment.NORMALIZATIONS[config.normalize] or (None, None)
    save(plots.plot_feature_maps(model, image, "features.2", max_maps=15, mean=statistics[0], std=statistics[1]),
         out / "run_feature_maps.png")
    save(plots.plot_filters(model, "features.0"), out / "run_filters.png")


def draw_lr_find(folder, out):
    """The range test's curve from an ``lr-find`` folder's lr_find.csv, with its steepest-descent suggestion."""
    with open(Path(folder) / "lr_find.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    lrs, losses, raw = ([float(row[key]) for row in rows] for key in ("lr", "loss", "raw_loss"))
    result = LRFinderResult(lrs, losses, raw, steepest_descent(lrs, losses), diverged=False)
    save(result.plot(title="learning-rate range test (smoothed loss)"), out / "lr_find.png")


def draw_comparison(named_folders, out):
    runs = {name: _history(folder) for name, folder in named_folders}
    save(plots.plot_runs(runs, title="the same model, two learning rates (solid: train, dashed: test)"),
         out / "run_compare.png")


# ---------------------------------------------------------------------- command line
def _named_folder(text):
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"expected NAME=FOLDER, got {text!r}")
    return name, folder


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", required=True, help="the folder holding cifar-10-batches-py/")
    parser.add_argument("--run", help="a run folder of `python -m minitorch_cifar train` (cnn2 or cnn3)")
    parser.add_argument("--lr-find", help="a folder of `python -m minitorch_cifar lr-find`")
    parser.add_argument("--compare", nargs="+", type=_named_folder, metavar="NAME=FOLDER",
                        help="run folders to overlay")
    parser.add_argument("--image", type=int, default=0, help="which test image to draw (default 0)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "images"), help="where the PNGs go")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    test = CIFAR10(args.data_dir, train=False, download=False)
    image = test.data[args.image]
    draw_im2col(image, out / "im2col.png")
    draw_maxpool_gradient(out / "maxpool_grad.png")
    draw_training_graph(test.data[args.image:args.image + 2], test.targets[args.image:args.image + 2],
                        out / "graph_cnn2.png")
    if args.run:
        draw_run(args.run, args.data_dir, out, image)
    if args.lr_find:
        draw_lr_find(args.lr_find, out)
    if args.compare:
        draw_comparison(args.compare, out)


if __name__ == "__main__":
    sys.exit(main())
