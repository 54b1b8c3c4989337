"""Figures, summary() and to_dot(): each plot's PNG and drawn data, hooks and modes restored, DOT structure."""
import os
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import minitorch_cifar as mt  # noqa: E402
from minitorch_cifar import nn, viz  # noqa: E402
from minitorch_cifar.viz import curves, figure, plots  # noqa: E402

CLASSES = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def assert_png(fig, path):
    """The file is a PNG of the figure's pixel size that is not one flat colour."""
    assert isinstance(fig, Figure)
    image = mpimg.imread(path)
    width, height = np.round(fig.get_size_inches() * fig.dpi).astype(int)
    assert image.shape[:2] == (height, width)
    assert image[..., :3].std() > 0.01
    return image


def history(epochs=5, scale=1.0):
    return [dict(epoch=e, train_loss=scale * 2 / e, train_acc=1 - 1 / (e + 1), val_loss=scale * 2.2 / e ** 0.5,
                 val_acc=0.8 - 0.8 / (e + 1), lr=0.1 * 0.9 ** e, seconds=1.5) for e in range(1, epochs + 1)]


def uint8_images(rng, n):
    return (rng.random((n, 3, 32, 32)) * 255).astype(np.uint8)


def line_data(ax):
    return {line.get_label(): np.asarray(line.get_ydata()) for line in ax.get_lines()}


# ---------------------------------------------------------------------- saving and histories
def test_save_figure_is_atomic_and_creates_folders(tmp_path):
    fig = plots.plot_lr_finder([1e-3, 1e-2, 1e-1], [2.0, 1.5, 3.0])
    target = tmp_path / "a" / "b" / "lr.png"
    plots.save_figure(fig, target)
    assert_png(fig, target)
    assert sorted(os.listdir(target.parent)) == ["lr.png"]
    target.write_bytes(b"previous")
    with pytest.raises(ValueError):
        plots.save_figure(fig, tmp_path / "a" / "b" / "lr.not-a-format")
    assert target.read_bytes() == b"previous"
    assert sorted(os.listdir(target.parent)) == ["lr.png"]  # the failed write left no temporary file


def test_history_formats_agree(tmp_path):
    rows = history(4)
    columns = {k: [r[k] for r in rows] for k in rows[0]}
    csv_path = tmp_path / "metrics.csv"
    csv_path.write_text(",".join(rows[0]) + "\n" + "\n".join(",".join(str(v) for v in r.values()) for r in rows))
    expected = {k: np.asarray(v, dtype=np.float64) for k, v in columns.items()}
    for form in (rows, columns, csv_path, str(csv_path)):
        got = plots.history_columns(form)
        assert got.keys() == expected.keys()
        for k in expected:
            np.testing.assert_allclose(got[k], expected[k])
    got = plots.history_columns({"train_loss": [1.0, 0.5, 0.25], "val_loss": [1.1, None, ""], "note": ["a", "", "b"]})
    np.testing.assert_array_equal(got["epoch"], [1, 2, 3])
    assert "note" not in got
    np.testing.assert_array_equal(np.isnan(got["val_loss"]), [False, True, True])
    with pytest.raises(ValueError, match="different lengths"):
        plots.history_columns({"train_loss": [1.0, 0.5], "val_loss": [1.0]})


@pytest.mark.parametrize("layout", ["twin", "panels"])
def test_plot_history(tmp_path, layout):
    rows = history(6)
    fig = viz.plot_history(rows, tmp_path / f"{layout}.png", layout=layout)
    assert_png(fig, tmp_path / f"{layout}.png")
    curves = {}
    for ax in fig.axes:
        curves.update(line_data(ax))
    for key in ("train_loss", "val_loss", "train_acc", "val_acc"):
        np.testing.assert_allclose(curves[key.replace("_", " ")], [r[key] for r in rows])
    if layout == "twin":
        assert len(fig.axes) == 2 and fig.axes[0].get_shared_x_axes().joined(fig.axes[0], fig.axes[1])
    else:
        assert len(fig.axes) == 3  # loss, accuracy and the learning rate
        np.testing.assert_allclose(fig.axes[2].get_lines()[0].get_ydata(), [r["lr"] for r in rows])
    with pytest.raises(ValueError, match="layout"):
        viz.plot_history(rows, layout="stacked")


def test_plot_runs_overlays_every_run(tmp_path):
    runs = {"cnn1": history(5), "cnn2": history(7, 0.8), "cnn3": history(3, 0.6)}
    fig = viz.plot_runs(runs, tmp_path / "runs.png")
    assert_png(fig, tmp_path / "runs.png")
    loss_lines, acc_lines = line_data(fig.axes[0]), line_data(fig.axes[1])
    for name, rows in runs.items():
        np.testing.assert_allclose(loss_lines[f"{name} val loss"], [r["val_loss"] for r in rows])
        np.testing.assert_allclose(acc_lines[f"{name} train acc"], [r["train_acc"] for r in rows])
    assert len(loss_lines) == len(acc_lines) == 6


def test_live_plot_saves_each_update(tmp_path, monkeypatch):
    assert curves._display_mode() == "file"  # Agg: no window
    path = tmp_path / "live" / "curves.png"
    with viz.LivePlot(path) as live:
        for epoch in (1, 2, 3):
            fig = live.update(history(epoch))
            assert_png(fig, path)
            assert len(fig.axes[0].get_lines()[0].get_ydata()) == epoch
        assert fig not in [plt.figure(n) for n in plt.get_fignums()]  # no pyplot figure without a window
    assert os.listdir(path.parent) == ["curves.png"]

    pauses = []
    monkeypatch.setattr(curves, "_display_mode", lambda: "window")
    monkeypatch.setattr(curves.plt, "pause", lambda seconds: pauses.append(seconds))
    live = viz.LivePlot()
    live.update(history(2))
    live.update(history(3))
    assert len(pauses) == 2 and live.fig.number in plt.get_fignums()
    live.close()
    assert live.fig.number not in plt.get_fignums()


@pytest.mark.parametrize("backend, mode", [("TkAgg", "window"), ("QtAgg", "window"), ("agg", "file"),
                                           ("module://matplotlib_inline.backend_inline", "notebook")])
def test_display_mode_follows_the_backend(monkeypatch, backend, mode):
    monkeypatch.setattr(curves.matplotlib, "get_backend", lambda: backend)
    assert curves._display_mode() == mode


# ---------------------------------------------------------------------- per-class results
def test_per_class_accuracy_bars(tmp_path, rng):
    accuracy = rng.random(10)
    fig = viz.plot_per_class_accuracy(mt.tensor(accuracy), CLASSES, tmp_path / "per_class.png")
    assert_png(fig, tmp_path / "per_class.png")
    ax = fig.axes[0]
    np.testing.assert_allclose([bar.get_height() for bar in ax.patches], accuracy, rtol=1e-6)
    assert [t.get_text() for t in ax.get_xticklabels()] == CLASSES


@pytest.mark.parametrize("normalize", [False, True])
def test_confusion_matrix(tmp_path, rng, normalize):
    labels, predictions = rng.integers(0, 10, 300), rng.integers(0, 10, 300)
    matrix = np.zeros((10, 10), np.int64)
    np.add.at(matrix, (labels, predictions), 1)
    matrix[3] = 0  # a class with no samples stays 0 when normalised
    fig = viz.plot_confusion_matrix(matrix, CLASSES, normalize=normalize, path=tmp_path / "cm.png")
    assert_png(fig, tmp_path / "cm.png")
    ax = fig.axes[0]
    totals = matrix.sum(axis=1, keepdims=True)
    expected = np.divide(matrix, totals, out=np.zeros((10, 10)), where=totals > 0) if normalize else matrix
    np.testing.assert_allclose(ax.get_images()[0].get_array(), expected)
    texts = [t.get_text() for t in ax.texts]
    assert texts[0] == (f"{expected[0, 0]:.2f}" if normalize else str(matrix[0, 0])) and len(texts) == 100
    assert [t.get_text() for t in ax.get_yticklabels()] == CLASSES
    with pytest.raises(ValueError, match="square"):
        viz.plot_confusion_matrix(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="10 class names for 3 classes"):
        viz.plot_confusion_matrix(np.zeros((3, 3)), CLASSES)


# ---------------------------------------------------------------------- images
def test_displayable_undoes_normalisation(rng):
    images = uint8_images(rng, 4)
    expected = images.transpose(0, 2, 3, 1) / 255
    normalised = (images / 255 - np.reshape(MEAN, (1, 3, 1, 1))) / np.reshape(STD, (1, 3, 1, 1))
    np.testing.assert_allclose(plots.displayable(images), expected, atol=1e-6)
    np.testing.assert_allclose(plots.displayable(mt.tensor(normalised.astype(np.float32)), MEAN, STD), expected,
                               atol=1e-6)
    np.testing.assert_allclose(plots.displayable(images[0]), expected[:1], atol=1e-6)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        plots.displayable(np.zeros((2, 32, 32, 3), np.uint8))


def test_prediction_grid_marks_wrong_ones_red(tmp_path, rng):
    images, labels = uint8_images(rng, 10), rng.integers(0, 10, 10)
    predictions = labels.copy()
    predictions[[1, 4, 7]] = (labels[[1, 4, 7]] + 1) % 10
    logits = np.eye(10, dtype=np.float32)[predictions]  # (N, classes) scores are reduced with argmax
    fig = viz.plot_predictions(images, mt.tensor(labels), mt.tensor(logits), CLASSES, tmp_path / "pred.png", ncols=4)
    assert_png(fig, tmp_path / "pred.png")
    shown = [ax for ax in fig.axes if ax.get_images()]
    assert len(shown) == 10
    colours = [ax.title.get_color() for ax in shown]
    assert [i for i, c in enumerate(colours) if c == figure.WRONG] == [1, 4, 7]
    assert shown[1].get_title() == f"true: {CLASSES[labels[1]]}\npred: {CLASSES[predictions[1]]}"
    np.testing.assert_allclose(shown[5].get_images()[0].get_array(), images[5].transpose(1, 2, 0) / 255, atol=1e-6)
    with pytest.raises(ValueError, match="must match"):
        viz.plot_predictions(images, labels[:9])
    with pytest.raises(ValueError, match="3 class names, but class indices go up to"):
        viz.plot_predictions(images, np.full(10, 5), classes=CLASSES[:3])


def test_samples_per_class_and_distribution(tmp_path, rng):
    images, labels = uint8_images(rng, 60), rng.integers(0, 10, 60)
    fig = viz.plot_samples(images, labels, CLASSES, per_class=3, path=tmp_path / "samples.png")
    assert_png(fig, tmp_path / "samples.png")
    grid = np.asarray(fig.axes).reshape(10, 3)
    for c in range(10):
        first = np.flatnonzero(labels == c)[:3]
        drawn = [ax.get_images()[0].get_array() for ax in grid[c] if ax.get_images()]
        assert len(drawn) == len(first)
        for picture, index in zip(drawn, first):
            np.testing.assert_allclose(picture, images[index].transpose(1, 2, 0) / 255, atol=1e-6)

    fig = viz.plot_class_distribution(labels, CLASSES, tmp_path / "dist.png")
    assert_png(fig, tmp_path / "dist.png")
    np.testing.assert_array_equal([bar.get_height() for bar in fig.axes[0].patches], np.bincount(labels, minlength=10))


# ---------------------------------------------------------------------- inside a model
class PointwiseConv(nn.Module):
    """A 1x1 convolution from existing ops: a module with a 4-D weight (out, in, 1, 1) and a 4-D output."""

    def __init__(self, cin, cout):
        super().__init__()
        self.weight = nn.Parameter(mt.randn(cout, cin, 1, 1))

    def forward(self, x):
        w = self.weight.reshape(self.weight.shape[0], -1)
        return (x.permute(0, 2, 3, 1) @ w.T).permute(0, 3, 1, 2)


def small_cnn(first):
    return nn.Sequential(first, nn.ReLU(), nn.Dropout(0.5), nn.Flatten(), nn.Linear(first.weight.shape[0] * 64, 10))


FIRST_LAYERS = [pytest.param(lambda: PointwiseConv(3, 6), id="pointwise"),
                pytest.param(lambda: nn.Conv2d(3, 6, 3, padding=1), id="Conv2d")]


@pytest.mark.parametrize("make_first", FIRST_LAYERS)
@pytest.mark.parametrize("by_name", [True, False])
def test_feature_maps(tmp_path, rng, device, make_first, by_name):
    model = small_cnn(make_first()).to(device)
    image = (rng.random((3, 8, 8)) * 255).astype(np.uint8)
    layer = "1" if by_name else model[1]
    fig = viz.plot_feature_maps(model, image, layer, tmp_path / "maps.png", mean=MEAN, std=STD, max_maps=4)
    assert_png(fig, tmp_path / "maps.png")
    assert all(not m._forward_hooks for m in model.modules())
    assert all(m.training for m in model.modules())  # the mode it was in before
    x = (image / 255 - np.reshape(MEAN, (1, 3, 1, 1))) / np.reshape(STD, (1, 3, 1, 1))
    with mt.no_grad():
        expected = model[1](model[0](mt.tensor(x.astype(np.float32), device=device))).numpy()[0]
    shown = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    assert len(shown) == 1 + 4  # the input, then 4 of the 6 channels
    np.testing.assert_allclose(shown[0], image.transpose(1, 2, 0) / 255, atol=1e-6)
    for c in range(4):
        np.testing.assert_allclose(shown[1 + c], expected[c], rtol=1e-5, atol=1e-6)


def test_feature_maps_errors_leave_no_hook():
    model = small_cnn(PointwiseConv(3, 2)).eval()
    image = np.zeros((3, 8, 8), np.float32)
    with pytest.raises(KeyError, match="'0', '1', '2'"):
        viz.plot_feature_maps(model, image, "conv9")
    with pytest.raises(ValueError, match="4-D output"):
        viz.plot_feature_maps(model, image, "4")
    assert all(not m._forward_hooks for m in model.modules())
    assert not any(m.training for m in model.modules())


@pytest.mark.parametrize("make_first", FIRST_LAYERS)
def test_filters_of_the_first_conv(tmp_path, make_first):
    model = nn.Sequential(nn.Linear(4, 4), make_first(), nn.ReLU())
    fig = viz.plot_filters(model, path=tmp_path / "filters.png", ncols=4)
    assert_png(fig, tmp_path / "filters.png")
    weight = model[1].weight.detach().numpy()
    shown = [ax.get_images()[0].get_array() for ax in fig.axes if ax.get_images()]
    assert len(shown) == 6 and shown[0].shape == weight.shape[2:] + (3,)
    for picture, w in zip(shown, weight):
        w = w.transpose(1, 2, 0)
        np.testing.assert_allclose(picture, (w - w.min()) / (w.max() - w.min()), atol=1e-6)
    viz.plot_filters(model, layer="1", max_filters=2)
    with pytest.raises(ValueError, match="4-D weight"):
        viz.plot_filters(nn.Sequential(nn.Linear(2, 2)))
    with pytest.raises(ValueError, match="4-D weight"):
        viz.plot_filters(model, layer="0")


def test_filters_with_other_input_counts_are_grey_means(tmp_path):
    layer = PointwiseConv(5, 3)
    fig = viz.plot_filters(layer)
    shown = [ax.get_images()[0] for ax in fig.axes if ax.get_images()]
    assert len(shown) == 3 and shown[0].get_array().shape == (1, 1)  # 1x1: a constant filter is mid-grey
    np.testing.assert_allclose(shown[0].get_array(), 0.5)


def test_lr_finder_curve(tmp_path):
    lrs = np.logspace(-5, 0, 50)
    losses = 2.3 - np.tanh(np.log10(lrs) + 3)
    fig = viz.plot_lr_finder(lrs, losses, suggested_lr=1.1e-3, path=tmp_path / "lr.png")
    assert_png(fig, tmp_path / "lr.png")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    marker = [line for line in ax.get_lines() if line.get_label().startswith("suggested")][0]
    nearest = np.argmin(np.abs(np.log(lrs) - np.log(1.1e-3)))
    assert marker.get_xdata()[0] == 1.1e-3 and marker.get_ydata()[0] == losses[nearest]
    with pytest.raises(ValueError, match="positive"):
        viz.plot_lr_finder([0.0, 0.1], [1.0, 2.0])
    with pytest.raises(ValueError, match="as many"):
        viz.plot_lr_finder([0.1, 0.2], [1.0])


# ---------------------------------------------------------------------- summary
def summary_rows(text):
    return [line.split() for line in text.splitlines() if re.match(r"\s+\w+-\d+\s", line)]


def test_summary_rows_and_totals(device):
    model = nn.Sequential(nn.Linear(12, 8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3)).to(device)
    model[3].bias.requires_grad_(False)
    printed = []
    text = viz.summary(model, (12,), device=device, print_fn=printed.append)
    assert printed == [text]
    assert summary_rows(text) == [["Linear-1", "[-1,", "8]", "104"], ["ReLU-2", "[-1,", "8]", "0"],
                                  ["Dropout-3", "[-1,", "8]", "0"], ["Linear-4", "[-1,", "3]", "27"]]
    total = sum(p.numel() for p in model.parameters())
    assert f"Total params: {total:,}" in text and total == 131
    assert "Trainable params: 128" in text and "Non-trainable params: 3" in text
    assert f"Params size (MB): {total * 4 / 2 ** 20:.2f}" in text
    assert "Layer (type)" in text and "Output Shape" in text and "Param #" in text
    batch_of_32 = viz.summary(model, (12,), device=device, batch_size=32, print_fn=None)
    assert summary_rows(batch_of_32)[3] == ["Linear-4", "[32,", "3]", "27"]
    outputs_per_sample = 8 + 8 + 8 + 3  # floats, each kept with its gradient
    assert f"Forward/backward pass size (MB): {32 * 2 * outputs_per_sample * 4 / 2 ** 20:.2f}" in batch_of_32


class Block(nn.Module):
    """A module with sub-modules and a parameter of its own, taking two inputs."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(mt.ones(5))
        self.left, self.right = nn.Linear(4, 5), nn.Linear(6, 5)

    def forward(self, a, b):
        return (self.left(a) + self.right(b)) * self.scale


def test_summary_counts_own_parameters_and_takes_several_inputs():
    model = Block()
    text = viz.summary(model, [(4,), (6,)], print_fn=None)
    rows = summary_rows(text)
    assert [r[0] for r in rows] == ["Linear-1", "Linear-2", "Block-3"]
    assert sum(int(r[-1].replace(",", "")) for r in rows) == sum(p.numel() for p in model.parameters()) == 65


def test_summary_restores_modes_and_hooks_even_on_error():
    model = nn.Sequential(nn.Linear(4, 3), nn.Dropout(0.5), nn.Linear(5, 2))  # 3 -> 5: the forward fails
    model[1].eval()
    mt.manual_seed(7)
    expected_next = mt.rand(3).numpy()
    mt.manual_seed(7)
    with pytest.raises(Exception) as error:
        viz.summary(model, (4,), print_fn=None)
    if sys.version_info >= (3, 11):
        assert "summary()" in "".join(error.value.__notes__)
    assert [m.training for m in model.modules()] == [True, True, False, True]
    assert all(not m._forward_hooks for m in model.modules())
    np.testing.assert_array_equal(mt.rand(3).numpy(), expected_next)  # the framework's generator was not used
    with pytest.raises(ValueError, match="input_shape"):
        viz.summary(model, (0, 4))


def test_summary_leaves_batch_norm_statistics_alone():
    model = nn.Sequential(PointwiseConv(3, 4), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2))
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    rows = summary_rows(viz.summary(model, (3, 8, 8), print_fn=None))
    assert rows == [["PointwiseConv-1", "[-1,", "4,", "8,", "8]", "12"],
                    ["BatchNorm2d-2", "[-1,", "4,", "8,", "8]", "8"],
                    ["ReLU-3", "[-1,", "4,", "8,", "8]", "0"],
                    ["MaxPool2d-4", "[-1,", "4,", "4,", "4]", "0"]]
    for key, value in model.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), before[key], err_msg=key)
    assert model[1].training


def cnn2(nn_module):
    """The write-up's CNN2 (conv-BN-ReLU-pool twice, then an MLP head), in either framework's nn."""
    return nn_module.Sequential(
        nn_module.Conv2d(3, 32, 3, padding=1), nn_module.BatchNorm2d(32), nn_module.ReLU(), nn_module.MaxPool2d(2),
        nn_module.Conv2d(32, 64, 3, padding=1), nn_module.BatchNorm2d(64), nn_module.ReLU(), nn_module.MaxPool2d(2),
        nn_module.Flatten(), nn_module.Linear(64 * 8 * 8, 256), nn_module.ReLU(), nn_module.Dropout(0.5),
        nn_module.Linear(256, 10))


def test_summary_matches_pytorch_layer_by_layer():
    torch = pytest.importorskip("torch")
    theirs, rows = cnn2(torch.nn), []

    def record(module, args, output):
        rows.append([f"{type(module).__name__}-{len(rows) + 1}", str([-1, *output.shape[1:]]),
                     f"{sum(p.numel() for p in module.parameters()):,}"])

    handles = [m.register_forward_hook(record) for m in theirs.modules() if not list(m.children())]
    with torch.no_grad():
        theirs.eval()(torch.zeros(2, 3, 32, 32))
    for handle in handles:
        handle.remove()
    text = viz.summary(cnn2(nn), (3, 32, 32), print_fn=None)
    assert [[r[0], " ".join(r[1:-1]), r[-1]] for r in summary_rows(text)] == rows
    assert rows[0] == ["Conv2d-1", "[-1, 32, 32, 32]", "896"]
    assert f"Total params: {sum(p.numel() for p in theirs.parameters()):,}" in text


# ---------------------------------------------------------------------- to_dot
DOT_NODE = re.compile(r'^  (\w+) \[label="((?:[^"\\]|\\.)*)", [^\]]*\];$')
DOT_EDGE = re.compile(r"^  (\w+) -> (\w+);$")


def parse_dot(text):
    """Check the DOT text's syntax line by line; return {node: label} and the edges in order."""
    lines = text.strip().splitlines()
    assert lines[0] == "digraph autograd {" and lines[-1] == "}"
    assert text.count("{") == text.count("}") == 1
    nodes, edges = {}, []
    for line in lines[2:-1]:
        node, edge = DOT_NODE.match(line), DOT_EDGE.match(line)
        assert node or edge, f"not a node or edge statement: {line!r}"
        if node:
            assert node.group(1) not in nodes
            nodes[node.group(1)] = node.group(2)
        else:
            assert edge.group(1) in nodes and edge.group(2) in nodes
            edges.append(edge.groups())
    return nodes, edges


def test_to_dot_draws_each_op_with_its_inputs():
    model = nn.Linear(3, 2)
    x = mt.randn(4, 3)
    hidden = model(x).relu()
    loss = (hidden * hidden + 2.0).sum()
    nodes, edges = parse_dot(viz.to_dot(loss, dict(model.named_parameters())))
    functions = {n: label.split("\\n")[0] for n, label in nodes.items() if n.startswith("f")}
    assert sorted(functions.values()) == ["Add", "Linear", "Mul", "ReLU", "Sum"]
    inputs = {f: [a for a, b in edges if b == f] for f in functions}
    outputs = {f: [b for a, b in edges if a == f] for f in functions}
    arity = {"Linear": 3, "ReLU": 1, "Mul": 2, "Add": 2, "Sum": 1}
    uses = {"Linear": 1, "ReLU": 2, "Mul": 1, "Add": 1, "Sum": 1}  # ReLU's output feeds Mul twice
    for f, label in functions.items():
        assert len(inputs[f]) == arity[label] and len(outputs[f]) == uses[label]
    by_label = {label: n for n, label in functions.items()}
    assert nodes[by_label["Linear"]] == "Linear\\n(4, 2)"
    assert [nodes[n] for n in inputs[by_label["Linear"]]] == ["constant", "weight\\n(2, 3)", "bias\\n(2,)"]
    assert inputs[by_label["Mul"]] == [by_label["ReLU"], by_label["ReLU"]]  # hidden, used twice
    assert nodes[inputs[by_label["Add"]][1]] == "constant"  # the number 2
    assert nodes[outputs[by_label["Sum"]][0]] == "()"
    loss.backward()
    with pytest.raises(RuntimeError, match="before backward"):
        viz.to_dot(loss)


class _Doubling(mt.Function):
    """A stand-in for an op that chooses between algorithms and says which it ran."""

    def forward(self, a, algorithm):
        self.algorithm = algorithm
        return a * 2

    def backward(self, grad):
        return grad * 2


def test_to_dot_names_the_algorithm_an_op_ran():
    x = mt.randn(2, 3, requires_grad=True)
    y = _Doubling.apply(_Doubling.apply(x, algorithm="im2col"), algorithm=None)
    nodes, _ = parse_dot(viz.to_dot(y))
    assert sorted(label for n, label in nodes.items() if n.startswith("f")) == [
        "_Doubling\\n(2, 3)", "_Doubling\\nim2col\\n(2, 3)"]


def test_to_dot_without_a_graph():
    with mt.no_grad():
        y = mt.randn(2, requires_grad=True) * 3
    nodes, edges = parse_dot(viz.to_dot(y))
    assert list(nodes.values()) == ["(2,)"] and edges == []
    with pytest.raises(TypeError, match="Tensor"):
        viz.to_dot(np.zeros(2))


def test_importing_the_framework_does_not_import_matplotlib():
    code = "import sys, minitorch_cifar as mt; mt.viz.summary, mt.viz.to_dot; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


def test_plots_gathers_the_curves_and_the_images_modules():
    from minitorch_cifar.viz import images
    assert plots.plot_history is curves.plot_history and plots.plot_feature_maps is images.plot_feature_maps
    assert all(getattr(viz, name) is getattr(plots, name) for name in plots.__all__ if hasattr(viz, name))


@pytest.mark.parametrize("epochs", [1, 2])
def test_a_short_run_is_readable_one_marked_point_per_epoch_on_whole_epoch_ticks(epochs):
    history = [{"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.3 * e, "val_loss": 2.2 / e, "val_acc": 0.25 * e}
               for e in range(1, epochs + 1)]
    for fig in (plots.plot_history(history), plots.plot_runs({"a": history, "b": history[:1]})):
        fig.canvas.draw()
        for ax in fig.axes:
            low, high = ax.get_xlim()
            assert low <= 0.5 and high >= epochs + 0.5  # the points sit inside the axis, not on its edge
            ticks = [t for t in ax.get_xticks() if low <= t <= high]
            assert ticks and all(float(t).is_integer() for t in ticks)
            lines = ax.get_lines()
            assert {line.get_marker() for line in lines} == {"o", "s"} and all(l.get_markersize() >= 6 for l in lines)
            assert len(ax.texts) == sum(len(line.get_xdata()) for line in lines)  # every point labelled
        plt.close(fig)
