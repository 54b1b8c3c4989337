"""Modules that hold other modules or parameters: ``Sequential``, ``ModuleList``, ``ModuleDict``, ``ParameterList``
and ``ParameterDict``.

Each keeps its entries in order in one table of the module (``_modules`` or ``_parameters``) under their keys (a
list's "0", "1", ...), so ``state_dict``, ``parameters()`` and the optimizers see them under PyTorch's names. A list
or dict behaviour (``_Sequence``, ``_Mapping``) combines with what the entries are (``_ModuleEntries``,
``_ParameterEntries``).
"""
import collections
import operator

from ..tensor import Tensor
from .module import Module, Parameter


class _Container(Module):
    """Entries in ``self._table()``, in order; ``_register(key, value)`` adds or replaces one (in its place)."""

    holds = "entries"  # what the entries are, for messages

    def _table(self):
        raise NotImplementedError

    def _register(self, key, value):
        raise NotImplementedError

    def __len__(self):
        return len(self._table())


class _ModuleEntries(_Container):
    holds = "modules"

    def _table(self):
        return self._modules

    def _register(self, key, module):
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__}")
        self.add_module(key, module)


class _ParameterEntries(_Container):
    """A plain Tensor becomes a Parameter sharing its memory (requires_grad), as in PyTorch."""

    holds = "parameters"

    def _table(self):
        return self._parameters

    def _register(self, key, value):
        if not isinstance(value, Tensor):
            raise TypeError(f"{type(self).__name__} holds Parameters (or Tensors, which become Parameters), "
                            f"got {type(value).__name__}")
        self.register_parameter(key, value if isinstance(value, Parameter) else Parameter(value))

    def extra_repr(self):
        return "\n".join(f"  ({key}): Parameter containing: [{p.dtype} of size {'x'.join(map(str, p.shape))}"
                         + ("" if p.device == "cpu" else f" ({p.device})") + "]" for key, p in self._table().items())


class _Sequence(_Container):
    """The list behaviour, as PyTorch's: entries indexed by position (negative indices and slices too), appended
    under the keys "0", "1", ..."""

    def _from_items(self, items):
        """A container of this kind holding the (key, entry) pairs ``items`` (what a slice returns): numbered from
        0 again."""
        return type(self)(value for _, value in items)

    def _key(self, index):
        """The key of the entry at position ``index``."""
        keys = list(self._table())
        try:
            return keys[operator.index(index)]
        except IndexError:
            message = f"index {index} is out of range for a {type(self).__name__} of {len(keys)} {self.holds}"
            raise IndexError(message) from None

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._from_items(list(self._table().items())[index])
        return self._table()[self._key(index)]

    def __setitem__(self, index, value):
        self._register(self._key(index), value)

    def __iter__(self):
        return iter(self._table().values())

    def append(self, value):
        self._register(str(len(self)), value)
        return self

    def extend(self, values):
        if isinstance(values, Tensor) or not isinstance(values, collections.abc.Iterable):
            raise TypeError(f"{type(self).__name__}.extend takes an iterable of {self.holds}, got "
                            f"{type(values).__name__}")
        for value in values:
            self.append(value)
        return self


class _Mapping(_Container):
    """The dict behaviour, as PyTorch's: entries under string keys in insertion order (a key set again keeps its
    place)."""

    sorts_plain_dicts = False  # whether ``update`` takes a plain dict's items sorted by key

    def _checked_key(self, key):
        if not isinstance(key, str):
            raise TypeError(f"{type(self).__name__} keys are strings, got {type(key).__name__}")
        if not key or "." in key:
            raise KeyError(f"{type(self).__name__} key {key!r}: a key is a non-empty name without '.'")
        if key not in self._table() and hasattr(self, key):
            raise KeyError(f"{type(self).__name__} key {key!r} is the name of an attribute or method")
        return key

    def __getitem__(self, key):
        return self._table()[key]

    def __setitem__(self, key, value):
        self._register(self._checked_key(key), value)

    def __delitem__(self, key):
        del self._table()[key]

    def __iter__(self):
        return iter(self._table())

    def __contains__(self, key):
        return key in self._table()

    def keys(self):
        return self._table().keys()

    def items(self):
        return self._table().items()

    def values(self):
        return self._table().values()

    def update(self, entries):
        """Add or replace the entries of a mapping or of an iterable of (key, value) pairs, in their order."""
        if isinstance(entries, (collections.abc.Mapping, _Mapping)):
            pairs = entries.items()
            if self.sorts_plain_dicts and not isinstance(entries, (collections.OrderedDict, _Mapping)):
                pairs = sorted(pairs)
        elif isinstance(entries, collections.abc.Iterable) and not isinstance(entries, (str, Tensor)):
            pairs = entries
        else:
            raise TypeError(f"{type(self).__name__}.update takes a mapping or an iterable of (key, value) pairs, "
                            f"got {type(entries).__name__}")
        for number, pair in enumerate(pairs):
            try:
                key, value = pair
            except (TypeError, ValueError):
                raise TypeError(f"{type(self).__name__}.update: element #{number} is not a (key, value) pair: "
                                f"{pair!r}") from None
            self[key] = value

    def pop(self, key):
        value = self[key]
        del self[key]
        return value

    def clear(self):
        self._table().clear()


class _ModuleSequence(_ModuleEntries, _Sequence):
    """What Sequential and ModuleList add to the list behaviour: inserting and deleting renumber the modules."""

    def __delitem__(self, index):
        keys = list(self._modules)[index] if isinstance(index, slice) else [self._key(index)]
        for key in keys:
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def insert(self, index, module):
        modules = list(self._modules.values())
        modules.insert(index, module)
        self._renumber(modules)
        return self

    def pop(self, index=-1):
        module = self[index]
        del self[index]
        return module

    def _renumber(self, modules):
        self._modules.clear()
        self.extend(modules)


class Sequential(_ModuleSequence):
    """Runs its modules one after the other; indexable, sliceable (a slice keeps the names), iterable."""

    def __init__(self, *modules):
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], collections.OrderedDict):
            for name, m in modules[0].items():
                self.add_module(name, m)
        else:
            self.extend(modules)

    def _from_items(self, items):
        return Sequential(collections.OrderedDict(items))

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters the parent module sees (a slice numbers them from 0)."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.extend(modules)


class ModuleDict(_ModuleEntries, _Mapping):
    """A dict of modules under string keys (state_dict keys ``key.weight``...), in insertion order."""

    def __init__(self, modules=None):
        super().__init__()
        if modules is not None:
            self.update(modules)


class ParameterList(_ParameterEntries, _Sequence):
    """A list of parameters (state_dict keys "0", "1", ...); a Tensor appended becomes a Parameter."""

    def __init__(self, values=None):
        super().__init__()
        if values is not None:
            self.extend(values)


class ParameterDict(_ParameterEntries, _Mapping):
    """A dict of parameters under string keys; a Tensor stored becomes a Parameter. As PyTorch's, ``update`` (and
    so the constructor) takes a plain dict's entries sorted by key, an OrderedDict's or pairs' in their order."""

    sorts_plain_dicts = True

    def __init__(self, parameters=None):
        super().__init__()
        if parameters is not None:
            self.update(parameters)
