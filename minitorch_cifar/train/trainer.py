"""``Trainer``: the training loop with progress, history, checkpoints, early stopping and evaluation."""
import csv
import dataclasses
import math
import os
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from .. import backend
from ..autograd import no_grad
from ..kernels import switch
from ..nn.functional import check_targets
from ..tensor import Tensor
from .checkpoint import atomic_write, load_checkpoint, save_checkpoint, save_weights

HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds")
_PER_STEP_SCHEDULERS = ("OneCycleLR", "CyclicLR")  # stepped after every batch, as PyTorch's docs do


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite; ``epoch`` and ``step`` say where."""

    def __init__(self, message, epoch, step):
        super().__init__(message)
        self.epoch, self.step = epoch, step


@dataclasses.dataclass
class Evaluation:
    """What ``Trainer.evaluate`` measures. ``confusion_matrix[i, j]`` counts samples of class i predicted as j;
    ``per_class_acc[i]`` is the fraction of class i predicted right (NaN for a class with no samples)."""
    loss: float
    acc: float
    per_class_acc: np.ndarray
    confusion_matrix: np.ndarray


class Trainer:
    """Trains ``model`` with ``optimizer`` on ``loss_fn(output, target)`` (a mean over the batch).

    - ``scheduler`` is stepped per ``scheduler_step``: 'step' (after every batch; the default for OneCycleLR
      and CyclicLR) or 'epoch' (the default for the others); ReduceLROnPlateau gets the monitored metric.
    - ``monitor`` ('val_acc', 'val_loss', 'train_acc' or 'train_loss'; maximised for accuracies, minimised for
      losses) picks the best epoch. With ``patience``, training stops after that many epochs without
      improvement, and the best weights are put back into the model when ``fit`` ends.
    - ``history`` holds one dict per epoch with the keys HISTORY_KEYS (``viz.plots`` draws it): mean training
      loss and accuracy over the epoch's batches, validation loss and accuracy (None without a val_loader), the
      first parameter group's learning rate at the start of the epoch, and the epoch's wall-clock seconds.
    - With ``out_dir``, every epoch writes ``metrics.csv`` (the history), ``checkpoint.npz`` (everything needed
      to resume) and, when the monitored metric improves, ``best.npz`` (the best weights); all atomically.
    - Running sums of loss and accuracy stay on the device and are read every ``sync_every`` steps, so a GPU
      is not stalled each step; a NaN or infinite loss raises NonFiniteLossError naming the step.
    - ``on_epoch_end``: callables ``fn(trainer, record)`` run after each epoch (``record`` is the newest history
      entry); one may set ``trainer.stop_training = True``.
    - ``progress`` shows a bar per epoch, redrawn in place, where it can be (a terminal, a notebook): never in a
      log file. ``verbose`` prints one line per epoch that fits 80 columns (``epoch_summary``), bar or no bar, and
      says so before the first batch when the CPU kernels are about to be compiled (the first run only).
    """

    def __init__(self, model, optimizer, loss_fn, scheduler=None, device="cpu", scheduler_step=None,
                 out_dir=None, patience=None, monitor="val_acc", progress=True, sync_every=10, on_epoch_end=(),
                 verbose=True):
        if scheduler_step is None:
            scheduler_step = "step" if _is_a(scheduler, *_PER_STEP_SCHEDULERS) else "epoch"
        if scheduler_step not in ("step", "epoch"):
            raise ValueError(f"scheduler_step must be 'step' or 'epoch', got {scheduler_step!r}")
        if not monitor.endswith(("_acc", "_loss")) or monitor.split("_")[0] not in ("train", "val"):
            raise ValueError(f"monitor must be one of 'val_acc', 'val_loss', 'train_acc', 'train_loss'; "
                             f"got {monitor!r}")
        if patience is not None and patience < 1:
            raise ValueError(f"patience must be a positive number of epochs, got {patience}")
        self.device = backend.parse_device(device)  # parsed here, once, for the model and every batch
        self.model = model.to(self.device)
        self.optimizer, self.loss_fn, self.scheduler = optimizer, loss_fn, scheduler
        self.scheduler_step, self.patience, self.monitor = scheduler_step, patience, monitor
        self.progress, self.verbose, self.sync_every = progress, verbose, max(1, int(sync_every))
        self.on_epoch_end = list(on_epoch_end)
        self.out_dir = None if out_dir is None else os.fspath(out_dir)
        self.epoch = 0                     # epochs completed
        self.history = []                  # one dict per epoch, keys HISTORY_KEYS
        self.best_value, self.best_epoch, self.bad_epochs = None, None, 0
        self._best_state = None            # copies of the best epoch's state dict arrays
        self.stop_training = False

    # ------------------------------------------------------------------ files
    def _file(self, name):
        return None if self.out_dir is None else os.path.join(self.out_dir, name)

    @property
    def metrics_path(self):
        return self._file("metrics.csv")

    @property
    def checkpoint_path(self):
        return self._file("checkpoint.npz")

    @property
    def best_path(self):
        return self._file("best.npz")

    # ------------------------------------------------------------------ training
    def fit(self, train_loader, val_loader=None, epochs=1, resume=None):
        """Train up to epoch ``epochs`` (a total: a trainer that has done, or resumed after, k epochs runs epochs
        k+1 .. ``epochs``), validating on ``val_loader`` after each. ``resume`` is a checkpoint path to continue
        from (see ``resume``). Returns the history."""
        if resume is not None:
            self.resume(resume, train_loader)
        monitored = val_loader is not None or self.monitor.startswith("train")
        if not monitored and (self.patience is not None or self._plateau()):
            raise ValueError(f"monitor={self.monitor!r} needs a val_loader (for early stopping or "
                             f"ReduceLROnPlateau); pass one, or monitor 'train_loss' / 'train_acc'")
        self.stop_training = self._patience_ran_out()
        if self.verbose and not self.finished(epochs) and self.device == "cpu" and kernels_to_compile():
            print("compiling kernels (first run only): the first batches take up to a minute longer", flush=True)
        while self.epoch < epochs and not self.stop_training:
            epoch = self.epoch + 1
            started = time.perf_counter()
            lr = float(self.optimizer.param_groups[0]["lr"])
            with progress_bar(_length(train_loader), f"epoch {epoch}/{epochs}", self.progress) as bar:
                train_loss, train_acc = self._train_epoch(train_loader, epoch, bar)
                self._check_weights(epoch)
                val = self.evaluate(val_loader) if val_loader is not None else None
                if val is not None:
                    bar.set_postfix_str(f"{bar.postfix or ''}  val_loss {val.loss:.4f}  val_acc {val.acc:.2%}")
            record = {"epoch": epoch, "train_loss": train_loss, "train_acc": train_acc,
                      "val_loss": None if val is None else val.loss, "val_acc": None if val is None else val.acc,
                      "lr": lr, "seconds": time.perf_counter() - started}
            self.history.append(record)
            self.epoch = epoch
            if self.verbose:
                print(epoch_summary(record, epochs), flush=True)
            if self.scheduler is not None and self.scheduler_step == "epoch":
                if self._plateau():
                    self.scheduler.step(record[self.monitor])
                else:
                    self.scheduler.step()
            improved = monitored and self._track_best(record)
            self._save(train_loader, improved)
            for callback in self.on_epoch_end:
                callback(self, record)
            self.stop_training = self.stop_training or self._patience_ran_out()
        if self.patience is not None and self._best_state is not None:
            self.model.load_state_dict(self._best_state)
        return self.history

    def _plateau(self):
        return _is_a(self.scheduler, "ReduceLROnPlateau")

    def _train_epoch(self, loader, epoch, bar):
        """One pass over ``loader``; returns (mean loss, accuracy)."""
        self.model.train()
        backend.start_stream(epoch)  # the epoch's random draws depend on (seed, epoch) alone: resumable on any device
        totals = _RunningTotals()
        with backend.on_device(self.device):  # new arrays (dropout masks, ...) on the model's GPU, not GPU 0
            self._train_steps(loader, epoch, bar, totals)
        if totals.seen == 0:
            raise ValueError("the training loader gave no batches")
        return totals.loss, totals.acc

    def _train_steps(self, loader, epoch, bar, totals):
        for step, (x, y) in enumerate(loader, start=1):
            x, y = as_tensor_on(x, self.device), as_tensor_on(y, self.device)
            self.optimizer.zero_grad()
            output = self.model(x)
            loss = self.loss_fn(output, y)
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None and self.scheduler_step == "step":
                self.scheduler.step()
            totals.add(loss.array, _correct(output.array, y.array), len(y))
            bar.update()
            if step % self.sync_every == 0:
                self._read(totals, epoch, bar)
        self._read(totals, epoch, bar)

    def _read(self, totals, epoch, bar):
        """Bring the pending per-step sums to the host (one sync), stop on a non-finite loss or a class index out
        of range (``check_targets``), update the bar."""
        bad_step, bad_loss = totals.sync()
        check_targets()
        if bad_step is not None:
            raise NonFiniteLossError(self._divergence_message(
                f"the training loss became {bad_loss} at epoch {epoch}, step {bad_step}"), epoch, bad_step)
        lr = self.optimizer.param_groups[0]["lr"]
        bar.set_postfix_str(f"loss {totals.loss:.4f}  acc {totals.acc:.2%}  lr {lr:.3g}", refresh=False)

    def _divergence_message(self, what):
        lr = self.optimizer.param_groups[0]["lr"]
        saved = self.checkpoint_path
        if saved and os.path.exists(saved):
            kept = f"the last good checkpoint, {saved} (epoch {self.epoch}), is intact"
        else:
            kept = "no checkpoint was written yet" if saved else "no checkpoint is kept (no out_dir)"
        return (f"{what}, so training stopped: the learning rate (now {lr:.3g}) is probably too high; try a lower "
                f"one (e.g. 10x lower, or pick one with lr_find). {kept[0].upper()}{kept[1:]}")

    def _check_weights(self, epoch):
        """Refuse to record or save an epoch whose last update left NaN or infinite weights."""
        if not backend.all_finite([p.array for p in self.model.parameters()]):
            raise NonFiniteLossError(self._divergence_message(
                f"the weights became NaN or infinite in the last step of epoch {epoch}"), epoch, None)

    # ------------------------------------------------------------------ best epoch and early stopping
    def _track_best(self, record):
        """Remember the epoch's weights if the monitored metric improved; returns whether it did."""
        value = record[self.monitor]
        maximise = self.monitor.endswith("_acc")
        if self.best_value is not None and not (value > self.best_value if maximise else value < self.best_value):
            self.bad_epochs += 1
            return False
        self.best_value, self.best_epoch, self.bad_epochs = value, record["epoch"], 0
        self._best_state = {key: t.array.copy() for key, t in self.model.state_dict().items()}
        return True

    def _patience_ran_out(self):
        return self.patience is not None and self.bad_epochs >= self.patience

    def finished(self, epochs):
        """Whether ``fit(..., epochs)`` has nothing left to train: ``epochs`` are done, or early stopping ended."""
        return self.epoch >= epochs or self._patience_ran_out()

    # ------------------------------------------------------------------ saving and resuming
    def _save(self, train_loader, improved):
        if self.out_dir is None:
            return
        with atomic_write(self.metrics_path, text=True) as file:
            writer = csv.DictWriter(file, fieldnames=HISTORY_KEYS)
            writer.writeheader()
            writer.writerows(self.history)
        loader_state = train_loader.state_dict() if hasattr(train_loader, "state_dict") else None
        save_checkpoint(self.checkpoint_path, self.model, self.optimizer, self.scheduler, self.epoch, self.history,
                        trainer={"best_value": self.best_value, "best_epoch": self.best_epoch,
                                 "bad_epochs": self.bad_epochs, "monitor": self.monitor},
                        best_state=self._best_state, loader=loader_state)
        if improved:
            save_weights(self.model, self.best_path)

    def resume(self, path, train_loader=None):
        """Restore model, optimizer, scheduler, history, early-stopping state, random generator and (given
        ``train_loader``, if it has ``load_state_dict``) the loader's shuffle state from a checkpoint, so that
        ``fit`` continues exactly as the interrupted run would have."""
        state = load_checkpoint(path, self.model, self.optimizer, self.scheduler)
        self.epoch, self.history = state["epoch"] or 0, list(state["history"] or [])
        trainer = state.get("trainer") or {}
        self.best_value, self.best_epoch = trainer.get("best_value"), trainer.get("best_epoch")
        self.bad_epochs = trainer.get("bad_epochs", 0)
        self._best_state = state.get("best_state")
        if state.get("loader") is not None and hasattr(train_loader, "load_state_dict"):
            train_loader.load_state_dict(state["loader"])
        return self

    # ------------------------------------------------------------------ evaluation
    def evaluate(self, loader):
        """Loss, accuracy, per-class accuracy and confusion matrix of the model on ``loader`` (in eval mode,
        without gradients). The counts are accumulated on the device and read once at the end."""
        was_training = self.model.training
        self.model.eval()
        loss_sum = counts = None
        seen = 0
        try:
            with no_grad(), backend.on_device(self.device):
                for x, y in loader:
                    x, y = as_tensor_on(x, self.device), as_tensor_on(y, self.device)
                    output = self.model(x)
                    loss = self.loss_fn(output, y).array
                    xp = backend.get_array_module(output.array)
                    classes = output.shape[1]
                    batch_counts = _confusion_counts(_labels(y.array), output.array.argmax(axis=1), classes)
                    batch_loss = loss.astype(xp.float64) * len(y)
                    loss_sum = batch_loss if loss_sum is None else loss_sum + batch_loss
                    counts = batch_counts if counts is None else counts + batch_counts
                    seen += len(y)
        finally:
            self.model.train(was_training)
        if seen == 0:
            raise ValueError("evaluate: the loader gave no batches")
        check_targets()
        confusion = backend.to_device(counts, "cpu").round().astype(np.int64)
        per_class = confusion.diagonal() / confusion.sum(axis=1).clip(min=1)
        per_class[confusion.sum(axis=1) == 0] = np.nan
        return Evaluation(loss=float(backend.to_device(loss_sum, "cpu")) / seen,
                          acc=float(confusion.trace() / seen), per_class_acc=per_class, confusion_matrix=confusion)


def epoch_summary(record, epochs):
    """One history record as a line of at most 80 columns: the epoch, the training loss and accuracy, the
    validation loss and accuracy (when validated), the learning rate and the seconds, e.g.
    ``epoch 3/24  loss 1.234 acc 55.1%  val 1.302 52.0%  lr 0.005  41 s``."""
    val = "" if record["val_loss"] is None else f"  val {record['val_loss']:.4g} {record['val_acc']:.1%}"
    return (f"epoch {record['epoch']}/{epochs}  loss {record['train_loss']:.4g} acc {record['train_acc']:.1%}{val}  "
            f"lr {record['lr']:.2g}  {record['seconds']:.0f} s")


def progress_bar(total, description, enabled):
    """A tqdm bar of ``total`` batches, shown when ``enabled`` and it can redraw in place: stderr is a terminal,
    or a notebook shows tqdm's widget. In a log file (CI, ``> log 2>&1``) it stays silent, so no carriage-return
    updates pile up there."""
    notebook = any(cls.__module__ == "tqdm.notebook" for cls in tqdm.__mro__)
    shown = enabled and (notebook or sys.stderr.isatty())
    return tqdm(total=total, desc=description, unit="batch", disable=not shown, dynamic_ncols=True)


def kernels_to_compile():
    """Whether the first batches will compile the CPU kernels: the fast kernels run and numba's on-disk cache
    holds none of them yet (the first run after installing; later runs load them in a moment)."""
    if switch.reference():
        return False
    index_files = _kernel_cache_index_files()
    return bool(index_files) and not any(os.path.exists(path) for path in index_files)


def _kernel_cache_index_files():
    """Where numba's cache keeps the index of each cached kernel the package has imported (numba imported by the
    fast kernels already; private attributes of numba, so an unknown layout gives none)."""
    import numba
    kernels = f"{__package__.rpartition('.')[0]}.kernels."
    dispatchers = [value for name, module in list(sys.modules.items()) if name.startswith(kernels)
                   for value in vars(module).values() if isinstance(value, numba.core.registry.CPUDispatcher)]
    paths = [getattr(getattr(getattr(d, "_cache", None), "_cache_file", None), "_index_path", None)
             for d in dispatchers]
    return [path for path in paths if path]


class _RunningTotals:
    """Per-step loss sums and correct counts kept on the device until ``sync`` reads them in one transfer."""

    def __init__(self):
        self.pending = []                  # (loss, correct count, batch size): device scalars, host int
        self.loss_sum, self.correct, self.seen = 0.0, 0, 0
        self.steps = 0                     # steps already synced

    def add(self, loss, correct, count):
        self.pending.append((loss, correct, count))

    def sync(self):
        """Fold the pending steps into the totals; returns (step, loss) of the first non-finite loss, or Nones."""
        if not self.pending:
            return None, None
        losses, correct, counts = zip(*self.pending)
        xp = backend.get_array_module(losses[0])
        values = backend.to_device(xp.stack([xp.stack(losses).astype(xp.float64),
                                             xp.stack(correct).astype(xp.float64)]), "cpu")
        first_step, self.pending = self.steps + 1, []
        self.steps += len(counts)
        bad = np.flatnonzero(~np.isfinite(values[0]))
        if bad.size:
            return first_step + int(bad[0]), float(values[0, bad[0]])
        self.loss_sum += float(values[0] @ np.asarray(counts, dtype=np.float64))
        self.correct += int(values[1].sum())
        self.seen += sum(counts)
        return None, None

    @property
    def loss(self):
        return self.loss_sum / self.seen if self.seen else math.nan

    @property
    def acc(self):
        return self.correct / self.seen if self.seen else math.nan


def as_tensor_on(batch, device):
    """``batch`` (a Tensor or an array) as a Tensor on ``device`` (a parsed device string); a Tensor already there,
    as the DataLoader's batches are, is passed on as it is."""
    if isinstance(batch, Tensor):
        return batch if batch.device == device else batch.to(device)
    return Tensor(batch, device=device)


def _labels(target):
    """Class indices from a target of indices (N,) or of class probabilities (N, C)."""
    return target if target.ndim == 1 else target.argmax(axis=1)


def _confusion_counts(labels, predicted, classes):
    """counts[i, j] of samples of class i predicted as j, as a product of one-hot matrices (float64, exact):
    no host sync, where CuPy's bincount reads its input's range back first."""
    one_hot = backend.get_array_module(labels).eye(classes, dtype=np.float64)
    return one_hot[labels.ravel()].T @ one_hot[predicted.ravel()]


def _correct(output, target):
    """How many rows of ``output`` have their largest value at the target class (a device scalar)."""
    return (output.argmax(axis=1) == _labels(target)).sum()


def _is_a(obj, *class_names):
    """Whether ``obj``'s class or one of its bases has one of these names (so that the optimizers package and
    user subclasses need not be imported here)."""
    return any(cls.__name__ in class_names for cls in type(obj).__mro__)


def _length(loader):
    try:
        return len(loader)
    except TypeError:
        return None
