"""``Module``: the base of every layer and model, holding parameters, buffers and sub-modules.

Names follow PyTorch's exactly, so a ``state_dict`` moves between the two frameworks unchanged.
"""
import collections
import itertools

import numpy as np

from .. import autograd, backend
from ..autograd import RemovableHandle
from ..tensor import Tensor


class Parameter(Tensor):
    """A tensor that a Module registers as a learnable weight (requires_grad by default)."""

    __slots__ = ()

    def __init__(self, data, requires_grad=True):
        super().__init__(data)
        self.requires_grad_(requires_grad)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class StateDictError(ValueError):
    """A state dict that does not fit the module: missing, unexpected or mis-shaped entries."""


IncompatibleKeys = collections.namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class Module:
    """Base class of layers and models: subclasses assign parameters and sub-modules in ``__init__``
    and compute their output in ``forward``."""

    def __init__(self):
        object.__setattr__(self, "training", True)
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_forward_hooks", {})
        object.__setattr__(self, "_forward_pre_hooks", {})

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"assign {name!r} after calling super().__init__() in {type(self).__name__}.__init__")
        params, buffers, modules = self._parameters, self._buffers, self._modules
        if isinstance(value, Parameter):
            self._forget(name, keep=params)
            params[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter {name!r} (use nn.Parameter or None)")
            params[name] = None
        elif name in buffers:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} (use a Tensor or None)")
            buffers[name] = value
        elif name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to sub-module {name!r} (use a Module or None)")
            modules[name] = None
        else:
            object.__setattr__(self, name, value)

    def _forget(self, name, keep=None):
        """Drop ``name`` from every table but ``keep``: a name registered again keeps its place, as in PyTorch."""
        for table in (self.__dict__, self._parameters, self._buffers, self._modules):
            if table is not keep:
                table.pop(name, None)
        self._non_persistent_buffers.discard(name)

    def __getattr__(self, name):
        for table in ("_parameters", "_buffers", "_modules"):
            entries = self.__dict__.get(table)
            if entries is not None and name in entries:
                return entries[name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name):
        if name in self._parameters or name in self._buffers or name in self._modules:
            self._forget(name)
        else:
            object.__delattr__(self, name)

    def register_parameter(self, name, param):
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter({name!r}): expected a Parameter or None, got {type(param).__name__}")
        self._forget(name, keep=self._parameters)
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """A tensor that is state but not a parameter (running statistics); in ``state_dict`` if persistent."""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer({name!r}): expected a Tensor or None, got {type(tensor).__name__}")
        self._forget(name, keep=self._buffers)
        self._buffers[name] = tensor
        if not persistent:
            self._non_persistent_buffers.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module({name!r}): expected a Module, got {type(module).__name__}")
        self._forget(name, keep=self._modules)
        self._modules[name] = module

    register_module = add_module

    # ------------------------------------------------------------------ running
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define forward()")

    def __call__(self, *args, **kwargs):
        state = self.__dict__
        backward_hooks = state.get("_backward_hooks") or state.get("_backward_pre_hooks")  # made by the first one
        if not (self._forward_pre_hooks or self._forward_hooks or backward_hooks):
            return self.forward(*args, **kwargs)
        for hook in list(self._forward_pre_hooks.values()):
            changed = hook(self, args)
            if changed is not None:
                args = changed if isinstance(changed, tuple) else (changed,)
        catcher = _BackwardHooks(self, args) if backward_hooks and autograd.is_grad_enabled() else None
        if catcher is not None:
            args = catcher.wrap_inputs(args)
        out = self.forward(*args, **kwargs)
        for hook in list(self._forward_hooks.values()):
            changed = hook(self, args, out)
            if changed is not None:
                out = changed
        return out if catcher is None else catcher.wrap_output(out)

    def register_forward_hook(self, hook):
        """Call ``hook(module, inputs, output)`` after each forward; it may return a replacement output."""
        return self._add_hook("_forward_hooks", hook)

    def register_forward_pre_hook(self, hook):
        """Call ``hook(module, inputs)`` before each forward; it may return replacement inputs."""
        return self._add_hook("_forward_pre_hooks", hook)

    def register_full_backward_hook(self, hook):
        """Call ``hook(module, grad_input, grad_output)`` (tuples of gradient tensors, None for an input that needs
        none) once the gradients w.r.t. the module's inputs are computed; it may return a replacement grad_input."""
        return self._add_hook("_backward_hooks", hook)

    def register_full_backward_pre_hook(self, hook):
        """Call ``hook(module, grad_output)`` once the gradient w.r.t. the module's output is computed, before it flows
        into the module; it may return a replacement grad_output."""
        return self._add_hook("_backward_pre_hooks", hook)

    def _add_hook(self, table, hook):
        """Keep ``hook`` in the table of that name, made on first use (the backward ones: most modules have none)."""
        hooks = self.__dict__.setdefault(table, {})
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        return handle

    def train(self, mode=True):
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        return self.train(False)

    def zero_grad(self, set_to_none=True):
        for p in self.parameters():
            if set_to_none or p.grad is None:
                p.grad = None
            else:
                p.grad.array[...] = 0

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    # ------------------------------------------------------------------ traversal
    def named_modules(self, memo=None, prefix=""):
        """Every module in the tree (self first, then depth-first), each once."""
        memo = set() if memo is None else memo
        if id(self) in memo:
            return
        memo.add(id(self))
        yield prefix, self
        for name, child in self._modules.items():
            if child is not None:
                yield from child.named_modules(memo, f"{prefix}.{name}" if prefix else name)

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        seen = set()
        for name, child in self._modules.items():
            if child is not None and id(child) not in seen:
                seen.add(id(child))
                yield name, child

    def children(self):
        for _, child in self.named_children():
            yield child

    def _named_members(self, table, prefix, recurse):
        seen = set()
        modules = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, table).items():
                if value is None or id(value) in seen:
                    continue
                seen.add(id(value))
                yield (f"{module_prefix}.{name}" if module_prefix else name), value

    def named_parameters(self, prefix="", recurse=True):
        return self._named_members("_parameters", prefix, recurse)

    def parameters(self, recurse=True):
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix="", recurse=True):
        return self._named_members("_buffers", prefix, recurse)

    def buffers(self, recurse=True):
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def apply(self, fn):
        """Call ``fn(module)`` on every sub-module (children first), then on self; returns self."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, device=None, dtype=None, non_blocking=False):
        """Move parameters and buffers in place (the Parameter objects stay, so optimizers keep them);
        ``dtype`` applies to floating-point ones only; ``non_blocking`` is accepted and has no effect."""
        if isinstance(device, (type, np.dtype)):
            device, dtype = None, device
        device = None if device is None else backend.parse_device(device)

        def convert(array):
            if device is not None:
                array = backend.to_device(array, device)
            if dtype is not None and array.dtype.kind == "f":
                array = array.astype(dtype, copy=False)
            return array

        for module in self.modules():
            for table in (module._parameters, module._buffers):
                for t in table.values():
                    if t is not None:
                        t.array = convert(t.array)
                        if t.grad is not None:
                            t.grad = Tensor._wrap(convert(t.grad.array))
        return self

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=0):
        return self.to(f"cuda:{device}" if isinstance(device, int) else device)

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    # ------------------------------------------------------------------ state dict
    def state_dict(self, destination=None, prefix=""):
        """An ordered mapping from PyTorch's names to detached tensors sharing this module's memory."""
        destination = collections.OrderedDict() if destination is None else destination
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b.detach()
        for name, child in self._modules.items():
            if child is not None:
                child.state_dict(destination, prefix + name + ".")
        return destination

    def load_state_dict(self, state_dict, strict=True):
        """Copy values (Tensors, NumPy or CuPy arrays) into this module's parameters and buffers in place.

        A mis-shaped entry always raises; with ``strict``, so do missing and unexpected keys. Nothing is
        copied unless everything fits."""
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        for key, target in own.items():
            if key in state_dict:
                shape = tuple(np.shape(_array_of(state_dict[key])))
                if shape != target.shape:
                    raise StateDictError(f"{type(self).__name__}.load_state_dict: {key!r} has shape {shape} in the "
                                         f"state dict but {target.shape} in the model")
        if strict and (missing or unexpected):
            parts = []
            if missing:
                parts.append(f"missing key(s) {', '.join(map(repr, missing))}")
            if unexpected:
                parts.append(f"unexpected key(s) {', '.join(map(repr, unexpected))}")
            raise StateDictError(f"{type(self).__name__}.load_state_dict: " + "; ".join(parts) +
                                 " (is the state dict from another model?)")
        for key, target in own.items():
            if key in state_dict:
                value = _array_of(state_dict[key])
                target.array[...] = backend.to_device(value, target.device).astype(target.dtype, copy=False)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ printing
    def extra_repr(self):
        """The text inside the parentheses of this module's repr (its settings)."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = [f"({name}): " + repr(child).replace("\n", "\n  ") for name, child in self._modules.items()]
        if not children and len(lines) <= 1:
            return f"{type(self).__name__}({extra})"
        return f"{type(self).__name__}(\n  " + "\n  ".join(lines + children) + "\n)"


def _array_of(value):
    """The array inside a state-dict value: a Tensor, a NumPy or CuPy array, or anything array-like."""
    if isinstance(value, Tensor):
        return value.array
    if hasattr(value, "shape") and hasattr(value, "dtype") and not hasattr(value, "detach"):
        return value
    if hasattr(value, "detach"):  # a torch.Tensor
        return value.detach().cpu().numpy()
    return np.asarray(value)


class _Pass(autograd.Function):
    """The identity, as PyTorch's BackwardHookFunction: a node of its own in the graph, whose tensor hooks see the
    gradient w.r.t. a module's input or output."""

    saves_arrays = False

    def forward(self, x):
        return x

    def backward(self, grad):
        return grad


class _BackwardHooks:
    """A module's full backward hooks for one call: an identity op on its output and one on its input catch the
    gradients w.r.t. them. The pre-hooks run on the output's gradient; the hooks run once the input's gradient is
    computed, or right after the pre-hooks when no input needs one (with None as each grad_input, as PyTorch)."""

    def __init__(self, module, args):
        self.module, self.count = module, len(args)
        self.wanted = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
        if len(self.wanted) > 1:
            raise NotImplementedError(f"{type(module).__name__}: full backward hooks support a module with one input "
                                      f"that requires grad, got {len(self.wanted)}")
        self.grad_output = None

    def wrap_inputs(self, args):
        if not self.wanted:
            return args
        index = self.wanted[0]
        wrapped = _Pass.apply(args[index])
        wrapped.register_hook(lambda grad: self._on_input_grad(index, grad))
        return args[:index] + (wrapped,) + args[index + 1:]

    def wrap_output(self, out):
        if not isinstance(out, Tensor):
            raise NotImplementedError(f"{type(self.module).__name__}: full backward hooks support a module whose "
                                      f"output is one Tensor, got {type(out).__name__}")
        if not out.requires_grad:
            return out
        out = _Pass.apply(out)
        out.register_hook(self._on_output_grad)
        return out

    def _on_output_grad(self, grad):
        grad_output = (grad,)
        for hook in list(self.module.__dict__.get("_backward_pre_hooks", {}).values()):
            changed = hook(self.module, grad_output)
            if changed is not None:
                grad_output = changed if isinstance(changed, tuple) else (changed,)
        self.grad_output = grad_output
        if not self.wanted:
            changed = self._run_hooks((None,) * self.count)
            if any(g is not None for g in changed):
                raise RuntimeError("Backward hook for Modules where no input requires gradient should always return "
                                   "None or None for all gradients.")
        return grad_output[0]

    def _on_input_grad(self, index, grad):
        grad_input = tuple(grad if i == index else None for i in range(self.count))
        return self._run_hooks(grad_input)[index]

    def _run_hooks(self, grad_input):
        """grad_input after each full backward hook, given it and grad_output, returned None or a replacement."""
        for hook in list(self.module.__dict__.get("_backward_hooks", {}).values()):
            changed = hook(self.module, grad_input, self.grad_output)
            if changed is not None:
                changed = changed if isinstance(changed, tuple) else (changed,)
                if len(changed) != len(grad_input):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got "
                                       f"{len(changed)}, but expected {len(grad_input)}")
                grad_input = changed
        return grad_input
