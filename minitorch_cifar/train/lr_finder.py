"""The learning-rate range test (Smith, "Cyclical Learning Rates for Training Neural Networks", 2017).

Train for a few iterations while the learning rate grows from ``start_lr`` to ``end_lr``, record the loss,
and pick the rate where the (smoothed) loss falls fastest. The model and optimizer are put back afterwards.
"""
import copy
import dataclasses
import math

import numpy as np

from .. import backend
from .. import backend
from ..nn.functional import check_targets
from .trainer import as_tensor_on, progress_bar


@dataclasses.dataclass
class LRFinderResult:
    """``lrs[i]`` is the learning rate of iteration i, ``losses[i]`` the smoothed loss after it and
    ``raw_losses[i]`` the batch loss; ``suggested_lr`` the steepest-descent rate (None if the curve is too
    short); ``diverged`` whether the test stopped early because the loss blew up."""
    lrs: list
    losses: list
    raw_losses: list
    suggested_lr: float | None
    diverged: bool
    skip_start: int = 10
    skip_end: int = 5

    def plot(self, path=None, title=None):
        """The smoothed loss against the learning rate (log axis), suggestion marked; saved as PNG given a path.
        The noisy ends left out of the suggestion are left out of the picture too."""
        from ..viz.curves import plot_lr_finder
        lrs, losses = _trimmed(self.lrs, self.losses, self.skip_start, self.skip_end)
        return plot_lr_finder(lrs, losses, self.suggested_lr, path=path, title=title)


def lr_find(model, optimizer, loss_fn, loader, start_lr=1e-7, end_lr=10.0, num_iter=100, step_mode="exp",
            smooth=0.05, diverge=5.0, device=None, skip_start=10, skip_end=5, sync_every=10, progress=False):
    """Run the range test: ``num_iter`` training steps (cycling through ``loader`` as needed) with the learning
    rate of every parameter group set to ``start_lr * (end_lr / start_lr) ** (i / (num_iter - 1))`` ('exp') or
    ``start_lr + (end_lr - start_lr) * i / (num_iter - 1)`` ('linear') at step i.

    The loss is smoothed by an exponential moving average with bias correction,
        avg_i = (1 - smooth) * avg_{i-1} + smooth * loss_i,   smoothed_i = avg_i / (1 - (1 - smooth) ** (i + 1)),
    and the test stops once ``smoothed_i > diverge * min(smoothed)`` (or the loss is not finite). The suggestion
    is the rate where d(smoothed loss)/d(log lr) is most negative, leaving out the first ``skip_start`` and the
    last ``skip_end`` points, as fastai and torch-lr-finder do. The model's and optimizer's states (weights,
    buffers, momentum, learning rates) and the model's train/eval mode are restored at the end. The losses are
    read from the device every ``sync_every`` steps (one host sync each time); the curve still ends at the first
    diverging step. ``progress`` shows a bar over the iterations, as the Trainer's."""
    check_range_test(start_lr, end_lr, num_iter, step_mode, smooth)
    device = next(iter(model.parameters())).device if device is None else backend.parse_device(device)
    saved_model = {key: t.array.copy() for key, t in model.state_dict().items()}
    saved_optimizer = copy.deepcopy(optimizer.state_dict())
    was_training = model.training

    lrs, smoothed, raw = [], [], []
    pending = []  # (lr, loss on the device) of the steps not read yet
    average, diverged = 0.0, False
    bar = progress_bar(num_iter, "lr-find", progress)
    with backend.on_device(device):  # new arrays (dropout masks, the losses read) on the model's GPU
        try:
            model.train()
            batches = _cycle(loader)
            for i in range(num_iter):
                fraction = i / (num_iter - 1)
                lr = (start_lr * (end_lr / start_lr) ** fraction if step_mode == "exp"
                      else start_lr + (end_lr - start_lr) * fraction)
                for group in optimizer.param_groups:
                    group["lr"] = lr
                x, y = (as_tensor_on(b, device) for b in next(batches))
                optimizer.zero_grad()
                loss = loss_fn(model(x), y)
                loss.backward()
                optimizer.step()
                bar.update()
                pending.append((lr, loss.array))
                if len(pending) < max(1, sync_every) and i < num_iter - 1:
                    continue
                xp = backend.get_array_module(loss.array)
                values = backend.to_device(xp.stack([value for _, value in pending]).astype(xp.float64), "cpu")
                check_targets()
                for (step_lr, _), value in zip(pending, values.tolist()):
                    average = (1 - smooth) * average + smooth * value
                    lrs.append(step_lr)
                    raw.append(value)
                    smoothed.append(average / (1 - (1 - smooth) ** len(raw)))
                    if not math.isfinite(smoothed[-1]) or smoothed[-1] > diverge * min(smoothed):
                        diverged = True
                        break
                pending = []
                bar.set_postfix_str(f"lr {lrs[-1]:.2g}  loss {smoothed[-1]:.4f}")
                if diverged:
                    break
        finally:
            bar.close()
            model.load_state_dict(saved_model)
            optimizer.load_state_dict(saved_optimizer)
            model.zero_grad()
            model.train(was_training)
    return LRFinderResult(lrs, smoothed, raw, steepest_descent(lrs, smoothed, skip_start, skip_end), diverged,
                          skip_start, skip_end)


def check_range_test(start_lr, end_lr, num_iter, step_mode="exp", smooth=0.05):
    """Raise ValueError naming the first setting of the range test that cannot work."""
    if step_mode not in ("exp", "linear"):
        raise ValueError(f"step_mode={step_mode!r}: choose 'exp' or 'linear'")
    if not (isinstance(start_lr, (int, float)) and 0 < start_lr < end_lr < math.inf):
        raise ValueError(f"start_lr={start_lr:g}, end_lr={end_lr:g}: the rate must grow from a start above 0 to a "
                         f"larger, finite end")
    if not (isinstance(num_iter, int) and num_iter >= 2):
        raise ValueError(f"num_iter={num_iter}: the test needs at least 2 iterations (100 or more to find a slope)")
    if not 0 < smooth <= 1:
        raise ValueError(f"smooth={smooth}: must be in (0, 1]")


def steepest_descent(lrs, losses, skip_start=10, skip_end=5):
    """The learning rate where d(loss)/d(log lr) is most negative, between the skipped ends (None when fewer than
    three finite points lie between them: a test too short to find a slope, rather than a guess from its noisy
    start)."""
    if len(lrs) - skip_end - skip_start < 3:
        return None
    lrs, losses = _trimmed(lrs, losses, skip_start, skip_end)
    finite = np.isfinite(losses)
    lrs, losses = lrs[finite], losses[finite]
    if lrs.size < 3:
        return None
    slopes = np.gradient(losses, np.log(lrs))
    return float(lrs[int(np.argmin(slopes))])


def _trimmed(lrs, losses, skip_start, skip_end):
    """The curve without its first ``skip_start`` and last ``skip_end`` points, unless that leaves fewer than
    three."""
    lrs, losses = np.asarray(lrs, dtype=np.float64), np.asarray(losses, dtype=np.float64)
    end = len(lrs) - skip_end
    if end - skip_start < 3:
        return lrs, losses
    return lrs[skip_start:end], losses[skip_start:end]


def _cycle(loader):
    """Batches from ``loader``, starting it over whenever it runs out."""
    while True:
        empty = True
        for batch in loader:
            empty = False
            yield batch
        if empty:
            raise ValueError("lr_find: the loader gave no batches")
