"""The learning-rate range test: ramps, smoothing, divergence stop, exact restore, suggestion, plot."""
import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend, nn, optim
from minitorch_cifar.train import lr_find
from minitorch_cifar.train.lr_finder import steepest_descent
from training_helpers import ArrayLoader, blobs


def classifier():
    return nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 4))


def arrays(state):
    """Every array in a (model or optimizer) state dict, by path, copied to the host."""
    if isinstance(state, mt.Tensor):
        return {"": backend.to_device(state.array, "cpu").copy()}
    if isinstance(state, dict):
        return {f"{key}/{path}": a for key, value in state.items() for path, a in arrays(value).items()}
    if isinstance(state, list):
        return {f"{i}/{path}": a for i, value in enumerate(state) for path, a in arrays(value).items()}
    return {"": state}


def assert_same(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


@pytest.mark.parametrize("make_optimizer", [lambda p: optim.SGD(p, lr=0.01, momentum=0.9, nesterov=True),
                                            lambda p: optim.Adam(p, lr=1e-3)])
def test_restores_model_and_optimizer_exactly(device, make_optimizer):
    model = classifier().to(device)
    optimizer = make_optimizer(model.parameters())
    x, y = blobs(n=64)
    loader = ArrayLoader(x, y, 16)
    for inputs, labels in loader:  # some optimizer state to keep
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(inputs.to(device)), labels.to(device)).backward()
        optimizer.step()
    model.eval()
    before_model, before_optimizer = arrays(model.state_dict()), arrays(optimizer.state_dict())

    result = lr_find(model, optimizer, nn.CrossEntropyLoss(), loader, start_lr=1e-4, end_lr=1.0, num_iter=20)

    assert len(result.lrs) == 20 and result.raw_losses[0] != result.raw_losses[-1]  # it did train
    assert_same(arrays(model.state_dict()), before_model)
    assert_same(arrays(optimizer.state_dict()), before_optimizer)
    assert not model.training and all(p.grad is None for p in model.parameters())
    assert all(t.device == backend.parse_device(device) for t in model.state_dict().values())


@pytest.mark.parametrize("step_mode", ["exp", "linear"])
def test_ramp_and_smoothing_follow_their_formulas(step_mode):
    x, y = blobs(n=64)
    model = classifier()
    result = lr_find(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), ArrayLoader(x, y, 16),
                     start_lr=1e-5, end_lr=1e-2, num_iter=25, step_mode=step_mode, smooth=0.1)
    assert not result.diverged and len(result.lrs) == 25  # a loader of 4 batches, cycled
    expected = np.geomspace(1e-5, 1e-2, 25) if step_mode == "exp" else np.linspace(1e-5, 1e-2, 25)
    np.testing.assert_allclose(result.lrs, expected, rtol=1e-12)
    average, smoothed = 0.0, []
    for i, loss in enumerate(result.raw_losses):
        average = 0.9 * average + 0.1 * loss
        smoothed.append(average / (1 - 0.9 ** (i + 1)))
    np.testing.assert_allclose(result.losses, smoothed, rtol=1e-12)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_stops_when_the_loss_diverges():
    x, y = blobs(n=64)
    model = classifier()
    result = lr_find(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), ArrayLoader(x, y, 16),
                     start_lr=1e-3, end_lr=1e8, num_iter=100, diverge=4.0)
    assert result.diverged and len(result.lrs) < 100
    losses = result.losses
    assert not losses[-1] <= 4 * min(losses)  # the last point broke the limit (or was not finite) ...
    assert all(losses[i] <= 4 * min(losses[:i + 1]) for i in range(len(losses) - 1))  # ... and none before it


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_losses_are_read_every_sync_every_steps_and_the_curve_is_the_same(monkeypatch):
    from minitorch_cifar.train import lr_finder
    reads = []
    monkeypatch.setattr(lr_finder, "backend", CountingBackend(reads))
    x, y = blobs(n=64)
    curves = []
    for sync_every in (1, 7):
        mt.manual_seed(0)
        model = classifier()
        curves.append(lr_find(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(),
                              ArrayLoader(x, y, 16), start_lr=1e-3, end_lr=1e8, num_iter=100, diverge=4.0,
                              sync_every=sync_every))
        reads.append("done")
    per_step, batched = curves
    assert per_step.diverged and (batched.lrs, batched.raw_losses) == (per_step.lrs, per_step.raw_losses)
    np.testing.assert_array_equal(batched.losses, per_step.losses)
    steps = len(per_step.lrs)
    assert reads == ["cpu"] * steps + ["done"] + ["cpu"] * -(-steps // 7) + ["done"]


class CountingBackend:
    """The backend module as a module under test sees it, recording every copy of an array to the host."""

    def __init__(self, reads):
        self.reads = reads

    def __getattr__(self, name):
        return getattr(backend, name)

    def to_device(self, array, device):
        if device == "cpu":
            self.reads.append(device)
        return backend.to_device(array, device)


def test_suggests_a_sensible_rate_on_linear_regression():
    """For the mean squared error of a linear model, SGD converges for lr < 2 / (largest eigenvalue of the
    Hessian 2 X^T X / n); the suggestion must lie well inside that range but not be uselessly small."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 8)).astype(np.float32)
    y = (x @ rng.standard_normal((8, 1)) + 0.1 * rng.standard_normal((512, 1))).astype(np.float32)
    limit = 2 / np.linalg.eigvalsh(2 * x.T.astype(np.float64) @ x / len(x)).max()
    model = nn.Linear(8, 1)
    result = lr_find(model, optim.SGD(model.parameters(), lr=0.1), nn.MSELoss(), ArrayLoader(x, y, 64),
                     start_lr=1e-5, end_lr=10.0, num_iter=100)
    assert result.diverged and result.lrs[-1] > limit / 2
    assert limit / 100 < result.suggested_lr < limit


def test_steepest_descent_skips_the_ends():
    lrs = np.geomspace(1e-4, 1, 30)
    losses = np.ones(30)
    losses[2] = 0.0           # a steep drop in the noisy start: skipped
    losses[20:] = 0.5         # the real drop, between points 19 and 20
    losses[-1] = -5.0         # a steep drop at the very end: skipped
    assert steepest_descent(lrs, losses) in (lrs[19], lrs[20])
    assert steepest_descent(lrs, losses, skip_start=0, skip_end=0) in (lrs[2], lrs[28], lrs[29])
    assert steepest_descent(lrs[:17], losses[:17]) is None  # 2 points between the ends: too short for a slope
    assert steepest_descent(lrs[:5], losses[:5] - np.arange(5)) is None  # never the noisy start's guess
    assert steepest_descent(lrs[:5], losses[:5] - np.arange(5), skip_start=0, skip_end=0) is not None


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from PIL import Image
    import matplotlib.pyplot as plt

    x, y = blobs(n=64)
    model = classifier()
    result = lr_find(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss(), ArrayLoader(x, y, 16),
                     start_lr=1e-4, end_lr=1.0, num_iter=30)
    fig = result.plot(tmp_path / "lr.png")
    with Image.open(tmp_path / "lr.png") as image:
        assert image.format == "PNG" and image.size == (800, 500)
    line = fig.axes[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), result.lrs[10:-5])  # the noisy ends are left out
    plt.close(fig)


def test_bad_arguments_are_named():
    model = classifier()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    loader = ArrayLoader(*blobs(n=16), 8)
    with pytest.raises(ValueError, match="step_mode='cos': choose 'exp' or 'linear'"):
        lr_find(model, optimizer, nn.CrossEntropyLoss(), loader, step_mode="cos")
    with pytest.raises(ValueError, match="start_lr=1, end_lr=0.1: the rate must grow"):
        lr_find(model, optimizer, nn.CrossEntropyLoss(), loader, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ValueError, match="num_iter=0: the test needs at least 2 iterations"):
        lr_find(model, optimizer, nn.CrossEntropyLoss(), loader, num_iter=0)
    with pytest.raises(ValueError, match="the loader gave no batches"):
        lr_find(model, optimizer, nn.CrossEntropyLoss(), [], num_iter=5)
