"""``torch.amp``: ``autocast`` and ``GradScaler``, so that mixed-precision training scripts run unchanged.

This framework computes in float32 (it has no float16 kernels): ``autocast`` accepts PyTorch's arguments and
tracks whether it is on (``is_autocast_enabled``), but ops compute as they would without it, in float32.
``GradScaler`` follows PyTorch's semantics exactly: loss scaling, unscaling, skipped steps on inf/NaN gradients,
the scale's backoff and growth, and its state dict. As PyTorch's, a scaler or autocast for 'cuda' is disabled
(with a warning) where CUDA is not available.
"""
import enum
import functools
import warnings
from collections import abc, defaultdict

import numpy as np

from . import backend
from .tensor import Tensor

_DEVICE_TYPES = ("cpu", "cuda")
_autocast_enabled = dict.fromkeys(_DEVICE_TYPES, False)


def _cuda_unavailable(device_type, enabled, what):
    """True (after PyTorch's warning) where ``what`` is enabled for 'cuda' but there is no GPU to run it on."""
    if device_type == "cuda" and enabled and not backend.cuda_is_available():
        warnings.warn(f"{what} is enabled, but CUDA is not available.  Disabling.", stacklevel=3)
        return True
    return False


def is_autocast_enabled(device_type="cuda"):
    """Whether an ``autocast`` for ``device_type`` is on (innermost one wins), as PyTorch's."""
    return _autocast_enabled[device_type]


class autocast:
    """PyTorch's ``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``: a context manager
    and decorator that turns autocasting on (or off, ``enabled=False``) for its block.

    Deliberate difference: ops compute in float32 inside it as outside (no float16 kernels here); ``dtype`` and
    ``cache_enabled`` are accepted for PyTorch's signature only."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _DEVICE_TYPES:
            raise RuntimeError(f"autocast: device_type must be one of {_DEVICE_TYPES}, got {device_type!r}")
        self.device = device_type
        self.fast_dtype = dtype
        self._enabled = bool(enabled) and not _cuda_unavailable(device_type, enabled, "autocast")
        self._outer = []  # the states to restore, one per entered (possibly recursive) use

    def __enter__(self):
        self._outer.append(_autocast_enabled[self.device])
        _autocast_enabled[self.device] = self._enabled
        return self

    def __exit__(self, *exc_info):
        _autocast_enabled[self.device] = self._outer.pop()
        return False

    def __call__(self, func):
        @functools.wraps(func)
        def with_autocast(*args, **kwargs):
            with self:
                return func(*args, **kwargs)
        return with_autocast


class CudaAutocast(autocast):
    """``torch.cuda.amp.autocast(enabled=True, dtype=float16, cache_enabled=True)``: ``autocast('cuda', ...)``."""

    def __init__(self, enabled=True, dtype=np.float16, cache_enabled=True):
        super().__init__("cuda", dtype=dtype, enabled=enabled, cache_enabled=cache_enabled)


class _Stage(enum.Enum):
    READY, UNSCALED, STEPPED = range(3)


def _fresh_optimizer_state():
    return {"stage": _Stage.READY, "found_inf": None}


class GradScaler:
    """PyTorch's ``torch.amp.GradScaler(device='cuda', init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5,
    growth_interval=2000, enabled=True)``: scales the loss so that small gradients survive float16, unscales the
    gradients before the step, skips steps whose gradients hold inf/NaN and adapts the scale.

    The scale is a float32 number, as PyTorch's 0-d float32 tensor, and follows the same arithmetic. Disabled
    (``enabled=False``, or for 'cuda' without a GPU), every method passes through as PyTorch's does."""

    def __init__(self, device="cuda", init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5,
                 growth_interval=2000, enabled=True):
        self._device = device
        self._enabled = bool(enabled) and not _cuda_unavailable(device, enabled, "torch.cuda.amp.GradScaler")
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
        self._init_scale = init_scale
        self._scale = None  # set by the first scale(), as PyTorch's
        self._growth_factor = growth_factor
        self._backoff_factor = backoff_factor
        self._growth_interval = growth_interval
        self._growth_tracker = 0  # consecutive clean steps since the last growth or backoff
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    def scale(self, outputs):
        """``outputs`` (a tensor, or nested lists/tuples/iterables of tensors) multiplied by the scale."""
        if not self._enabled:
            return outputs
        if self._scale is None:
            self._scale = np.float32(self._init_scale)

        def apply_scale(value):
            if isinstance(value, Tensor):
                return value * float(self._scale)
            if isinstance(value, abc.Iterable):
                scaled = map(apply_scale, value)
                return type(value)(scaled) if isinstance(value, (list, tuple)) else scaled
            raise ValueError("outputs must be a Tensor or an iterable of Tensors")
        return apply_scale(outputs)

    def unscale_(self, optimizer):
        """Divide ``optimizer``'s gradients by the scale in place (once per step) and note any inf/NaN in them."""
        if not self._enabled:
            return
        self._check_scaled("unscale_")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is _Stage.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv_scale = np.float32(1.0 / np.float64(self._scale))  # PyTorch's: the reciprocal in float64, then float32
        grads = [p.grad.array for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if any(grad.dtype == np.float16 for grad in grads):
            raise ValueError("Attempting to unscale FP16 gradients.")
        state["found_inf"] = not backend.all_finite(grads)  # as PyTorch's kernel: checked before unscaling
        for grad in grads:
            grad *= inv_scale  # every gradient, as PyTorch's, even when one is not finite
        state["stage"] = _Stage.UNSCALED

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step(*args, **kwargs)`` on the unscaled gradients, or nothing (None) if any is inf/NaN."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        self._check_scaled("step")
        state = self._per_optimizer_states[id(optimizer)]
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _Stage.READY:
            self.unscale_(optimizer)
        result = None if state["found_inf"] else optimizer.step(*args, **kwargs)
        state["stage"] = _Stage.STEPPED
        return result

    def update(self, new_scale=None):
        """Set the scale to ``new_scale`` (a float or 1-element tensor) or, by default, multiply it by
        ``backoff_factor`` if this iteration found inf/NaN, by ``growth_factor`` after ``growth_interval``
        clean iterations in a row (where the product stays finite)."""
        if not self._enabled:
            return
        self._check_scaled("update")
        if new_scale is not None:
            if isinstance(new_scale, Tensor) and (new_scale.numel() != 1 or new_scale.requires_grad):
                raise AssertionError("new_scale should be a float or a 1-element tensor with requires_grad=False.")
            self._scale = np.float32(new_scale.item() if isinstance(new_scale, Tensor) else new_scale)
        else:
            found_infs = [s["found_inf"] for s in self._per_optimizer_states.values() if s["found_inf"] is not None]
            if not found_infs:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(found_infs):
                self._scale = np.float32(float(self._scale) * self._backoff_factor)
                self._growth_tracker = 0
            elif self._growth_tracker + 1 == self._growth_interval:
                grown = np.float32(float(self._scale) * self._growth_factor)
                self._scale = grown if np.isfinite(grown) else self._scale
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
        self._per_optimizer_states = defaultdict(_fresh_optimizer_state)

    def get_scale(self):
        """The current scale as a Python float (1.0 when disabled)."""
        if not self._enabled:
            return 1.0
        return float(self._init_scale if self._scale is None else self._scale)

    def get_growth_factor(self):
        return self._growth_factor

    def set_growth_factor(self, new_factor):
        self._growth_factor = new_factor

    def get_backoff_factor(self):
        return self._backoff_factor

    def set_backoff_factor(self, new_factor):
        self._backoff_factor = new_factor

    def get_growth_interval(self):
        return self._growth_interval

    def set_growth_interval(self, new_interval):
        self._growth_interval = new_interval

    def is_enabled(self):
        return self._enabled

    def state_dict(self):
        """PyTorch's keys: scale, growth_factor, backoff_factor, growth_interval, _growth_tracker ({} disabled)."""
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict):
        """Restore what ``state_dict()`` returned (a no-op when disabled)."""
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved "
                               "from a disabled instance of GradScaler.")
        self._init_scale = state_dict["scale"]
        if self._scale is not None:
            self._scale = np.float32(state_dict["scale"])
        self._growth_factor = state_dict["growth_factor"]
        self._backoff_factor = state_dict["backoff_factor"]
        self._growth_interval = state_dict["growth_interval"]
        self._growth_tracker = state_dict["_growth_tracker"]

    def _check_scaled(self, funcname):
        if self._scale is None:
            raise AssertionError(f"Attempted {funcname} but _scale is None.  This may indicate your script did not "
                                 f"use scaler.scale(loss or outputs) earlier in the iteration.")


class CudaGradScaler(GradScaler):
    """``torch.cuda.amp.GradScaler(init_scale=2.**16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
    enabled=True)``: ``GradScaler('cuda', ...)``."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        super().__init__("cuda", init_scale, growth_factor, backoff_factor, growth_interval, enabled)
