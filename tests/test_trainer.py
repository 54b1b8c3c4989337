"""Trainer: learning, history and CSV, scheduler stepping, early stopping, the NaN stop, evaluation, resuming."""
import csv
import io
import math
import sys

import numpy as np
import pytest

import minitorch_cifar as mt
from minitorch_cifar import backend, nn, optim
from minitorch_cifar.train import NonFiniteLossError, Trainer, load_checkpoint, load_weights
from minitorch_cifar.train import trainer as trainer_module
from minitorch_cifar.train.trainer import HISTORY_KEYS
from training_helpers import ArrayLoader, blobs, mlp

STEPS = 8  # batches per training epoch


def task(n_train=STEPS * 32, n_val=96, classes=4):
    x, y = blobs(n=n_train + n_val, classes=classes)
    return ArrayLoader(x[:n_train], y[:n_train], 32, seed=1), ArrayLoader(x[n_train:], y[n_train:], 40, shuffle=False)


def sgd_trainer(model=None, lr=0.1, **options):
    model = model or mlp(dropout=0.2)
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    return Trainer(model, optimizer, nn.CrossEntropyLoss(), progress=False, **options)


def state_arrays(model):
    return {key: backend.to_device(t.array, "cpu").copy() for key, t in model.state_dict().items()}


def assert_same_arrays(a, b):
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def file_bytes(folder):
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_learns_and_writes_the_history_csv(tmp_path, device):
    train, val = task()
    seen = []
    trainer = sgd_trainer(device=device, out_dir=tmp_path, on_epoch_end=[lambda t, record: seen.append(record)])
    history = trainer.fit(train, val, epochs=3)

    assert [record["epoch"] for record in history] == [1, 2, 3] and seen == history and trainer.epoch == 3
    assert all(list(record) == list(HISTORY_KEYS) for record in history)
    assert history[-1]["val_acc"] > 0.8 and history[-1]["train_acc"] > 0.5  # chance is 0.25
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert all(record["lr"] == 0.1 and record["seconds"] > 0 for record in history)
    with open(trainer.metrics_path, newline="") as file:
        rows = list(csv.DictReader(file))
    assert [{key: float(value) for key, value in row.items()} for row in rows] == history
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.npz", "checkpoint.npz", "metrics.csv"]


def test_history_fits_the_plots_and_feeds_a_live_plot(tmp_path):
    plots = pytest.importorskip("minitorch_cifar.viz.plots")
    train, val = task()
    live = plots.LivePlot(tmp_path / "live.png")
    trainer = sgd_trainer(out_dir=tmp_path, on_epoch_end=[lambda t, record: live.update(t.history)])
    history = trainer.fit(train, epochs=2)
    live.close()
    assert (tmp_path / "live.png").stat().st_size > 0
    columns = plots.history_columns(trainer.metrics_path)
    np.testing.assert_array_equal(columns["train_loss"], [r["train_loss"] for r in history])
    assert np.isnan(columns["val_acc"]).all()  # no validation: empty cells


def test_model_modes_and_gradients_in_training_and_evaluation():
    train, val = task()
    calls = []

    class Probe(nn.Module):
        def forward(self, x):
            calls.append((self.training, mt.is_grad_enabled()))
            return x

    trainer = sgd_trainer(nn.Sequential(mlp(), Probe()))
    trainer.fit(train, val, epochs=1)
    assert calls == [(True, True)] * STEPS + [(False, False)] * len(val)
    assert trainer.model.training  # evaluate puts the previous mode back


def test_scheduler_stepped_per_epoch():
    train, _ = task()
    trainer = sgd_trainer()
    trainer.scheduler = optim.lr_scheduler.StepLR(trainer.optimizer, step_size=1, gamma=0.5)
    history = trainer.fit(train, epochs=3)
    assert [r["lr"] for r in history] == [0.1, 0.05, 0.025]
    assert trainer.optimizer.param_groups[0]["lr"] == 0.0125


def test_scheduler_stepped_per_step():
    train, _ = task()
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1 / (1 + step))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler, scheduler_step="step", progress=False)
    history = trainer.fit(train, epochs=3)
    assert [r["lr"] for r in history] == [0.1 / (1 + e * STEPS) for e in range(3)]
    assert scheduler.last_epoch == 3 * STEPS


def test_default_stepping_follows_the_scheduler():
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    one_cycle = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.5, epochs=2, steps_per_epoch=STEPS)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), one_cycle, progress=False)
    assert trainer.scheduler_step == "step"
    trainer.fit(task()[0], epochs=2)  # stepping past total_steps would raise
    assert one_cycle.last_epoch == 2 * STEPS
    cosine = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    assert Trainer(model, optimizer, nn.CrossEntropyLoss(), cosine, progress=False).scheduler_step == "epoch"
    with pytest.raises(ValueError, match="scheduler_step must be 'step' or 'epoch'"):
        Trainer(model, optimizer, nn.CrossEntropyLoss(), cosine, scheduler_step="batch")


def test_plateau_scheduler_gets_the_monitored_metric():
    train, val = task()
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    given = []

    class Recording(optim.lr_scheduler.ReduceLROnPlateau):
        def step(self, metrics):
            given.append(metrics)
            super().step(metrics)

    scheduler = Recording(optimizer, mode="min", patience=0, factor=0.5)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler, monitor="val_loss", progress=False)
    history = trainer.fit(train, val, epochs=3)
    assert given == [r["val_loss"] for r in history]
    with pytest.raises(ValueError, match="needs a val_loader"):
        trainer.fit(train, epochs=4)


class CountingBackend:
    """The backend module as the Trainer sees it, counting every copy of an array to the host (a GPU sync)."""

    def __init__(self):
        self.reads = 0

    def __getattr__(self, name):
        return getattr(backend, name)

    def to_device(self, array, device):
        self.reads += device == "cpu"
        return backend.to_device(array, device)


def test_the_device_is_read_every_sync_every_steps_and_once_per_evaluation(monkeypatch):
    from minitorch_cifar.train import trainer as trainer_module
    counting = CountingBackend()
    monkeypatch.setattr(trainer_module, "backend", counting)
    monkeypatch.setattr(mt.Tensor, "item", lambda self: pytest.fail("a per-step .item() syncs the GPU"))
    train, val = task()
    model = nn.Sequential(nn.Linear(8, 16), nn.BatchNorm1d(16, momentum=None), nn.ReLU(), nn.Linear(16, 4))
    trainer = sgd_trainer(model, sync_every=3)
    trainer.fit(train, val, epochs=2)
    # each epoch: after steps 3 and 6, at its end (step 8), then the evaluation's counts and loss sum
    assert counting.reads == 2 * (3 + 2)
    assert model[1].num_batches_tracked.numpy() == 2 * STEPS


def test_a_class_index_out_of_range_on_a_gpu_stops_training_at_the_next_read(monkeypatch):
    from minitorch_cifar.nn import functional as F
    monkeypatch.setattr(F, "_target_ranges", {})
    steps = []

    def loss_fn(output, target):
        steps.append(len(steps) + 1)
        F._track_target_range(np.array([0, 9]), 4, "cross_entropy")  # what the loss records on a GPU for label 9
        return F.cross_entropy(output, target)

    model = mlp()
    trainer = Trainer(model, optim.SGD(model.parameters(), lr=0.1), loss_fn, sync_every=3, progress=False)
    with pytest.raises(IndexError, match=r"cross_entropy: target holds class 9, outside 0\.\.3"):
        trainer.fit(task()[0], epochs=1)
    assert steps == [1, 2, 3]


class LabelsTurnRandom(ArrayLoader):
    """A validation loader whose labels are scrambled from its third pass on: the monitored metric gets worse
    while the weights keep changing, so the best epoch is early and restoring it is visible."""

    passes = 0

    def __iter__(self):
        self.passes += 1
        for x, y in super().__iter__():
            yield x, (mt.tensor(np.random.default_rng(self.passes).permutation(y.numpy())) if self.passes > 2 else y)


@pytest.mark.parametrize("monitor", ["val_loss", "val_acc"])
def test_early_stopping_stops_at_the_right_epoch_and_restores_the_best_weights(tmp_path, monitor):
    train, _ = task()
    x, y = blobs(n=STEPS * 32 + 96)
    val = LabelsTurnRandom(x[STEPS * 32:], y[STEPS * 32:], 48, shuffle=False)
    snapshots = {}
    trainer = sgd_trainer(patience=2, monitor=monitor, out_dir=tmp_path,
                          on_epoch_end=[lambda t, record: snapshots.setdefault(record["epoch"], state_arrays(t.model))])
    history = trainer.fit(train, val, epochs=20)

    values = [r[monitor] for r in history]
    best = 1 + (int(np.argmax(values)) if monitor == "val_acc" else int(np.argmin(values)))  # first best
    assert best <= 2 and trainer.best_epoch == best and trainer.best_value == values[best - 1]
    assert len(history) == best + 2
    assert_same_arrays(state_arrays(trainer.model), snapshots[best])
    assert any((snapshots[best][k] != snapshots[len(history)][k]).any() for k in snapshots[best])
    assert_same_arrays(state_arrays(load_weights(mlp(dropout=0.2), trainer.best_path)), snapshots[best])
    last = mlp(dropout=0.2)
    assert load_checkpoint(trainer.checkpoint_path, last)["epoch"] == len(history)  # the last epoch, to resume
    assert_same_arrays(state_arrays(last), snapshots[len(history)])


def test_monitor_and_patience_are_checked():
    train, _ = task()
    with pytest.raises(ValueError, match="monitor must be one of"):
        sgd_trainer(monitor="accuracy")
    with pytest.raises(ValueError, match="patience must be a positive"):
        sgd_trainer(patience=0)
    with pytest.raises(ValueError, match="monitor='val_acc' needs a val_loader"):
        sgd_trainer(patience=3).fit(train, epochs=2)
    history = sgd_trainer(patience=1, monitor="train_loss").fit(train, epochs=2)
    assert len(history) == 2


def nan_at(step, epoch):
    """Cross-entropy that returns NaN at training step ``step`` of epoch ``epoch`` (validation calls,
    made without gradients, are not counted)."""
    calls = [0]

    def loss_fn(output, target):
        loss = nn.functional.cross_entropy(output, target)
        if mt.is_grad_enabled():
            calls[0] += 1
            if calls[0] == (epoch - 1) * STEPS + step:
                return loss * math.nan
        return loss
    return loss_fn


@pytest.mark.parametrize("sync_every", [1, 3, 100])
def test_nan_loss_stops_naming_the_step_and_keeps_the_last_checkpoint(tmp_path, sync_every):
    train, val = task()
    trainer = sgd_trainer(out_dir=tmp_path, sync_every=sync_every)
    trainer.loss_fn = nan_at(step=5, epoch=2)
    trainer.fit(train, val, epochs=1)
    saved = file_bytes(tmp_path)
    with pytest.raises(NonFiniteLossError) as error:
        trainer.fit(train, val, epochs=3)
    assert (error.value.epoch, error.value.step) == (2, 5)
    message = str(error.value)
    assert "loss became nan at epoch 2, step 5" in message and "lower" in message
    assert str(trainer.checkpoint_path) in message and "(epoch 1), is intact" in message
    assert file_bytes(tmp_path) == saved and trainer.epoch == 1 and len(trainer.history) == 1


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_huge_learning_rate_stops_with_a_named_step(tmp_path):
    train, _ = task()
    trainer = sgd_trainer(lr=1e10, out_dir=tmp_path)
    with pytest.raises(NonFiniteLossError, match=r"at epoch 1, step \d+, so training stopped: the learning rate "
                                                 r"\(now 1e\+10\) is probably too high; try a lower one"):
        trainer.fit(train, epochs=2)
    assert not list(tmp_path.iterdir())


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_weights_that_blow_up_on_the_last_step_are_not_saved(tmp_path):
    train, _ = task()
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    last_step_of_epoch_2 = 2 * STEPS - 1  # LambdaLR's step count before that step
    scheduler = optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1e300 if s == last_step_of_epoch_2 else 1.0)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler, scheduler_step="step", out_dir=tmp_path,
                      progress=False)
    trainer.fit(train, epochs=1)
    saved = file_bytes(tmp_path)
    with pytest.raises(NonFiniteLossError, match="weights became NaN or infinite in the last step of epoch 2"):
        trainer.fit(train, epochs=3)
    assert file_bytes(tmp_path) == saved


def test_evaluate_equals_a_direct_computation(device):
    x, y = blobs(n=70, classes=5, seed=2)
    y[y == 3] = 4  # class 3 has no samples: its accuracy is NaN
    model = mlp(classes=5, dropout=0.5)
    trainer = sgd_trainer(model, device=device)
    trainer.fit(ArrayLoader(x, y, 16), epochs=1)
    result = trainer.evaluate(ArrayLoader(x, y, 16, shuffle=False))  # 70 = 4 * 16 + 6: a short last batch

    model.eval()
    with mt.no_grad():
        logits = model(mt.tensor(x, device=device))
        loss = nn.functional.cross_entropy(logits, mt.tensor(y, device=device)).item()
    predicted = logits.numpy().argmax(axis=1)
    confusion = np.zeros((5, 5), dtype=np.int64)
    for true, guess in zip(y, predicted):
        confusion[true, guess] += 1
    np.testing.assert_array_equal(result.confusion_matrix, confusion)
    for c in range(5):
        expected = np.mean(predicted[y == c] == c) if (y == c).any() else np.nan
        np.testing.assert_equal(result.per_class_acc[c], expected)
    assert result.acc == np.mean(predicted == y)
    assert result.loss == pytest.approx(loss, rel=1e-6)


def run(epochs, out_dir=None, resume=None, seed=0):
    """A run with dropout, a shuffling loader, momentum, a schedule and early-stopping state."""
    mt.manual_seed(seed)
    train, val = task()
    model = mlp(dropout=0.3)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-3)
    scheduler = optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=4)
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler, out_dir=out_dir, patience=10,
                      monitor="val_loss", progress=False)
    trainer.fit(train, val, epochs=epochs, resume=resume)
    return trainer


def test_resume_continues_exactly_like_an_uninterrupted_run(tmp_path):
    straight = run(epochs=4)
    random_after_straight = mt.rand(4).numpy()
    first_half = run(epochs=2, out_dir=tmp_path)
    resumed = run(epochs=4, resume=first_half.checkpoint_path, seed=123)  # other seed: the checkpoint decides
    random_after_resumed = mt.rand(4).numpy()

    without_time = [{k: v for k, v in r.items() if k != "seconds"} for r in straight.history]
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history] == without_time
    assert_same_arrays(state_arrays(resumed.model), state_arrays(straight.model))
    assert (resumed.best_epoch, resumed.best_value, resumed.bad_epochs) == \
        (straight.best_epoch, straight.best_value, straight.bad_epochs)
    assert resumed.scheduler.state_dict() == straight.scheduler.state_dict()
    np.testing.assert_array_equal(random_after_resumed, random_after_straight)


def test_resume_of_a_finished_run_does_nothing_more(tmp_path):
    trainer = run(epochs=2, out_dir=tmp_path)
    again = run(epochs=2, resume=trainer.checkpoint_path)
    assert again.history == trainer.history
    assert_same_arrays(state_arrays(again.model), state_arrays(trainer.model))


# ---------------------------------------------------------------------- a small CNN on CIFAR-format data
@pytest.fixture(scope="module")
def fake_cifar(tmp_path_factory):
    from minitorch_cifar import data
    root = data.write_fake_cifar10(tmp_path_factory.mktemp("cifar"), train_per_class=16, test_per_class=5)
    return data.CIFAR10(root, train=True, download=False), data.CIFAR10(root, train=False, download=False)


def cnn_run(fake_cifar, epochs, out_dir=None, resume=None, seed=0, device="cpu"):
    """A tiny CNN (conv, BatchNorm, pooling, dropout) with Adam and one-cycle steps, on shuffled, randomly
    cropped and flipped batches from the real DataLoader."""
    from minitorch_cifar.data import DataLoader, transforms
    mt.manual_seed(seed)
    train, test = fake_cifar
    normalize = transforms.Normalize(transforms.CIFAR10_MEAN, transforms.CIFAR10_STD)
    augment = transforms.Compose([transforms.RandomCrop(32, padding=4), transforms.RandomHorizontalFlip(), normalize])
    train_loader = DataLoader(train, batch_size=32, shuffle=True, transform=augment, device=device, seed=1)
    val_loader = DataLoader(test, batch_size=25, transform=normalize, device=device)
    model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(4),
                          nn.Flatten(), nn.Dropout(0.3), nn.Linear(8 * 8 * 8, 10))
    optimizer = optim.Adam(model.parameters(), lr=1e-3)
    scheduler = optim.lr_scheduler.OneCycleLR(optimizer, max_lr=0.02, epochs=4, steps_per_epoch=len(train_loader))
    trainer = Trainer(model, optimizer, nn.CrossEntropyLoss(), scheduler, device=device, out_dir=out_dir,
                      progress=False)
    trainer.fit(train_loader, val_loader, epochs=epochs, resume=resume)
    return trainer


def test_cnn_learns_fake_cifar(fake_cifar, device):
    trainer = cnn_run(fake_cifar, epochs=4, device=device)
    assert trainer.history[-1]["val_acc"] > 0.3  # chance is 0.1
    assert trainer.scheduler.last_epoch == 4 * 5  # 160 images in batches of 32, stepped per batch


def test_cnn_resume_with_augmenting_loader_equals_uninterrupted_run(fake_cifar, tmp_path, device):
    straight = cnn_run(fake_cifar, epochs=4, device=device)
    cnn_run(fake_cifar, epochs=2, out_dir=tmp_path, device=device)
    resumed = cnn_run(fake_cifar, epochs=4, resume=tmp_path / "checkpoint.npz", seed=5, device=device)
    assert [r["train_loss"] for r in resumed.history] == [r["train_loss"] for r in straight.history]
    assert [(r["val_loss"], r["lr"]) for r in resumed.history] == [(r["val_loss"], r["lr"]) for r in straight.history]
    assert_same_arrays(state_arrays(resumed.model), state_arrays(straight.model))


def test_each_epoch_prints_one_summary_line_bar_or_no_bar(capsys):
    train, val = task()
    sgd_trainer().fit(train, val, epochs=2)
    lines = capsys.readouterr().out.splitlines()
    epochs = [line for line in lines if line.startswith("epoch ")]
    assert len(epochs) == 2 and all(len(line) <= 80 for line in epochs)
    assert epochs[1].startswith("epoch 2/2  loss ") and "  val " in epochs[1] and "  lr 0.1  " in epochs[1]
    sgd_trainer(verbose=False).fit(train, epochs=1)
    assert capsys.readouterr().out == ""
    wide = {"epoch": 100, "train_loss": 12.3456, "train_acc": 0.5, "val_loss": 11.2345, "val_acc": 1.0,
            "lr": 0.00012345, "seconds": 12345.6}
    assert trainer_module.epoch_summary(wide, 100) == \
        "epoch 100/100  loss 12.35 acc 50.0%  val 11.23 100.0%  lr 0.00012  12346 s"


def test_the_bar_is_drawn_on_a_terminal_only(capsys, monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    train, _ = task()
    Trainer(mlp(), optim.SGD(mlp().parameters(), lr=0.1), nn.CrossEntropyLoss()).fit(train, epochs=1)
    assert "\r" not in capsys.readouterr().err  # stderr is captured, not a terminal: no bar
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    model = mlp()
    Trainer(model, optim.SGD(model.parameters(), lr=0.1), nn.CrossEntropyLoss()).fit(train, epochs=1)
    assert "epoch 1/1" in terminal.getvalue() and f"{STEPS}/{STEPS}" in terminal.getvalue()


def test_a_cold_kernel_cache_is_announced_before_the_first_batch(tmp_path, capsys, monkeypatch):
    train, _ = task()
    if not mt.kernels.switch.reference():
        assert trainer_module._kernel_cache_index_files()  # the check looks at numba's real cache files
    trainer = sgd_trainer()
    trainer.fit(train, epochs=1)  # the suite has compiled the kernels already: nothing to announce
    assert "compiling" not in capsys.readouterr().out
    monkeypatch.setattr(trainer_module, "_kernel_cache_index_files", lambda: [str(tmp_path / "none.nbi")])
    trainer.fit(train, epochs=2)
    printed = capsys.readouterr().out.splitlines()
    if mt.kernels.switch.reference():  # no numba kernels run, nothing to compile
        assert not any("compiling" in line for line in printed)
    else:
        assert printed[0] == "compiling kernels (first run only): the first batches take up to a minute longer"
        assert printed[1].startswith("epoch 2/2")
    with mt.use_kernels("reference"):
        sgd_trainer().fit(train, epochs=1)
    assert "compiling" not in capsys.readouterr().out
