"""Learning-rate schedulers with PyTorch's formulas, attribute names and stepping rules.

Create the scheduler after the optimizer and call ``scheduler.step()`` after ``optimizer.step()``: once
per epoch for most, once per batch for OneCycleLR and CyclicLR, once per validation (with the metric) for
ReduceLROnPlateau. Most schedulers are *chainable*: each step updates the optimizer's current
``group['lr']`` by a factor, as PyTorch's do, so their sequences agree with PyTorch's to the last bit.
"""
import collections
import copy
import math
import types
import warnings
from bisect import bisect_right

from .optimizer import Optimizer, _plain

# PyTorch's private bookkeeping flags: present in its state dicts, meaningless here.
_TORCH_ONLY_KEYS = ("_get_lr_called_within_step", "_is_initial")


class LRScheduler:
    """Base class: sets each group's ``initial_lr`` (once), keeps ``base_lrs`` and ``last_epoch``
    (the number of steps taken; -1 before the first), and takes the initial step.

    Subclasses define ``get_lr()``, the learning rates after ``last_epoch`` has been advanced, and may
    define ``_get_closed_form_lr()``, used when ``step(epoch)`` or SequentialLR jumps to an epoch. A user's
    scheduler subclasses it the same way, setting its own attributes before calling ``super().__init__``::

        class ExponentialLR(LRScheduler):
            def __init__(self, optimizer, end_lr, num_iter, last_epoch=-1):
                self.end_lr, self.num_iter = end_lr, num_iter
                super().__init__(optimizer, last_epoch)

            def get_lr(self):
                r = (self.last_epoch + 1) / self.num_iter
                return [base_lr * (self.end_lr / base_lr) ** r for base_lr in self.base_lrs]
    """

    _is_initial = False  # True while the constructor takes the initial step

    def __init__(self, optimizer, last_epoch=-1):
        self.optimizer = _check_optimizer(optimizer)
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            for i, group in enumerate(optimizer.param_groups):
                if "initial_lr" not in group:
                    raise KeyError(f"param_groups[{i}] has no 'initial_lr', needed to resume a scheduler at "
                                   f"last_epoch={last_epoch}: load the optimizer's state dict first (or start "
                                   f"from last_epoch=-1)")
        self.base_lrs = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = last_epoch
        self._initial_step()

    def _initial_step(self):
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            del self._is_initial  # back to the class's False, and out of the state dict

    def get_lr(self):
        raise NotImplementedError(f"{type(self).__name__} does not define get_lr()")

    def get_last_lr(self):
        """The learning rates the last step set, one per parameter group."""
        return self._last_lr

    def step(self, epoch=None):
        """Advance one step (the ``epoch`` argument is deprecated, as in PyTorch: it jumps to that epoch
        using the closed form where there is one)."""
        self._step_count += 1
        if epoch is not None:
            warnings.warn("scheduler.step(epoch) is deprecated (as in PyTorch); call step() without an epoch",
                          UserWarning, stacklevel=2)
        self._update_lr(epoch)

    def _update_lr(self, epoch=None):
        if epoch is None:
            self.last_epoch += 1
            values = self.get_lr()
        else:
            self.last_epoch = epoch
            closed_form = getattr(self, "_get_closed_form_lr", None)
            values = closed_form() if closed_form is not None else self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, values):
            group["lr"] = lr
        self._last_lr = _current(self.optimizer, "lr")

    # ------------------------------------------------------------------ state dict
    _not_saved = ("optimizer",)

    def state_dict(self):
        """Every attribute but the optimizer (PyTorch's keys), as plain Python values."""
        return {key: copy.deepcopy(value) for key, value in vars(self).items() if key not in self._not_saved}

    def load_state_dict(self, state_dict):
        """Restore ``state_dict()`` (ours or PyTorch's); missing or unknown keys raise a ValueError."""
        state = {key: value for key, value in state_dict.items() if key not in _TORCH_ONLY_KEYS}
        expected = set(self.state_dict())
        missing, unknown = sorted(expected - set(state)), sorted(set(state) - expected)
        if missing or unknown:
            parts = [f"{what} key(s) {keys}" for what, keys in (("missing", missing), ("unknown", unknown)) if keys]
            raise ValueError(f"{type(self).__name__}.load_state_dict: " + "; ".join(parts) +
                             " (is the state dict from another kind of scheduler?)")
        for key, value in state.items():
            if key not in self._not_saved:  # those a subclass saves its own way and restores itself
                setattr(self, key, _plain(copy.deepcopy(value), getattr(self, key, None)))


_LRScheduler = LRScheduler  # PyTorch's name before 2.0, still in much code


def _check_optimizer(optimizer):
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"expected an Optimizer, got {type(optimizer).__name__}")
    return optimizer


def _current(optimizer, key):
    return [group[key] for group in optimizer.param_groups]


def _per_group(name, optimizer, value):
    """One value per parameter group: a list/tuple of the right length, or one value for all."""
    if isinstance(value, (list, tuple)):
        if len(value) != len(optimizer.param_groups):
            raise ValueError(f"{name} has {len(value)} values but the optimizer has "
                             f"{len(optimizer.param_groups)} parameter groups")
        return list(value)
    return [value] * len(optimizer.param_groups)


def _callable_state(fn):
    """What a state dict keeps of a user's function: None for a plain function or lambda, a callable
    object's attributes (as in PyTorch)."""
    return None if fn is None or isinstance(fn, types.FunctionType) else copy.deepcopy(vars(fn))


def _restore_callable(fn, attributes):
    if attributes is not None:
        vars(fn).update({key: _plain(value, getattr(fn, key, None)) for key, value in attributes.items()})


def _set_momentum(group, momentum, use_beta1):
    if use_beta1:
        group["betas"] = (momentum, *group["betas"][1:])
    else:
        group["momentum"] = momentum


def _start_momentum_cycle(name, optimizer, base_momentum, max_momentum, last_epoch):
    """For a scheduler that cycles momentum (or Adam's beta1): check the optimizer has one; on a fresh
    start set each group's to its max_momentum and record ``max_momentum``, ``base_momentum`` in the
    group. Returns use_beta1 and the per-group base and max momenta."""
    if "momentum" not in optimizer.defaults and "betas" not in optimizer.defaults:
        raise ValueError(f"{name}: cycle_momentum needs an optimizer with momentum or betas "
                         f"(or pass cycle_momentum=False)")
    use_beta1 = "betas" in optimizer.defaults
    base_momentums = _per_group("base_momentum", optimizer, base_momentum)
    max_momentums = _per_group("max_momentum", optimizer, max_momentum)
    if last_epoch == -1:
        for group, group_max, group_base in zip(optimizer.param_groups, max_momentums, base_momentums):
            _set_momentum(group, group_max, use_beta1)
            group["max_momentum"], group["base_momentum"] = group_max, group_base
    return use_beta1, base_momentums, max_momentums


class LambdaLR(LRScheduler):
    """lr = initial_lr * lr_lambda(epoch), with one function for all groups or one per group.
    Plain functions and lambdas are not saved in the state dict (``None`` takes their place); callable
    objects save their ``__dict__``, as in PyTorch."""

    def __init__(self, optimizer, lr_lambda, last_epoch=-1):
        self.optimizer = _check_optimizer(optimizer)
        if isinstance(lr_lambda, (list, tuple)):
            if len(lr_lambda) != len(optimizer.param_groups):
                raise ValueError(f"{type(self).__name__}: expected {len(optimizer.param_groups)} lr_lambdas (one "
                                 f"per parameter group), got {len(lr_lambda)}")
            self.lr_lambdas = list(lr_lambda)
        else:
            self.lr_lambdas = [lr_lambda] * len(optimizer.param_groups)
        for fn in self.lr_lambdas:
            if not callable(fn):
                raise TypeError(f"{type(self).__name__}: lr_lambda should be a function, got {type(fn).__name__}")
        super().__init__(optimizer, last_epoch)

    _not_saved = ("optimizer", "lr_lambdas")

    def state_dict(self):
        state = super().state_dict()
        state["lr_lambdas"] = [_callable_state(fn) for fn in self.lr_lambdas]
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for fn, attributes in zip(self.lr_lambdas, state_dict["lr_lambdas"]):
            _restore_callable(fn, attributes)

    def get_lr(self):
        return [base_lr * fn(self.last_epoch) for fn, base_lr in zip(self.lr_lambdas, self.base_lrs)]


class MultiplicativeLR(LambdaLR):
    """Multiply the learning rate by ``lr_lambda(epoch)`` at each step (one function for all groups or one
    per group); saved in the state dict as LambdaLR's are."""

    def get_lr(self):
        if self._is_initial:
            return _current(self.optimizer, "lr")
        return [group["lr"] * fn(self.last_epoch) for fn, group in zip(self.lr_lambdas, self.optimizer.param_groups)]


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return _current(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** (self.last_epoch // self.step_size) for base_lr in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each milestone epoch (by gamma**k for a milestone
    listed k times). The state dict lists the milestones as a sorted list of ints."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones = collections.Counter(milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def state_dict(self):
        state = super().state_dict()
        state["milestones"] = sorted(self.milestones.elements())
        return state

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        # A list (ours) counts its elements; a mapping (PyTorch's Counter) gives the counts.
        milestones = self.milestones
        if isinstance(milestones, dict):
            self.milestones = collections.Counter({int(m): int(n) for m, n in milestones.items()})
        else:
            self.milestones = collections.Counter(int(m) for m in milestones)

    def get_lr(self):
        if self.last_epoch not in self.milestones:
            return _current(self.optimizer, "lr")
        return [group["lr"] * self.gamma ** self.milestones[self.last_epoch] for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        milestones = sorted(self.milestones.elements())
        return [base_lr * self.gamma ** bisect_right(milestones, self.last_epoch) for base_lr in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self._is_initial:
            return _current(self.optimizer, "lr")
        return [group["lr"] * self.gamma for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * self.gamma ** self.last_epoch for base_lr in self.base_lrs]


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor going linearly from ``start_factor`` to ``end_factor`` over
    ``total_iters`` steps, then keep it (a warm-up when start_factor < end_factor)."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        if not 0 < start_factor <= 1:
            raise ValueError(f"LinearLR: start_factor must be in (0, 1], got {start_factor}")
        if not 0 <= end_factor <= 1:
            raise ValueError(f"LinearLR: end_factor must be in [0, 1], got {end_factor}")
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.start_factor for group in self.optimizer.param_groups]
        if self._is_initial or self.last_epoch > self.total_iters:
            return _current(self.optimizer, "lr")
        # factor(t) / factor(t - 1), with factor(t) = start + (end - start) * t / total_iters
        change = self.end_factor - self.start_factor
        ratio = 1.0 + change / (self.total_iters * self.start_factor + (self.last_epoch - 1) * change)
        return [group["lr"] * ratio for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        change = self.end_factor - self.start_factor
        return [base_lr * (self.start_factor + change * min(self.total_iters, self.last_epoch) / self.total_iters)
                for base_lr in self.base_lrs]


class ConstantLR(LRScheduler):
    """Scale the learning rate by ``factor`` for the first ``total_iters`` steps, then back to its own."""

    def __init__(self, optimizer, factor=1.0 / 3, total_iters=5, last_epoch=-1):
        if not 0 <= factor <= 1:
            raise ValueError(f"ConstantLR: factor must be in [0, 1], got {factor}")
        self.factor, self.total_iters = factor, total_iters
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        if self.last_epoch == 0:
            return [group["lr"] * self.factor for group in self.optimizer.param_groups]
        if self.last_epoch != self.total_iters:
            return _current(self.optimizer, "lr")
        return [group["lr"] * (1.0 / self.factor) for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * (self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor))
                for base_lr in self.base_lrs]


class PolynomialLR(LRScheduler):
    """lr_t = initial_lr * (1 - t / total_iters) ** power until ``total_iters`` (0 from then on), computed
    recursively from the current lr as PyTorch does."""

    def __init__(self, optimizer, total_iters=5, power=1.0, last_epoch=-1):
        self.total_iters, self.power = total_iters, power
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        t, T = self.last_epoch, self.total_iters
        if self._is_initial or t > T:
            return _current(self.optimizer, "lr")
        decay_factor = ((1.0 - t / T) / (1.0 - (t - 1) / T)) ** self.power
        return [group["lr"] * decay_factor for group in self.optimizer.param_groups]

    def _get_closed_form_lr(self):
        return [base_lr * (1.0 - min(self.total_iters, self.last_epoch) / self.total_iters) ** self.power
                for base_lr in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr_t = eta_min + (base_lr - eta_min) * (1 + cos(pi * t / T_max)) / 2, computed recursively
    from the current lr as PyTorch does (and continuing past T_max as a cosine, without restarts)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self):
        groups, t, T = self.optimizer.param_groups, self.last_epoch, self.T_max
        if self._is_initial:
            return _current(self.optimizer, "lr")
        if (t - 1 - T) % (2 * T) == 0:  # leaving the minimum, where the ratio below would be 0/0
            return [group["lr"] + (base_lr - self.eta_min) * (1 - math.cos(math.pi / T)) / 2
                    for base_lr, group in zip(self.base_lrs, groups)]
        ratio = (1 + math.cos(math.pi * t / T)) / (1 + math.cos(math.pi * (t - 1) / T))
        return [ratio * (group["lr"] - self.eta_min) + self.eta_min for group in groups]

    def _get_closed_form_lr(self):
        return [self.eta_min + (base_lr - self.eta_min) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2
                for base_lr in self.base_lrs]


class _Wrapper(LRScheduler):
    """A scheduler that steps others (SequentialLR, ChainedScheduler): its state dict holds theirs."""

    _not_saved = ("optimizer", "_schedulers")

    def _wrap(self, schedulers, optimizer=None):
        """Check and keep ``schedulers``: at least one, none a ReduceLROnPlateau, all of ``optimizer`` (by
        default the first one's)."""
        name = type(self).__name__
        if len(schedulers) < 1:
            raise ValueError(f"{name} expects at least one scheduler")
        self.optimizer = _check_optimizer(optimizer or schedulers[0].optimizer)
        for i, scheduler in enumerate(schedulers):
            if isinstance(scheduler, ReduceLROnPlateau):
                raise ValueError(f"{name}: schedulers[{i}] is a ReduceLROnPlateau, whose step() needs a metric; "
                                 f"it cannot be wrapped")
            if getattr(scheduler, "optimizer", None) is not self.optimizer:
                raise ValueError(f"{name}: schedulers[{i}] ({type(scheduler).__name__}) belongs to another "
                                 f"optimizer")
        self._schedulers = list(schedulers)

    def state_dict(self):
        """Our attributes plus ``_schedulers``: the wrapped schedulers' state dicts, in order."""
        return {**super().state_dict(), "_schedulers": [s.state_dict() for s in self._schedulers]}

    def load_state_dict(self, state_dict):
        name = type(self).__name__
        inner = state_dict.get("_schedulers")
        if inner is not None and len(inner) != len(self._schedulers):
            raise ValueError(f"{name}.load_state_dict: the state dict holds {len(inner)} scheduler state(s), this "
                             f"{name} has {len(self._schedulers)} schedulers")
        super().load_state_dict(state_dict)
        for scheduler, saved in zip(self._schedulers, inner):
            scheduler.load_state_dict(saved)


class SequentialLR(_Wrapper):
    """Run ``schedulers[i]`` between ``milestones[i-1]`` and ``milestones[i]``; at a milestone the next
    scheduler starts from its epoch 0 (in closed form where it has one), as in PyTorch."""

    def __init__(self, optimizer, schedulers, milestones, last_epoch=-1):
        self._wrap(schedulers, optimizer)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(f"SequentialLR: expected {len(schedulers) - 1} milestone(s) for {len(schedulers)} "
                             f"schedulers, got {len(milestones)}")
        self._milestones = list(milestones)
        self.last_epoch = last_epoch + 1
        for group in optimizer.param_groups:
            group["lr"] = group["initial_lr"]
        self._undo_initial_steps(self)
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    @staticmethod
    def _undo_initial_steps(scheduler):
        """Take back the initial step each wrapped scheduler made when it was built (recursively)."""
        if hasattr(scheduler, "_schedulers"):
            for inner in scheduler._schedulers:
                SequentialLR._undo_initial_steps(inner)
        else:
            scheduler.last_epoch -= 1

    def step(self):
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
            scheduler._update_lr(0)
        else:
            scheduler.step()
        self._last_lr = scheduler.get_last_lr()


class ChainedScheduler(_Wrapper):
    """Step every scheduler of ``schedulers`` at each step, in order, so that their factors multiply (say,
    a ConstantLR warm-up on top of an ExponentialLR decay). ``optimizer`` defaults to the first one's."""

    def __init__(self, schedulers, optimizer=None):
        self._wrap(schedulers, optimizer)
        self._last_lr = _current(self.optimizer, "lr")

    def step(self):
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = _current(self.optimizer, "lr")


class OneCycleLR(LRScheduler):
    """The 1cycle policy (Smith & Topin): per batch, the learning rate rises from max_lr/div_factor to
    max_lr over the first ``pct_start`` of ``total_steps`` (or epochs * steps_per_epoch), then falls to
    initial_lr/final_div_factor, by cosine or linear annealing; momentum (SGD) or beta1 (Adam) moves
    the opposite way between max_momentum and base_momentum. ``three_phase`` comes back down to
    initial_lr symmetrically before the final descent. Stepping past total_steps raises, as in PyTorch."""

    def __init__(self, optimizer, max_lr, total_steps=None, epochs=None, steps_per_epoch=None, pct_start=0.3,
                 anneal_strategy="cos", cycle_momentum=True, base_momentum=0.85, max_momentum=0.95,
                 div_factor=25.0, final_div_factor=1e4, three_phase=False, last_epoch=-1):
        self.optimizer = _check_optimizer(optimizer)
        if total_steps is not None:
            if not isinstance(total_steps, int) or total_steps <= 0:
                raise ValueError(f"OneCycleLR: expected a positive integer total_steps, got {total_steps}")
            self.total_steps = total_steps
        elif epochs is not None and steps_per_epoch is not None:
            for name, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
                if not isinstance(value, int) or value <= 0:
                    raise ValueError(f"OneCycleLR: expected a positive integer {name}, got {value}")
            self.total_steps = epochs * steps_per_epoch
        else:
            raise ValueError("OneCycleLR: give total_steps, or both epochs and steps_per_epoch")
        if not isinstance(pct_start, float) or not 0 <= pct_start <= 1:
            raise ValueError(f"OneCycleLR: expected a float pct_start in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"OneCycleLR: anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}")
        self._anneal_func_type = anneal_strategy

        def phase(end_step, start_lr, end_lr, start_momentum, end_momentum):
            return dict(end_step=end_step, start_lr=start_lr, end_lr=end_lr, start_momentum=start_momentum,
                        end_momentum=end_momentum)
        warmup_end = float(pct_start * self.total_steps) - 1
        if three_phase:
            self._schedule_phases = [
                phase(warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                phase(float(2 * pct_start * self.total_steps) - 2, "max_lr", "initial_lr", "base_momentum",
                      "max_momentum"),
                phase(self.total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum")]
        else:
            self._schedule_phases = [
                phase(warmup_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                phase(self.total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum")]

        max_lrs = _per_group("max_lr", optimizer, max_lr)
        if last_epoch == -1:
            for group, group_max_lr in zip(optimizer.param_groups, max_lrs):
                group["initial_lr"] = group_max_lr / div_factor
                group["max_lr"] = group_max_lr
                group["min_lr"] = group["initial_lr"] / final_div_factor

        self.cycle_momentum = cycle_momentum
        if cycle_momentum:
            self.use_beta1 = _start_momentum_cycle("OneCycleLR", optimizer, base_momentum, max_momentum,
                                                   last_epoch)[0]
        super().__init__(optimizer, last_epoch)

    def _anneal(self, start, end, pct):
        if self._anneal_func_type == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self):
        """The learning rates for this step; also sets each group's momentum (or beta1) when cycling."""
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(f"OneCycleLR: tried to step {step} times; the specified number of total steps "
                             f"is {self.total_steps}")
        lrs = []
        for group in self.optimizer.param_groups:
            start_step = 0.0
            for i, phase in enumerate(self._schedule_phases):
                end_step = phase["end_step"]
                if step <= end_step or i == len(self._schedule_phases) - 1:
                    pct = (step - start_step) / (end_step - start_step)
                    lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
                    if self.cycle_momentum:
                        _set_momentum(group, self._anneal(group[phase["start_momentum"]],
                                                          group[phase["end_momentum"]], pct), self.use_beta1)
                    break
                start_step = phase["end_step"]
        return lrs


class ReduceLROnPlateau(LRScheduler):
    """Multiply the learning rate by ``factor`` (not below ``min_lr``) when the metric passed to
    ``step(metric)`` has not improved (by ``threshold``, relative or absolute) for more than
    ``patience`` steps; then wait ``cooldown`` steps before counting again. Changes smaller than
    ``eps`` are skipped."""

    def __init__(self, optimizer, mode="min", factor=0.1, patience=10, threshold=1e-4, threshold_mode="rel",
                 cooldown=0, min_lr=0, eps=1e-8):
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0, got {factor}")
        self.factor = factor
        self.optimizer = _check_optimizer(optimizer)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != len(optimizer.param_groups):
                raise ValueError(f"ReduceLROnPlateau: expected {len(optimizer.param_groups)} min_lrs (one per "
                                 f"parameter group), got {len(min_lr)}")
            self.default_min_lr = None
            self.min_lrs = list(min_lr)
        else:
            self.default_min_lr = min_lr
            self.min_lrs = [min_lr] * len(optimizer.param_groups)
        self.patience, self.cooldown, self.eps = patience, cooldown, eps
        self.last_epoch = 0
        self._last_lr = _current(optimizer, "lr")
        self._init_is_better(mode, threshold, threshold_mode)
        self.best = self.mode_worse
        self.cooldown_counter = 0
        self.num_bad_epochs = 0

    def _init_is_better(self, mode, threshold, threshold_mode):
        if mode not in ("min", "max"):
            raise ValueError(f"ReduceLROnPlateau: mode must be 'min' or 'max', got {mode!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"ReduceLROnPlateau: threshold_mode must be 'rel' or 'abs', got {threshold_mode!r}")
        self.mode_worse = math.inf if mode == "min" else -math.inf
        self.mode, self.threshold, self.threshold_mode = mode, threshold, threshold_mode

    @property
    def in_cooldown(self):
        return self.cooldown_counter > 0

    def _is_better(self, value, best):
        if self.mode == "min":
            return value < (best * (1.0 - self.threshold) if self.threshold_mode == "rel" else best - self.threshold)
        return value > (best * (self.threshold + 1.0) if self.threshold_mode == "rel" else best + self.threshold)

    def step(self, metrics, epoch=None):
        """Record one value of the monitored metric (a number or a one-element tensor)."""
        current = float(metrics)
        if epoch is not None:
            warnings.warn("scheduler.step(metric, epoch) is deprecated (as in PyTorch); leave out the epoch",
                          UserWarning, stacklevel=2)
        self.last_epoch = self.last_epoch + 1 if epoch is None else epoch
        if self._is_better(current, self.best):
            self.best, self.num_bad_epochs = current, 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0  # bad epochs in the cooldown do not count
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = _current(self.optimizer, "lr")

    def _reduce_lr(self):
        groups = self.optimizer.param_groups
        if len(groups) != len(self.min_lrs):
            if self.default_min_lr is None:
                raise RuntimeError(f"ReduceLROnPlateau: the optimizer has {len(groups)} parameter groups but "
                                   f"min_lrs has {len(self.min_lrs)} (was a group added?); set min_lrs to match")
            self.min_lrs = [self.default_min_lr] * len(groups)
        for group, min_lr in zip(groups, self.min_lrs):
            old_lr = float(group["lr"])
            new_lr = max(old_lr * self.factor, min_lr)
            if old_lr - new_lr > self.eps:
                group["lr"] = new_lr

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        self._init_is_better(self.mode, self.threshold, self.threshold_mode)


# PyTorch's lr_scheduler holds these too; they live in a module of their own (which imports the base from here)
from .cyclic_lr import CosineAnnealingWarmRestarts, CyclicLR  # noqa: E402,F401
