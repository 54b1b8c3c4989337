"""``RunConfig``: everything that defines one training run, checked by ``check()``, and the names it accepts."""
import dataclasses
import math

from .. import backend, models
from ..data import transforms

OPTIMIZERS = ("sgd", "adam", "adamw")
SCHEDULERS = ("none", "cosine", "onecycle", "step", "piecewise")
NORMALIZATIONS = {"cifar10": (transforms.CIFAR10_MEAN, transforms.CIFAR10_STD),  # the training set's statistics
                  "half": ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5)),                      # to [-1, 1], as the tutorials
                  "none": None}                                                    # [0, 1]
MONITORS = ("val_acc", "val_loss", "train_acc", "train_loss")


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
        """Raise ConfigError naming the first field whose value cannot work; returns the config, its device in the
        canonical form ('cuda' is 'cuda:0') that the loaders and the Trainer are given."""
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
        self.device = device
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
        """The same run (checked first) shrunk to a smoke test: one epoch on at most 128 training images in batches
        of at most 32, tested on at most 100 images, the schedule squeezed to fit (for examples' ``--quick``)."""
        self.check()
        return dataclasses.replace(
            self, epochs=1, batch_size=min(self.batch_size, 32), train_subset=min(self.train_subset or 128, 128),
            test_subset=min(self.test_subset or 100, 100), warmup_epochs=self.warmup_epochs / self.epochs,
            step_size=1, val_split=self.val_split if self.val_split < 1 else min(self.val_split, 16))
