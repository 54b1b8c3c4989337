"""``Optimizer``: the base of every optimizer (SGD, Adam, AdamW, RMSprop, Adagrad): parameter groups,
per-parameter state, state dicts.

A subclass sets its default options and implements ``_update_group(group)``, which changes each
parameter's ``data`` in place from its ``grad`` (never writing into the gradient itself).
"""
import collections

import numpy as np

from .. import backend
from ..autograd import enable_grad
from ..nn.module import _array_of
from ..tensor import Tensor


class Optimizer:
    """Holds ``param_groups`` (dicts of parameters and their options) and ``state`` (per parameter).

    ``params`` is an iterable of Parameters, or of dicts ``{'params': [...], 'lr': ..., ...}`` whose
    options override ``defaults`` for that group, as in PyTorch."""

    def __init__(self, params, defaults):
        if isinstance(params, Tensor):
            raise TypeError(f"{type(self).__name__}: params must be an iterable of Tensors or dicts, got one Tensor "
                            f"(use model.parameters() or [tensor])")
        self.defaults = dict(defaults)
        self.state = collections.defaultdict(dict)
        self.param_groups = []
        groups = [{"params": params}] if isinstance(params, set) else list(params)  # add_param_group refuses sets
        if not groups:
            raise ValueError(f"{type(self).__name__} got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def __repr__(self):
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            lines += [f"    {key}: {value}" for key, value in sorted(group.items()) if key != "params"]
        return "\n".join(lines) + "\n)"

    def add_param_group(self, param_group):
        """Add a group of parameters with its own options (unset options take the defaults)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"add_param_group: expected a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group.get("params")
        if params is None:
            raise ValueError("add_param_group: the dict has no 'params' entry")
        if isinstance(params, set):
            raise TypeError("add_param_group: params must be an ordered collection (a list), not a set, "
                            "so that their order (and the state dict's indices) repeat between runs")
        params = [params] if isinstance(params, Tensor) else list(params)
        for i, p in enumerate(params):
            if not isinstance(p, Tensor):
                raise TypeError(f"add_param_group: params[{i}] is a {type(p).__name__}, not a Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"add_param_group: params[{i}] has dtype {p.dtype}; only floating-point "
                                f"tensors can be optimized")
            if not p.is_leaf:
                raise ValueError(f"add_param_group: params[{i}] is not a leaf tensor (it was computed from "
                                 f"others); optimize the leaves, e.g. nn.Parameter objects")
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in params}) != len(params) or any(id(p) in seen for p in params):
            raise ValueError("add_param_group: a parameter appears more than once (in this group or in an "
                             "earlier one); each parameter may belong to one group only, once")
        group["params"] = params
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        self.param_groups.append(group)

    def _with_gradients(self, group):
        """(parameter, its array, its gradient's array, its state) for each parameter of ``group`` with a gradient."""
        for p in group["params"]:
            if p.grad is not None:
                yield p, p.array, p.grad.array, self.state[p]

    def zero_grad(self, set_to_none=True):
        """Drop every parameter's gradient (or, with ``set_to_none=False``, fill it with zeros)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.array[...] = 0

    def step(self, closure=None):
        """Update every parameter that has a gradient. ``closure``, if given, re-evaluates the model
        (with gradients enabled) and returns the loss, which ``step`` returns."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            if group["params"]:  # on the group's GPU, whichever one is CuPy's current: its kernels and new state
                with backend.on_device_of(group["params"][0].array):
                    self._update_group(group)
        return loss

    def _update_group(self, group):
        raise NotImplementedError(f"{type(self).__name__} does not define _update_group()")

    # ------------------------------------------------------------------ state dict
    def state_dict(self):
        """A snapshot in PyTorch's layout: ``{'state': {index: {name: value}}, 'param_groups': [{option: value,
        ..., 'params': [index, ...]}]}``. Indices number the parameters in group order from 0; state arrays
        are copied into Tensors on their parameter's device; ``step`` counts are Python ints."""
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {key: value for key, value in group.items() if key != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for p, entries in self.state.items():
            if id(p) in index and entries:
                state[index[id(p)]] = {name: _snapshot(value) for name, value in entries.items()}
        return {"state": dict(sorted(state.items())), "param_groups": groups}

    def load_state_dict(self, state_dict):
        """Restore a ``state_dict()`` (ours, or one whose arrays are NumPy/CuPy arrays or torch tensors).

        Group and parameter counts and every state array's shape must fit this optimizer; otherwise a
        ValueError names the mismatch and nothing changes. State arrays are copied to their parameter's
        device and dtype; group options are loaded as saved (learning rates included), and options the
        state dict lacks take this optimizer's defaults."""
        name = f"{type(self).__name__}.load_state_dict"
        missing = [key for key in ("state", "param_groups") if key not in state_dict]
        if missing:
            raise ValueError(f"{name}: the state dict has no {' or '.join(map(repr, missing))} entry "
                             f"(is it an optimizer's state dict?)")
        saved_groups = list(state_dict["param_groups"])
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(f"{name}: the state dict has {len(saved_groups)} parameter group(s), this optimizer "
                             f"has {len(self.param_groups)}")
        params_by_index = {}
        for g, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            saved_params = [int(i) for i in saved["params"]]
            if len(saved_params) != len(group["params"]):
                raise ValueError(f"{name}: parameter group {g} has {len(saved_params)} parameter(s) in the state "
                                 f"dict but {len(group['params'])} in this optimizer")
            params_by_index.update(zip(saved_params, group["params"]))

        state = collections.defaultdict(dict)
        for key, entries in state_dict["state"].items():
            index = int(key)
            if index not in params_by_index:
                raise ValueError(f"{name}: the state dict has state for parameter {index}, which no parameter "
                                 f"group lists")
            param = params_by_index[index]
            state[param] = {entry: _restore(value, param, f"{name}: state[{index}][{entry!r}]")
                            for entry, value in entries.items() if entry != "step"}
            if "step" in entries:
                state[param]["step"] = int(round(float(_array_of(entries["step"]))))

        groups = []
        for saved, group in zip(saved_groups, self.param_groups):
            options = {key: _plain(value, group.get(key)) for key, value in saved.items() if key != "params"}
            groups.append({**self.defaults, **options, "params": group["params"]})  # defaults: options it lacks
        self.state, self.param_groups = state, groups


def check_nonnegative(optimizer_name, **options):
    """Raise a ValueError naming the first option below 0 (``lr`` is called the learning rate)."""
    for name, value in options.items():
        if not value >= 0:
            label = "learning rate" if name == "lr" else name
            raise ValueError(f"{optimizer_name}: invalid {label} {value} (must be >= 0)")


def _snapshot(value):
    """A state value as saved: arrays (and Tensors) copied into a Tensor, anything else as it is."""
    if isinstance(value, Tensor):
        value = value.array
    if hasattr(value, "shape") and not isinstance(value, np.generic):
        return Tensor._wrap(value.copy())
    return value


def _restore(value, param, what):
    """A saved state array as a Tensor on ``param``'s device and dtype, after checking its shape."""
    array = _array_of(value)
    shape = tuple(np.shape(array))
    if shape != param.shape:
        raise ValueError(f"{what} has shape {shape} but its parameter has shape {param.shape}")
    array = backend.to_device(array, param.device)
    return Tensor._wrap(array.astype(param.dtype, order="C", copy=True))


def _plain(value, current=None):
    """A loaded option or scheduler attribute as plain Python values, recursively: NumPy/torch scalars and
    arrays become numbers and lists (so no float64 scalar creeps into float32 updates), and a list becomes
    a tuple where the ``current`` value is one (Adam's betas)."""
    if hasattr(value, "tolist"):
        value = value.tolist()
    elif isinstance(value, dict):
        value = {key: _plain(item, current.get(key) if isinstance(current, dict) else None)
                 for key, item in value.items()}
    elif isinstance(value, list):
        value = [_plain(item) for item in value]
    if isinstance(current, tuple) and isinstance(value, list):
        value = tuple(value)
    return value


def fused_views(param, grad, *state):
    """Flat views of a parameter, its gradient and state arrays for a one-pass kernel (``kernels/optim.py``:
    numba, or CUDA for CuPy arrays), or None where the array code runs instead: non-contiguous or mixed-dtype
    arrays, and array types other than NumPy's and CuPy's."""
    if not (backend.is_cupy_array(param) or type(param) is np.ndarray):
        return None
    arrays = (param, grad) + state
    if param.dtype not in (np.float32, np.float64) or any(
            type(a) is not type(param) or a.dtype != param.dtype or not a.flags.c_contiguous for a in arrays):
        return None
    return [a.reshape(-1) for a in arrays]
