"""``DataLoader``: mini-batches of a map-style dataset, as ``torch.utils.data.DataLoader`` gives them.

A dataset held whole in memory as arrays (``TensorDataset``, ``CIFAR10``, ``ArrayDataset``, subsets of them) is
copied to the training device once, and every batch is gathered there with one index array; any other dataset
is read item by item and its items merged by ``default_collate``. Both give the same batches.
"""
import collections.abc
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from .dataset import _on_host

_WORD = (1 << 64) - 1


class DataLoader:
    """Iterate over the batches of ``dataset``: lists (or dicts) of Tensors, as PyTorch's loader gives them.

    Every epoch visits the items in order, or with ``shuffle`` in a fresh random order, or in the order of
    ``sampler`` (an iterable of indices), cut into batches of ``batch_size`` (the last one shorter unless
    ``drop_last``), or as ``batch_sampler`` (an iterable of index lists) says; ``loader.sampler`` and
    ``loader.batch_sampler`` hold that order, as PyTorch's. Items are merged by ``collate_fn``
    (default: ``default_collate``, PyTorch's rules). ``num_workers``, ``pin_memory``, ``timeout``,
    ``worker_init_fn``, ``multiprocessing_context``, ``prefetch_factor``, ``persistent_workers`` and
    ``pin_memory_device`` are accepted for PyTorch code and have no effect: batches are made in the calling process.

    The framework's own arguments: an in-memory dataset (one whose ``stacked_arrays()`` gives its arrays, with the
    default ``collate_fn``) is copied to ``device`` once (default: where its arrays are) and batches are
    gathered there; ``transform``, a whole-batch augmentation from ``data.transforms``, then applies to the
    images (the first array) of every batch. Its random draws and the shuffled order come from the loader's
    own generator (``generator``, a NumPy generator, else seeded by ``seed``, else drawn from ``manual_seed``'s);
    ``state_dict()`` between epochs lets a resumed run continue identically. Batches hold what the dataset holds:
    uint8 images stay uint8 until a transform (``ToFloat``, ``Normalize``) makes them float.
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None, persistent_workers=False,
                 pin_memory_device="", transform=None, device=None, seed=None):
        if hasattr(batch_size, "shape") or isinstance(batch_size, (list, tuple)):
            raise TypeError("DataLoader(dataset, batch_size, ...): for images and labels in two arrays, pass "
                            "TensorDataset(images, labels)")
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if batch_sampler is not None and (batch_size != 1 or shuffle or sampler is not None or drop_last):
            raise ValueError("batch_sampler gives whole batches: it excludes batch_size, shuffle, sampler and "
                             "drop_last")
        if sampler is not None and shuffle:
            raise ValueError("sampler gives the order: it excludes shuffle")
        if len(dataset) == 0:
            raise ValueError("DataLoader needs at least one example")
        self.dataset = dataset
        self.batch_size, self.shuffle, self.drop_last = batch_size, bool(shuffle), bool(drop_last)
        self.num_workers, self.pin_memory = num_workers, pin_memory
        self.collate_fn = default_collate if collate_fn is None else collate_fn
        self.transform = transform
        self.generator = loader_generator(generator, seed)
        if sampler is None:
            sampler = RandomSampler(dataset, generator=self.generator) if shuffle else SequentialSampler(dataset)
        self.sampler = sampler
        self.batch_sampler = BatchSampler(sampler, batch_size, drop_last) if batch_sampler is None else batch_sampler
        arrays = dataset.stacked_arrays() if collate_fn is None and hasattr(dataset, "stacked_arrays") else None
        if transform is not None and arrays is None:
            raise ValueError(f"transform= augments whole batches of an in-memory dataset (TensorDataset, CIFAR10...); "
                             f"give {type(dataset).__name__} a per-item transform instead")
        if device is None and arrays is not None:
            device = backend.device_of(arrays[0])
        self.device = None if device is None else backend.parse_device(device)  # None: where the items are
        self.arrays = None if arrays is None else self._to_device(arrays)

    def _to_device(self, arrays):
        """The in-memory dataset's arrays on ``device``, each contiguous, copied there once."""
        xp = backend.array_module_for(self.device)
        with backend.on_device(self.device):
            return tuple(xp.ascontiguousarray(backend.to_device(a, self.device)) for a in arrays)

    def __len__(self):
        """Batches per epoch."""
        return len(self.batch_sampler)

    def __iter__(self):
        for index in self.batch_sampler:
            yield self._batch(np.asarray(index, dtype=np.int64))

    def _batch(self, index):
        if self.arrays is None:  # item by item
            batch = self.collate_fn([self.dataset[int(i)] for i in index])
            return batch if self.device is None else _to_device(batch, self.device)
        xp = backend.get_array_module(self.arrays[0])
        with backend.on_device(self.device):
            index = xp.asarray(index)
            columns = [xp.take(array, index, axis=0) for array in self.arrays]
            if self.transform is not None:
                columns[0] = self.transform(columns[0], self.generator)
            return [Tensor._wrap(column) for column in columns]

    def state_dict(self):
        """The generator's state, as one uint64 array (fits an .npz checkpoint); take it between epochs."""
        state = self.generator.bit_generator.state
        words = [state["state"]["state"] >> 64, state["state"]["state"] & _WORD, state["state"]["inc"] >> 64,
                 state["state"]["inc"] & _WORD, state["has_uint32"], state["uinteger"]]
        return {"generator": np.array(words, dtype=np.uint64)}

    def load_state_dict(self, state_dict):
        words = np.asarray(state_dict.get("generator"))
        if words.shape != (6,) or words.dtype != np.uint64:
            raise ValueError(f"DataLoader.load_state_dict: expected {{'generator': uint64 array of 6 words}} "
                             f"as made by state_dict(), got {state_dict!r:.120}")
        high_state, low_state, high_inc, low_inc, has_uint32, uinteger = (int(w) for w in words)
        self.generator.bit_generator.state = {
            "bit_generator": "PCG64", "has_uint32": has_uint32, "uinteger": uinteger,
            "state": {"state": high_state << 64 | low_state, "inc": high_inc << 64 | low_inc}}

    def __repr__(self):
        path = "in memory" if self.arrays is not None else "item by item"
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)}, {path}, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"device={self.device!r}, transform={self.transform!r})")


class Sampler:
    """Base class of the orders a DataLoader reads a dataset in: iterating gives item indices."""

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must define __len__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


class RandomSampler(Sampler):
    """The indices of ``data_source`` in a fresh random order every time, as PyTorch's: ``num_samples`` of them
    (default: all), drawn with ``replacement`` or as whole permutations. ``generator``: a NumPy generator, by
    default the framework's (``manual_seed``)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None):
        self.data_source, self.replacement, self.generator = data_source, bool(replacement), generator
        self._num_samples = num_samples
        if num_samples is not None and (not isinstance(num_samples, (int, np.integer)) or num_samples < 1):
            raise ValueError(f"num_samples must be a positive integer, got {num_samples!r}")

    @property
    def num_samples(self):
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def __iter__(self):
        rng = self.generator if self.generator is not None else backend.generator(np)
        n = len(self.data_source)
        if self.replacement:
            return iter(rng.integers(0, n, size=self.num_samples).tolist())
        whole, rest = divmod(self.num_samples, n)
        parts = [rng.permutation(n) for _ in range(whole)] + ([rng.permutation(n)[:rest]] if rest else [])
        return iter(np.concatenate(parts).tolist())

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """``indices`` in a fresh random order every time (``generator`` as ``RandomSampler``'s)."""

    def __init__(self, indices, generator=None):
        self.indices, self.generator = indices, generator

    def __iter__(self):
        rng = self.generator if self.generator is not None else backend.generator(np)
        return (self.indices[i] for i in rng.permutation(len(self.indices)).tolist())

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``[0, len(weights))``, each drawn with probability proportional to its weight
    (``replacement=False``: distinct indices), as PyTorch's; a fresh draw every time. ``generator`` as
    ``RandomSampler``'s."""

    def __init__(self, weights, num_samples, replacement=True, generator=None):
        if not isinstance(num_samples, (int, np.integer)) or isinstance(num_samples, bool) or num_samples <= 0:
            raise ValueError(f"num_samples should be a positive integer value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"replacement should be a boolean value, but got replacement={replacement}")
        weights = _on_host(weights).astype(np.float64)
        if weights.ndim != 1:
            raise ValueError(f"weights should be a 1d sequence but given weights have shape {weights.shape}")
        self.weights, self.num_samples, self.replacement = Tensor._wrap(weights), int(num_samples), replacement
        self.generator = generator

    def __iter__(self):
        weights, n = self.weights.array, len(self.weights)
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise RuntimeError("invalid multinomial distribution: the weights contain inf, nan or an entry < 0")
        if weights.sum() <= 0:
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        rng = self.generator if self.generator is not None else backend.generator(np)
        if self.replacement:
            return iter(rng.choice(n, size=self.num_samples, p=weights / weights.sum()).tolist())
        if self.num_samples > n:
            raise RuntimeError(f"cannot sample num_samples={self.num_samples} > {n} weights without replacement")
        # weight / Exp(1) keys: the k largest are a weighted draw of k without replacement (Efraimidis-Spirakis)
        keys = weights / rng.exponential(size=n)
        return iter(np.argsort(-keys, kind="stable")[:self.num_samples].tolist())

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """The indices of ``sampler`` in lists of ``batch_size`` (the last one shorter unless ``drop_last``)."""

    def __init__(self, sampler, batch_size, drop_last):
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), bool(drop_last)

    def __iter__(self):
        order = np.fromiter(iter(self.sampler), dtype=np.int64)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield order[start:start + self.batch_size].tolist()

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)


def loader_generator(generator=None, seed=None):
    """The loader's own NumPy generator, which draws its shuffled orders and its transform's parameters:
    ``generator`` itself, else a new one seeded with ``seed``, else with a number drawn from the framework's
    generator (so that ``manual_seed`` makes a script repeat)."""
    if generator is not None:
        if seed is not None:
            raise ValueError("DataLoader takes generator= or seed=, not both")
        if not (isinstance(generator, np.random.Generator) and isinstance(generator.bit_generator, np.random.PCG64)):
            raise TypeError(f"generator must be a NumPy PCG64 Generator (np.random.default_rng(seed)), got "
                            f"{generator!r:.80}")
        return generator
    if seed is None:
        seed = int(backend.generator(np).integers(2 ** 63))
    return np.random.default_rng(seed)


def default_collate(batch):
    """Merge a list of items into a batch, by ``torch.utils.data.default_collate``'s rules: Tensors and arrays are
    stacked into a Tensor (of their dtype), Python ints become an int64 Tensor, floats a float64 one, bools a
    bool one; strings stay as they are; dicts, tuples and lists are merged field by field (tuples into lists)."""
    item = batch[0]
    if isinstance(item, Tensor) or (hasattr(item, "shape") and not isinstance(item, np.generic)):
        arrays = [part.array if isinstance(part, Tensor) else part for part in batch]
        shapes = {tuple(a.shape) for a in arrays}
        if len(shapes) > 1 or arrays[0].dtype.kind in "OSU":
            problem = f"of different shapes {sorted(shapes)}" if len(shapes) > 1 else f"of dtype {arrays[0].dtype}"
            raise TypeError(f"default_collate cannot stack items {problem}: give the DataLoader a collate_fn")
        return Tensor._wrap(backend.get_array_module(*arrays).stack(arrays))
    if isinstance(item, (bool, np.bool_, int, float, np.number)):
        dtype = (np.bool_ if isinstance(item, (bool, np.bool_)) else np.int64 if isinstance(item, int) else
                 np.float64 if isinstance(item, float) else item.dtype)
        return Tensor._wrap(np.array(batch, dtype=dtype))
    if isinstance(item, (str, bytes)):
        return batch
    if isinstance(item, collections.abc.Mapping):
        return {key: default_collate([part[key] for part in batch]) for key in item}
    if isinstance(item, tuple) and hasattr(item, "_fields"):  # a namedtuple keeps its type
        return type(item)(*(default_collate(field) for field in zip(*batch)))
    if isinstance(item, collections.abc.Sequence):
        if len({len(part) for part in batch}) > 1:
            raise RuntimeError("default_collate: each item of the batch should be a sequence of the same length")
        return [default_collate(field) for field in zip(*batch)]
    hint = ": add transforms.ToTensor() to the dataset's transform" if type(item).__module__.startswith("PIL.") else ""
    raise TypeError(f"default_collate: items must hold Tensors, arrays, numbers, strings, dicts or sequences, "
                    f"found {type(item).__name__}{hint}")


def _to_device(batch, device):
    """A collated batch with every Tensor moved to ``device``."""
    if isinstance(batch, Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {key: _to_device(value, device) for key, value in batch.items()}
    if isinstance(batch, list):
        return [_to_device(value, device) for value in batch]
    if isinstance(batch, tuple):
        values = (_to_device(value, device) for value in batch)
        return type(batch)(*values) if hasattr(batch, "_fields") else tuple(values)
    return batch
