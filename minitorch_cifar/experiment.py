"""Training runs described by one ``RunConfig``: the layer the command line and every example script call.

    from minitorch_cifar.experiment import RunConfig, run
    result = run(RunConfig(model="cnn2", epochs=50, optimizer="adam", lr=1e-3, weight_decay=5e-4, out="runs/cnn2"))
    print(format_evaluation(result.test, result.classes))

``Experiment(config)`` builds the pieces (data, loaders, model, optimizer, scheduler, loss, Trainer) for a script
that wants them one by one; ``Experiment.run()`` (or ``run(config)``) trains, tests and writes the run folder
``config.out``:

    run.json            the configuration, the data and model used, and the results: written when the run starts
                        (status 'running'), and again when it ends ('finished', 'diverged', 'interrupted')
    metrics.csv         the history, one row per epoch
    curves.png          loss and accuracy curves, redrawn after every epoch
    checkpoint.npz      everything needed to resume (``resume=`` / ``--resume``), written every epoch
    best.npz            the weights of the best epoch by ``monitor`` (when there is validation)
    final.npz           the weights when training ended: those the test accuracy was measured with
    per_class.png, confusion.png    the test results per class

Validation after each epoch uses ``val_split`` of the training images when set, else the test images, as the
original write-ups did (their curves are train against test); ``validate=False`` skips it.

The scripts under examples/ share their command line through ``script_parser`` and ``script_config`` (a recipe
with --device, --data-dir, --epochs, --out and --quick applied), run through ``run_and_report`` and overlay runs
with ``plot_run_folders``.
"""
import argparse
import dataclasses
import json
import math
import platform
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__, backend, models, nn, optim
from .autograd import no_grad
from .data import CIFAR10, ArrayDataset, DataLoader, train_val_split, transforms
from .train import Trainer, load_weights, lr_find, save_weights
from .train.checkpoint import atomic_write, rng_state, set_rng_state

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "cosine", "onecycle", "step", "piecewise")
NORMALIZATIONS = {"cifar10": (transforms.CIFAR10_MEAN, transforms.CIFAR10_STD),  # the training set's statistics
                  "half": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),                      # to [-1, 1], as the tutorials
                  "none": None}                                                    # [0, 1]
MONITORS = ("val_acc", "val_loss", "train_acc", "train_loss")
FILES = {"run": "run.json", "metrics": "metrics.csv", "curves": "curves.png", "checkpoint": "checkpoint.npz",
         "best": "best.npz", "final": "final.npz", "per_class": "per_class.png", "confusion": "confusion.png"}
TEST_SUBSET_SEED = 0  # test_subset draws the same images whatever the run's seed, so runs compare


class ConfigError(ValueError):
    """A run configuration that cannot work (the message names the field and the fix), or a missing run.json."""


@dataclasses.dataclass
class RunConfig:
    """Everything that defines one CIFAR-10 training run; ``check()`` checks it, ``to_dict``/``from_dict``
    round-trip it through JSON. Field names are the command line's flags (``batch_size`` is ``--batch-size``)."""
    model: str = "cnn2"              # a name from models.list_models()
    epochs: int = 10
    batch_size: int = 128
    # optimizer: SGD (momentum, nesterov), Adam or AdamW, all with this weight decay
    optimizer: str = "sgd"
    lr: float = 0.01                 # the peak rate for 'onecycle' and 'piecewise'
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float = 0.0
    # learning-rate schedule: 'cosine' (to 0 over the epochs, per epoch), 'step' (x gamma every step_size epochs),
    # 'onecycle' (per batch), 'piecewise' (per batch: linear from 0 to lr at warmup_epochs, then to 0 at the end)
    scheduler: str = "none"
    step_size: int = 10
    gamma: float = 0.1
    warmup_epochs: float = 5.0
    # data: augmentation (random crop after padding, horizontal flip), then normalisation, then cutout
    augment: bool = False
    crop_padding: int = 4
    padding_mode: str = "constant"   # or 'reflect'
    cutout: int = 0                  # side of the zeroed square; 0 = none
    normalize: str = "cifar10"       # a key of NORMALIZATIONS
    train_subset: int | None = None  # train on the first N training images
    test_subset: int | None = None   # test on N test images drawn at random (always the same N)
    val_split: float = 0.0           # hold out this fraction (or, >= 1, this count) of the training images
    validate: bool = True            # validate after every epoch (on val_split, else on the test images)
    drop_last: bool = False
    data_dir: str | None = None      # CIFAR-10's folder; None: $MINITORCH_CIFAR_DATA, else ./data
    download: bool = True            # download CIFAR-10 into data_dir when it is not there
    # loss, initialisation, early stopping
    label_smoothing: float = 0.0
    init: str = "default"            # a scheme of models.INIT_SCHEMES
    patience: int | None = None      # stop after this many epochs without improvement of `monitor`
    monitor: str = "val_acc"
    eval_batch_size: int = 500
    # where
    device: str = "cpu"
    seed: int = 0
    out: str | None = None           # the run folder; None writes nothing
    progress: bool = True            # progress bars

    def check(self):
        """Raise ConfigError naming the first field whose value cannot work; returns the config."""
        def need(ok, field, problem):
            if not ok:
                raise ConfigError(f"{field}={getattr(self, field)!r}: {problem}")

        def positive_int(field):
            value = getattr(self, field)
            need(isinstance(value, int) and not isinstance(value, bool) and value >= 1, field,
                 "must be a positive integer")

        def number(field, low, high=math.inf, low_open=False):
            value = getattr(self, field)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            need(ok and (value > low if low_open else value >= low) and value < high, field,
                 f"must be a number in {'(' if low_open else '['}{low}, {high})")

        need(self.model in models.list_models(), "model", f"unknown model; known: {', '.join(models.list_models())}")
        for field in ("epochs", "batch_size", "eval_batch_size", "step_size"):
            positive_int(field)
        need(self.optimizer in OPTIMIZERS, "optimizer", f"choose one of {', '.join(OPTIMIZERS)}")
        number("lr", 0, low_open=True)
        number("momentum", 0, 1)
        number("weight_decay", 0)
        need(not self.nesterov or (self.optimizer == "sgd" and self.momentum > 0), "nesterov",
             "Nesterov momentum needs optimizer='sgd' and a momentum above 0")
        need(self.scheduler in SCHEDULERS, "scheduler", f"choose one of {', '.join(SCHEDULERS)}")
        number("gamma", 0, low_open=True)
        if self.scheduler == "piecewise":
            number("warmup_epochs", 0, self.epochs, low_open=True)
        for field in ("crop_padding", "cutout"):
            need(isinstance(getattr(self, field), int) and getattr(self, field) >= 0, field,
                 "must be an integer >= 0")
        need(self.padding_mode in ("constant", "reflect"), "padding_mode", "choose 'constant' or 'reflect'")
        need(self.normalize in NORMALIZATIONS, "normalize", f"choose one of {', '.join(NORMALIZATIONS)}")
        for field in ("train_subset", "test_subset"):
            if getattr(self, field) is not None:
                positive_int(field)
        need(isinstance(self.val_split, (int, float)) and not isinstance(self.val_split, bool) and
             (0 <= self.val_split < 1 or float(self.val_split).is_integer()), "val_split",
             "must be a fraction in [0, 1) or a whole number of images")
        number("label_smoothing", 0, 1)
        need(self.init in models.INIT_SCHEMES, "init", f"choose one of {', '.join(models.INIT_SCHEMES)}")
        if self.patience is not None:
            positive_int("patience")
        need(self.monitor in MONITORS, "monitor", f"choose one of {', '.join(MONITORS)}")
        need(self.validate or not self.monitor.startswith("val") or self.patience is None, "patience",
             f"early stopping on {self.monitor} needs validation: drop validate=False, or monitor 'train_loss'")
        try:
            device = backend.parse_device(self.device)
        except backend.DeviceError as e:
            raise ConfigError(f"device={self.device!r}: {e}") from None
        need(device == "cpu" or backend.cuda_is_available(), "device",
             "no CUDA GPU is usable here (it needs CuPy and an NVIDIA GPU: pip install 'minitorch_cifar[cuda12]'); "
             "use device 'cpu'")
        return self

    def to_dict(self):
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values):
        """A RunConfig from ``to_dict()``'s output (e.g. run.json's "config"); unknown keys are refused."""
        unknown = sorted(set(values) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ConfigError(f"unknown run configuration field(s) {', '.join(unknown)}")
        return cls(**values)

    def quick(self):
        """The same run shrunk to a smoke test: one epoch on at most 128 training images in batches of at most
        32, tested on at most 100 images, the schedule squeezed to fit (for examples' ``--quick``)."""
        return dataclasses.replace(
            self, epochs=1, batch_size=min(self.batch_size, 32), train_subset=min(self.train_subset or 128, 128),
            test_subset=min(self.test_subset or 100, 100), warmup_epochs=self.warmup_epochs / self.epochs,
            step_size=1, val_split=self.val_split if self.val_split < 1 else min(self.val_split, 16))


# ---------------------------------------------------------------------- data
@dataclasses.dataclass
class Datasets:
    """The images of a run: ``train`` (None when only testing), ``val`` (None without val_split), ``test``;
    ``classes`` names the labels; ``folder`` is where they were read from."""
    train: ArrayDataset | None
    val: ArrayDataset | None
    test: ArrayDataset
    classes: list
    folder: str


def load_data(config, train=True):
    """Read CIFAR-10 from ``config.data_dir`` and cut it as the config says: the first ``train_subset`` training
    images, of which ``val_split`` are held out (drawn with the run's seed), and ``test_subset`` test images
    (drawn with a fixed seed). ``train=False`` reads the test images alone."""
    test = CIFAR10(config.data_dir, train=False, download=config.download)
    folder, classes = str(Path(test.folder).resolve()), test.classes
    if config.test_subset is not None:
        _check_count(config, "test_subset", len(test), f"test images in {folder}")
        test = _subset(test, np.sort(np.random.default_rng(TEST_SUBSET_SEED).permutation(len(test))
                                     [:config.test_subset]))
    if not train:
        return Datasets(None, None, test, classes, folder)
    train_set = CIFAR10(config.data_dir, train=True, download=config.download)
    if config.train_subset is not None:
        _check_count(config, "train_subset", len(train_set), f"training images in {folder}")
        train_set = _subset(train_set, np.arange(config.train_subset))
    val = None
    if config.val_split:
        size = int(config.val_split) if config.val_split >= 1 else float(config.val_split)
        try:
            train_set, val = train_val_split(train_set, size, seed=config.seed)
        except ValueError as e:
            raise ConfigError(f"val_split={config.val_split!r}: {e}") from None
    return Datasets(train_set, val, test, classes, folder)


def _check_count(config, field, available, what):
    if getattr(config, field) > available:
        raise ConfigError(f"{field}={getattr(config, field)}: there are only {available} {what}")


def _subset(dataset, index):
    return ArrayDataset(dataset.data[index], dataset.targets[index], dataset.classes)


@dataclasses.dataclass
class Loaders:
    """``train`` (shuffled, augmented; None when only testing), ``val`` (the per-epoch validation: the held-out
    split, else the test loader itself, None when ``validate`` is off) and ``test``."""
    train: DataLoader | None
    val: DataLoader | None
    test: DataLoader


def build_transforms(config):
    """(training transform, evaluation transform): [random crop + flip] -> normalise -> [cutout], and normalise.
    Cropping and flipping work on the uint8 images; cutout zeroes normalised pixels (the mean colour), as in
    the DAWNBench recipe."""
    statistics = NORMALIZATIONS[config.normalize]
    scale = transforms.Normalize(*statistics) if statistics else transforms.ToFloat()
    augment = [transforms.RandomCrop(32, padding=config.crop_padding, padding_mode=config.padding_mode),
               transforms.RandomHorizontalFlip()] if config.augment else []
    cutout = [transforms.Cutout(config.cutout)] if config.cutout else []
    return transforms.Compose([*augment, scale, *cutout]), scale


def build_loaders(config, data):
    """The DataLoaders of ``data`` on ``config.device``; the training loader's shuffling and augmentation draw
    from its own generator seeded with ``config.seed``."""
    if data.train is not None and config.drop_last and len(data.train) < config.batch_size:
        raise ConfigError(f"drop_last=True: batches of {config.batch_size} leave none of the {len(data.train)} "
                          f"training images; lower batch_size or keep the last batch")
    train = None if data.train is None else DataLoader(
        data.train, batch_size=config.batch_size, shuffle=True, drop_last=config.drop_last,
        transform=build_transforms(config)[0], device=config.device, seed=config.seed)
    test = evaluation_loader(config, data.test)
    val = None if not config.validate else test if data.val is None else evaluation_loader(config, data.val)
    return Loaders(train, val, test)


def evaluation_loader(config, dataset):
    """The images of ``dataset`` in order, in batches of ``eval_batch_size``, normalised and not augmented."""
    return DataLoader(dataset, batch_size=config.eval_batch_size, transform=build_transforms(config)[1],
                      device=config.device)


# ---------------------------------------------------------------------- model, optimizer, schedule, loss
def build_model(config, num_classes=10):
    """The zoo model ``config.model``, initialised by ``config.init``, on ``config.device`` (seed first for a
    repeatable initialisation: ``Experiment`` does)."""
    model = models.get_model(config.model, num_classes=num_classes)
    return models.init_weights(model, config.init).to(config.device)


def build_optimizer(config, parameters):
    if config.optimizer == "sgd":
        return optim.SGD(parameters, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay,
                         nesterov=config.nesterov)
    adam = optim.Adam if config.optimizer == "adam" else optim.AdamW
    return adam(parameters, lr=config.lr, weight_decay=config.weight_decay)


class PiecewiseLinear:
    """A LambdaLR factor linear between knots ``(epochs[i], factors[i])``, of a step counter: step k is at epoch
    ``k / steps_per_epoch``. Its attributes are plain numbers, so checkpoints save and restore it."""

    def __init__(self, epochs, factors, steps_per_epoch):
        self.epochs, self.factors = [float(e) for e in epochs], [float(f) for f in factors]
        self.steps_per_epoch = int(steps_per_epoch)

    def __call__(self, step):
        return float(np.interp(step / self.steps_per_epoch, self.epochs, self.factors))


def build_scheduler(config, optimizer, steps_per_epoch):
    """(scheduler or None, 'step' or 'epoch': whether the Trainer steps it after every batch or every epoch)."""
    lr_scheduler = optim.lr_scheduler
    if config.scheduler == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs), "epoch"
    if config.scheduler == "step":
        return lr_scheduler.StepLR(optimizer, step_size=config.step_size, gamma=config.gamma), "epoch"
    if config.scheduler == "onecycle":
        return lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, epochs=config.epochs,
                                       steps_per_epoch=steps_per_epoch), "step"
    if config.scheduler == "piecewise":  # DAWNBench: 0 -> lr at warmup_epochs -> 0 at the last step
        shape = PiecewiseLinear([0, config.warmup_epochs, config.epochs], [0, 1, 0], steps_per_epoch)
        return lr_scheduler.LambdaLR(optimizer, shape), "step"
    return None, "epoch"


def build_loss(config):
    return nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)


# ---------------------------------------------------------------------- one run
@dataclasses.dataclass
class RunResult:
    """What ``run`` returns. ``test`` is measured on the test images with the final weights (the best ones when
    early stopping restored them); ``seconds`` sums the epochs' training time (resumed epochs included);
    ``files`` maps the keys of FILES to the paths written (empty without ``out``)."""
    config: RunConfig
    classes: list
    history: list
    test: object  # train.Evaluation: loss, acc, per_class_acc, confusion_matrix
    best_epoch: int | None
    stopped_early: bool
    seconds: float
    files: dict


class Experiment:
    """The pieces of one run, built from ``config`` (validated first): ``data`` (Datasets), ``loaders`` (Loaders),
    ``model``, ``optimizer``, ``scheduler``, ``loss_fn`` and ``trainer``. The framework is seeded with
    ``config.seed`` before the model is made, so one config always starts from the same weights. Pass ``data``
    (from ``load_data`` with the same data fields) to share the images between runs."""

    def __init__(self, config, data=None):
        self.config = config.check()
        self.data = data if data is not None else load_data(config)
        backend.manual_seed(config.seed)
        self.model = build_model(config, len(self.data.classes))
        self.optimizer = build_optimizer(config, self.model.parameters())
        self.loaders = build_loaders(config, self.data)
        self.scheduler, scheduler_step = build_scheduler(config, self.optimizer, len(self.loaders.train))
        self.loss_fn = build_loss(config)
        self.out = None if config.out is None else Path(config.out)
        self.trainer = Trainer(self.model, self.optimizer, self.loss_fn, self.scheduler, device=config.device,
                               scheduler_step=scheduler_step, out_dir=self.out, patience=config.patience,
                               monitor=config.monitor, progress=config.progress,
                               on_epoch_end=[self._draw_curves] if self.out else [])

    @property
    def validation(self):
        """What each epoch is validated on: 'test images', 'held-out images' or 'none'."""
        if self.loaders.val is None:
            return "none"
        return "held-out images" if self.data.val is not None else "test images"

    def path(self, key):
        """The path of one of the run folder's FILES (None without ``out``)."""
        return None if self.out is None else self.out / FILES[key]

    def describe(self):
        """Three lines on what runs: the model, its size and device; the data; the optimizer."""
        c, d = self.config, self.data
        parameters = sum(p.numel() for p in self.model.parameters())
        validation = f"{len(d.val):,} {self.validation}" if self.validation == "held-out images" else self.validation
        schedule = "" if c.scheduler == "none" else f", {c.scheduler} schedule"
        return (f"{c.model} ({parameters:,} parameters) on {c.device}, seed {c.seed}: {c.epochs} epoch(s) of "
                f"{len(self.loaders.train)} batches of {c.batch_size}\n"
                f"data: {len(d.train):,} training images{' (augmented)' if c.augment else ''}, validation on "
                f"{validation}, {len(d.test):,} test images, from {d.folder}\n"
                f"optimizer: {c.optimizer} lr {c.lr:g}{f' momentum {c.momentum:g}' if c.momentum else ''}"
                f"{' (nesterov)' if c.nesterov else ''}, weight decay {c.weight_decay:g}{schedule}")

    def fit(self, resume=None):
        """Train up to ``config.epochs`` (continuing from the checkpoint ``resume``); returns the history."""
        return self.trainer.fit(self.loaders.train, self.loaders.val, self.config.epochs, resume=resume)

    def test(self):
        """Loss, accuracy, per-class accuracy and confusion matrix of the model on the test images."""
        return self.trainer.evaluate(self.loaders.test)

    def evaluate(self, dataset):
        """``test()`` on other images: ``dataset`` (e.g. ``self.data.train``, the training images without their
        augmentation, for the accuracy on the training set that the write-ups print beside the test one)."""
        return self.trainer.evaluate(evaluation_loader(self.config, dataset))

    def predict(self, images):
        """The class the model predicts (NumPy int64) for each of ``images``: uint8 (N, 3, H, W), as in
        ``self.data.test.data``, normalised as in training; in eval mode, without gradients."""
        dataset = ArrayDataset(images, np.zeros(len(images), dtype=np.int64))
        was_training = self.model.training
        self.model.eval()
        try:
            with no_grad():
                batches = [self.model(x).array.argmax(axis=1) for x, _ in evaluation_loader(self.config, dataset)]
        finally:
            self.model.train(was_training)
        return np.concatenate([backend.to_device(b, "cpu") for b in batches]).astype(np.int64)

    def run(self, resume=None):
        """``fit``, then ``test``, writing the run folder (see the module docstring); returns a RunResult.
        If training fails (a diverging loss, Ctrl-C) run.json says so and the error propagates."""
        record = self._record(resume)
        self._write_record(record)
        try:
            history = self.fit(resume)
        except BaseException as error:
            record.update(status=_failure_status(error), error=f"{type(error).__name__}: {error}")
            self._write_record(record)
            raise
        evaluation = self.test()
        result = RunResult(self.config, list(self.data.classes), history, evaluation, self.trainer.best_epoch,
                           self.trainer.epoch < self.config.epochs,
                           sum(r["seconds"] for r in history), {})
        if self.out is not None:
            save_weights(self.model, self.path("final"))
            self._draw_curves()
            self._draw_results(evaluation)
            record.update(status="finished", finished=_now(), results=_results(result))
            self._write_record(record)
            result.files = {key: str(self.path(key)) for key in FILES if self.path(key).exists()}
        return result

    def find_lr(self, start_lr=1e-7, end_lr=10.0, num_iter=100, step_mode="exp", **options):
        """The learning-rate range test (``train.lr_find``) on the training loader with a fresh optimizer of this
        config. Nothing is changed by it: the model, the loader's shuffling and the framework's (CPU) random
        generator are put back. With ``out``, the plot goes to lr_find.png and the curve to lr_find.csv.
        Returns the LRFinderResult (``suggested_lr``, ``lrs``, ``losses``)."""
        loader_state, rng = self.loaders.train.state_dict(), rng_state()
        try:
            result = lr_find(self.model, build_optimizer(self.config, self.model.parameters()), self.loss_fn,
                             self.loaders.train, start_lr, end_lr, num_iter, step_mode, device=self.config.device,
                             **options)
        finally:
            self.loaders.train.load_state_dict(loader_state)
            set_rng_state(rng)
        if self.out is not None:
            _close(result.plot(self.out / "lr_find.png", title=f"learning-rate range test: {self.config.model}"))
            with atomic_write(self.out / "lr_find.csv", text=True) as file:
                file.write("lr,loss,raw_loss\n")
                file.writelines(f"{lr!r},{loss!r},{raw!r}\n"
                                for lr, loss, raw in zip(result.lrs, result.losses, result.raw_losses))
        return result

    # ------------------------------------------------------------------ the run folder
    def _record(self, resume):
        c, d = self.config, self.data
        return {"status": "running", "config": c.to_dict(),
                "model": {"name": c.model, "parameters": sum(p.numel() for p in self.model.parameters())},
                "data": {"folder": d.folder, "classes": list(d.classes), "train_images": len(d.train),
                         "val_images": 0 if d.val is None else len(d.val), "test_images": len(d.test),
                         "validation": self.validation},
                "environment": {"minitorch_cifar": __version__, "python": platform.python_version(),
                                "numpy": np.__version__, "machine": platform.platform()},
                "started": _now(),
                "resumed_from": None if resume is None else str(resume), "results": None}

    def _write_record(self, record):
        if self.out is not None:
            with atomic_write(self.path("run"), text=True) as file:
                json.dump(_finite(record), file, indent=2)
                file.write("\n")

    def _draw_curves(self, trainer=None, record=None):
        from .viz import plots
        _close(plots.plot_history(self.trainer.history, path=self.path("curves"),
                                  title=f"{self.config.model}: loss and accuracy" +
                                  (" (val: the test images)" if self.validation == "test images" else "")))

    def _draw_results(self, evaluation):
        from .viz import plots
        classes = self.data.classes
        _close(plots.plot_per_class_accuracy(evaluation.per_class_acc, classes, path=self.path("per_class"),
                                             title=f"{self.config.model}: test accuracy per class"))
        _close(plots.plot_confusion_matrix(evaluation.confusion_matrix, classes, path=self.path("confusion"),
                                           title=f"{self.config.model}: test confusion matrix"))


def run(config, data=None, resume=None):
    """Build ``Experiment(config, data)`` and run it (resuming from the checkpoint ``resume``); a RunResult."""
    return Experiment(config, data).run(resume)


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _failure_status(error):
    return {"NonFiniteLossError": "diverged", "KeyboardInterrupt": "interrupted"}.get(type(error).__name__, "failed")


def _results(result):
    test = result.test
    per_class = dict(zip(result.classes, (float(a) for a in test.per_class_acc)))
    return {"test_acc": test.acc, "test_loss": test.loss, "test_correct": int(np.trace(test.confusion_matrix)),
            "test_images": int(test.confusion_matrix.sum()), "test_per_class_acc": per_class,
            "epochs": len(result.history), "best_epoch": result.best_epoch, "stopped_early": result.stopped_early,
            "train_seconds": result.seconds, "last_epoch": result.history[-1] if result.history else None}


def _finite(value):
    """``value`` with NaN and infinities (a class absent from a small test set) as None, so the JSON is valid."""
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _close(figure):
    import matplotlib.pyplot as plt
    plt.close(figure)


# ---------------------------------------------------------------------- after a run
def load_run(path):
    """(RunConfig, record) from a run folder's run.json (``path`` is the folder, run.json itself, or a file in
    the folder such as final.npz)."""
    path = Path(path)
    file = path if path.suffix == ".json" else (path if path.is_dir() else path.parent) / FILES["run"]
    try:
        record = json.loads(file.read_text(encoding="utf-8"))
        return RunConfig.from_dict(record["config"]), record
    except FileNotFoundError:
        raise ConfigError(f"no {file.name} in {file.parent}, so the run's model and settings are unknown: give "
                          f"them (e.g. the model name) explicitly") from None
    except (ValueError, KeyError, TypeError) as e:
        raise ConfigError(f"{file} is not a readable run record ({type(e).__name__}: {e})") from None


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
    from .viz import plots
    folder = Path(folder)
    paths = folder / "samples.png", folder / "class_distribution.png"
    _close(plots.plot_samples(dataset.data, dataset.targets, dataset.classes, per_class, path=paths[0], title=title))
    _close(plots.plot_class_distribution(dataset.targets, dataset.classes, path=paths[1], title=title))
    return paths


# ---------------------------------------------------------------------- example scripts
def script_parser(description, out, device=None):
    """The command line that every script under examples/ shares (a script adds its own flags): --device,
    --data-dir, --epochs (default: the recipe's), --out (default ``out``) and --quick. ``device=None`` defaults
    to 'cuda' where a GPU is usable, else 'cpu'."""
    device = device or ("cuda" if backend.cuda_is_available() else "cpu")
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default=device, help=f"cpu, cuda or cuda:N (default {device})")
    parser.add_argument("--data-dir", help="CIFAR-10's folder (default $MINITORCH_CIFAR_DATA, else ./data; "
                                           "downloaded there when missing)")
    parser.add_argument("--epochs", type=int, help="train this many epochs instead of the recipe's; a schedule "
                                                   "keeps its shape over the shorter or longer run")
    parser.add_argument("--out", default=out, help=f"folder for the metrics, figures and weights (default {out})")
    parser.add_argument("--quick", action="store_true", help="a smoke test: one epoch on 128 training images, "
                                                             "tested on 100")
    return parser


def script_config(config, args, out=None):
    """The recipe ``config`` with a script's flags (``script_parser``) applied: device, data_dir, the run folder
    ``out`` (default ``args.out``) and, when given, epochs (the piecewise schedule's warm-up stays the same
    fraction of the run; 'cosine' and 'onecycle' follow the epochs by themselves); then ``quick()`` under
    --quick. Returns the checked RunConfig."""
    config = dataclasses.replace(config, device=args.device, data_dir=args.data_dir,
                                 out=str(out if out is not None else args.out))
    if args.epochs is not None:
        config = dataclasses.replace(config, epochs=args.epochs,
                                     warmup_epochs=config.warmup_epochs * args.epochs / config.epochs)
    return (config.quick() if args.quick else config).check()


def run_and_report(config, data=None):
    """Run ``config`` as the example scripts do, printing what runs (``describe``), then the epochs trained and
    the test accuracy per class; returns (Experiment, RunResult)."""
    experiment = Experiment(config, data)
    print(f"== {config.model}{'' if experiment.out is None else f' -> {experiment.out}/'}\n{experiment.describe()}",
          flush=True)
    result = experiment.run()
    stopped = ", stopped early" if result.stopped_early else ""
    if config.patience is not None and result.best_epoch is not None:  # early stopping puts the best weights back
        stopped += f"; tested with the weights of the best epoch, {result.best_epoch}"
    print(f"trained {len(result.history)} epoch(s) in {result.seconds:.0f} s{stopped}")
    print(format_evaluation(result.test, result.classes), flush=True)
    return experiment, result


def plot_run_folders(folders, path, title=None):
    """Overlay the curves (``viz.plots.plot_runs``) of the run folders ``folders`` (a name -> folder mapping)
    that hold a metrics.csv, into ``path``, and say so; returns the names drawn (none: no figure)."""
    from .viz import plots
    found = {name: Path(folder) / FILES["metrics"] for name, folder in folders.items()}
    found = {name: metrics for name, metrics in found.items() if metrics.is_file()}
    if found:
        _close(plots.plot_runs(found, path=path, title=title))
        print(f"curves of {', '.join(found)} overlaid in {path}")
    return list(found)
