"""Stochastic weight averaging and exponential moving averages of a model's weights, as ``torch.optim.swa_utils``.

    swa_model = AveragedModel(model)                 # or multi_avg_fn=get_ema_multi_avg_fn(0.999) for an EMA
    swa_scheduler = SWALR(optimizer, swa_lr=0.05)
    ...                                              # each epoch after swa_start:
    swa_model.update_parameters(model); swa_scheduler.step()
    update_bn(train_loader, swa_model)               # then evaluate swa_model
"""
import copy
import math

import numpy as np

from .. import factories
from ..autograd import no_grad
from ..nn.batchnorm import _BatchNorm
from ..nn.module import Module
from .lr_scheduler import LRScheduler, _per_group


def _check_decay(decay):
    if not 0.0 <= decay <= 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_multi_avg_fn(decay=0.999):
    """An exponential moving average for ``AveragedModel(multi_avg_fn=...)``: ema = decay ema + (1 - decay) param,
    on lists of tensors in place."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param_list, current_param_list, _):
        for ema, current in zip(ema_param_list, current_param_list):
            if ema.dtype.kind in "fc":
                ema.lerp_(current, 1 - decay)
            else:
                ema.copy_(ema * decay + current * (1 - decay))
    return ema_update


def get_swa_multi_avg_fn():
    """The equal-weight running average for ``AveragedModel(multi_avg_fn=...)``, on lists of tensors in place."""
    average = get_swa_avg_fn()

    @no_grad()
    def swa_update(averaged_param_list, current_param_list, num_averaged):
        for averaged, current in zip(averaged_param_list, current_param_list):
            averaged.copy_(average(averaged, current, num_averaged))
    return swa_update


def get_ema_avg_fn(decay=0.999):
    """An exponential moving average for ``AveragedModel(avg_fn=...)``: returns decay ema + (1 - decay) param."""
    _check_decay(decay)

    @no_grad()
    def ema_update(ema_param, current_param, num_averaged):
        return decay * ema_param + (1 - decay) * current_param
    return ema_update


def get_swa_avg_fn():
    """The equal-weight running average for ``AveragedModel(avg_fn=...)``: the mean of ``num_averaged + 1`` values."""
    @no_grad()
    def swa_update(averaged_param, current_param, num_averaged):
        return averaged_param + (current_param - averaged_param) / (num_averaged + 1)
    return swa_update


class AveragedModel(Module):
    """A deep copy of ``model`` (moved to ``device`` if given) whose parameters are the running average of the
    parameters passed to ``update_parameters``, as PyTorch's. The average is equal-weight unless ``avg_fn``
    (per tensor: returns the new average) or ``multi_avg_fn`` (per list of tensors of one device and dtype: updates
    in place) says otherwise; both are called with the number of models averaged so far (buffer ``n_averaged``).
    Buffers are averaged too with ``use_buffers``, else copied from the latest model. Calling it calls the copy."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False):
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise AssertionError("Only one of avg_fn and multi_avg_fn should be provided")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module.to(device)
        self.register_buffer("n_averaged", factories.tensor(0, dtype=np.int64, device=device))
        self.avg_fn, self.multi_avg_fn, self.use_buffers = avg_fn, multi_avg_fn, use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _averaged_tensors(self, model):
        """Parameters (and buffers with ``use_buffers``) of ``model``, in the order of this one's."""
        tensors = list(model.parameters())
        return tensors + list(model.buffers()) if self.use_buffers else tensors

    @no_grad()
    def update_parameters(self, model):
        """Fold ``model``'s current parameters into the average (the first call copies them)."""
        averaged = self._averaged_tensors(self.module)
        current = [p.detach().to(ours.device) for ours, p in zip(averaged, self._averaged_tensors(model))]
        if int(self.n_averaged) == 0:
            for ours, theirs in zip(averaged, current):
                ours.copy_(theirs)
        elif self.avg_fn is not None:
            for ours, theirs in zip(averaged, current):
                ours.copy_(self.avg_fn(ours.detach(), theirs, self.n_averaged.to(ours.device)))
        else:  # multi_avg_fn (default: the equal-weight average) on each group of one device and dtype
            multi_avg_fn = self.multi_avg_fn if self.multi_avg_fn is not None else get_swa_multi_avg_fn()
            groups = {}
            for ours, theirs in zip(averaged, current):
                groups.setdefault((ours.device, ours.dtype), []).append((ours.detach(), theirs))
            for (device, _), pairs in groups.items():
                multi_avg_fn([ours for ours, _ in pairs], [theirs for _, theirs in pairs], self.n_averaged.to(device))
        if not self.use_buffers:  # keep the buffers (BatchNorm's running statistics) in step with the model
            for ours, theirs in zip(self.module.buffers(), model.buffers()):
                ours.copy_(theirs.detach())
        self.n_averaged += 1


@no_grad()
def update_bn(loader, model, device=None):
    """Recompute every BatchNorm layer's running mean and variance in one pass over ``loader``: reset, then the
    cumulative average (momentum None) over its batches, as PyTorch's. A batch is a tensor or a list/tuple whose
    first element is the model's input; ``device``: where the inputs go first."""
    momenta = {}
    for module in model.modules():
        if isinstance(module, _BatchNorm):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    for batch in loader:
        inputs = batch[0] if isinstance(batch, (list, tuple)) else batch
        model(inputs if device is None else inputs.to(device))
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's learning rate from its current value to ``swa_lr`` (one value, or one per group) over
    ``anneal_epochs`` steps, along a half cosine (``anneal_strategy='cos'``) or a line (``'linear'``), then keeps
    it there, as PyTorch's."""

    _not_saved = ("optimizer", "anneal_func")  # the function follows from _anneal_strategy

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1):
        for value, group in zip(_per_group("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = value
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    def _set_anneal_func(self, anneal_strategy):
        self._anneal_strategy = anneal_strategy
        self.anneal_func = self._cosine_anneal if anneal_strategy == "cos" else self._linear_anneal

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        """The learning rate before annealing that, at fraction ``alpha`` of the way to swa_lr, gives ``lr``."""
        return swa_lr if alpha == 1 else (lr - alpha * swa_lr) / (1 - alpha)

    def get_lr(self):
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [group["swa_lr"] * alpha + self._get_initial_lr(group["lr"], group["swa_lr"], prev_alpha) * (1 - alpha)
                for group in self.optimizer.param_groups]

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._set_anneal_func(self._anneal_strategy)
