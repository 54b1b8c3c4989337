"""Modules that hold other modules: ``Sequential`` and ``ModuleList``."""
import collections
import operator

from .module import Module


class _ModuleSequence(Module):
    """The list behaviour Sequential and ModuleList share, as PyTorch's: modules in order, indexed by position
    (negative indices and slices too); appending, inserting or deleting numbers them "0", "1", ..."""

    def _from_items(self, items):
        """A container of this kind holding the (name, module) pairs ``items`` (what a slice returns)."""
        raise NotImplementedError

    def _key(self, index):
        """The name of the module at position ``index``."""
        keys = list(self._modules)
        try:
            return keys[operator.index(index)]
        except IndexError:
            message = f"index {index} is out of range for a {type(self).__name__} of {len(keys)} modules"
            raise IndexError(message) from None

    def __getitem__(self, index):
        if isinstance(index, slice):
            return self._from_items(list(self._modules.items())[index])
        return self._modules[self._key(index)]

    def __setitem__(self, index, module):
        if not isinstance(module, Module):
            raise TypeError(f"{type(self).__name__} holds Modules, got {type(module).__name__}")
        self._modules[self._key(index)] = module  # in its place: the order stays

    def __delitem__(self, index):
        keys = list(self._modules)[index] if isinstance(index, slice) else [self._key(index)]
        for key in keys:
            del self._modules[key]
        self._renumber(list(self._modules.values()))

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, module):
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        for m in modules:
            self.append(m)
        return self

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

    def __init__(self, modules=()):
        super().__init__()
        self.extend(modules)

    def _from_items(self, items):
        return ModuleList(m for _, m in items)
