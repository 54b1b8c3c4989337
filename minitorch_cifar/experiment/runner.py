"""``Experiment``: the pieces of one run built from a ``RunConfig``, and ``run``, which trains, tests and writes
the run folder."""
import dataclasses
import platform
from pathlib import Path

import numpy as np

from .. import __version__, backend
from ..autograd import no_grad
from ..data import ArrayDataset
from ..train import Trainer, lr_find, save_weights
from ..train.checkpoint import atomic_write, rng_state, set_rng_state
from ..train.lr_finder import check_range_test
from .builders import build_loss, build_model, build_optimizer, build_scheduler
from .config import ConfigError, RunConfig
from .data import build_loaders, evaluation_loader, load_data
from .folder import FILES, close_figure, failure_status, load_run, now, results_of, write_record


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
        If training fails (a diverging loss, Ctrl-C) run.json says so and the error propagates.

        With ``resume``, everything that can be checked is checked before a byte is written: the checkpoint reads
        and fits the model (CheckpointError), and epochs are left to train (ConfigError). The results of the run
        it continues stay in run.json until new ones replace them."""
        if resume is not None:
            self.trainer.resume(resume, self.loaders.train)
            self._check_epochs_left(resume)
        record = self._record(resume)
        self._write_record(record)
        try:
            history = self.fit()
        except BaseException as error:
            record.update(status=failure_status(error), error=f"{type(error).__name__}: {error}")
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
            record.update(status="finished", finished=now(), results=results_of(result))
            self._write_record(record)
            result.files = {key: str(self.path(key)) for key in FILES if self.path(key).exists()}
        return result

    def find_lr(self, start_lr=1e-7, end_lr=10.0, num_iter=100, step_mode="exp", **options):
        """The learning-rate range test (``train.lr_find``) on the training loader with a fresh optimizer of this
        config. Nothing is changed by it: the model, the loader's shuffling and the framework's (CPU) random
        generator are put back. With ``out``, the plot goes to lr_find.png and the curve to lr_find.csv.
        Returns the LRFinderResult (``suggested_lr``, ``lrs``, ``losses``); a setting that cannot work raises
        ConfigError first."""
        check_lr_range_test(start_lr, end_lr, num_iter, step_mode)
        loader_state, rng = self.loaders.train.state_dict(), rng_state()
        try:
            result = lr_find(self.model, build_optimizer(self.config, self.model.parameters()), self.loss_fn,
                             self.loaders.train, start_lr, end_lr, num_iter, step_mode, device=self.config.device,
                             progress=self.config.progress, **options)
        finally:
            self.loaders.train.load_state_dict(loader_state)
            set_rng_state(rng)
        if self.out is not None:
            close_figure(result.plot(self.out / "lr_find.png", title=f"learning-rate range test: {self.config.model}"))
            with atomic_write(self.out / "lr_find.csv", text=True) as file:
                file.write("lr,loss,raw_loss\n")
                file.writelines(f"{lr!r},{loss!r},{raw!r}\n"
                                for lr, loss, raw in zip(result.lrs, result.losses, result.raw_losses))
        return result

    def _check_epochs_left(self, resume):
        done, epochs = self.trainer.epoch, self.config.epochs
        if done > epochs:
            raise ConfigError(f"epochs={epochs}: {resume} has already trained {done} epochs; resume with more "
                              f"epochs than {done}, or test its weights as they are")
        if self.trainer.finished(epochs):
            how = "all its epochs" if done == epochs else "until early stopping ended it"
            raise ConfigError(f"epochs={epochs}: the run of {resume} is complete ({done} epochs: it trained {how}), "
                              f"so there is nothing to resume; to train longer give more epochs (where its schedule "
                              f"allows), or test its weights as they are")

    # ------------------------------------------------------------------ the run folder
    def _record(self, resume):
        c, d = self.config, self.data
        kept = self._previous_results() if resume is not None else None
        return {"status": "running", "config": c.to_dict(),
                "model": {"name": c.model, "parameters": sum(p.numel() for p in self.model.parameters())},
                "data": {"folder": d.folder, "classes": list(d.classes), "train_images": len(d.train),
                         "val_images": 0 if d.val is None else len(d.val), "test_images": len(d.test),
                         "validation": self.validation},
                "environment": {"minitorch_cifar": __version__, "python": platform.python_version(),
                                "numpy": np.__version__, "machine": platform.platform()},
                "started": now(),
                "resumed_from": None if resume is None else str(resume), "results": kept}

    def _previous_results(self):
        """The results in the run.json of the run being continued (None when it has none, or no run.json)."""
        if self.out is None or not self.path("run").is_file():
            return None
        try:
            return load_run(self.out)[1].get("results")
        except ConfigError:
            return None

    def _write_record(self, record):
        if self.out is not None:
            write_record(self.path("run"), record)

    def _draw_curves(self, trainer=None, record=None):
        from ..viz import plots
        close_figure(plots.plot_history(self.trainer.history, path=self.path("curves"),
                                        title=f"{self.config.model}: loss and accuracy" +
                                        (" (val: the test images)" if self.validation == "test images" else "")))

    def _draw_results(self, evaluation):
        from ..viz import plots
        classes = self.data.classes
        close_figure(plots.plot_per_class_accuracy(evaluation.per_class_acc, classes, path=self.path("per_class"),
                                                   title=f"{self.config.model}: test accuracy per class"))
        close_figure(plots.plot_confusion_matrix(evaluation.confusion_matrix, classes, path=self.path("confusion"),
                                                 title=f"{self.config.model}: test confusion matrix"))


def check_lr_range_test(start_lr, end_lr, num_iter, step_mode="exp"):
    """Raise ConfigError naming the first setting of a learning-rate range test that cannot work."""
    try:
        check_range_test(start_lr, end_lr, num_iter, step_mode)
    except ValueError as e:
        raise ConfigError(str(e)) from None


def run(config, data=None, resume=None):
    """Build ``Experiment(config, data)`` and run it (resuming from the checkpoint ``resume``); a RunResult."""
    return Experiment(config, data).run(resume)
