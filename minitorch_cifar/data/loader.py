"""``DataLoader``: mini-batches from a dataset held whole on the training device, gathered by index arrays."""
import math

import numpy as np

from .. import backend
from ..tensor import Tensor
from .dataset import as_dataset
from .transforms import to_float32

_WORD = (1 << 64) - 1


class DataLoader:
    """Iterate over ``(images, labels)`` batches: float32 Tensors (N, C, H, W) and int64 Tensors (N,) on ``device``.

    ``images`` (uint8 or float, (N, C, H, W)) and ``labels`` are copied to ``device`` once; every batch is then
    gathered there with one index array. ``dataset`` may be a ``CIFAR10`` (or any object with ``.data`` and
    ``.targets``) in place of the two arrays. With ``shuffle``, each epoch visits the examples in a fresh
    random order from the loader's own generator (seeded by ``seed``, else from ``manual_seed``), which also
    drives the random ``transform``; ``state_dict()`` between epochs lets a resumed run continue identically.
    uint8 images come out scaled to [0, 1] unless the transform has made them float (e.g. ``Normalize``).
    """

    def __init__(self, images, labels=None, batch_size=1, shuffle=False, drop_last=False, transform=None,
                 device="cpu", seed=None):
        if labels is not None and hasattr(images, "targets"):
            raise TypeError("DataLoader(dataset, ...) takes its labels from the dataset: pass batch_size=... "
                            "by keyword")
        self.dataset = as_dataset(images if labels is None else (_on_host(images), _on_host(labels)))
        if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if len(self.dataset) == 0:
            raise ValueError("DataLoader needs at least one example")
        self.batch_size, self.shuffle, self.drop_last = int(batch_size), bool(shuffle), bool(drop_last)
        self.transform = transform
        self.device = backend.parse_device(device)
        xp = backend.array_module_for(self.device)
        with backend.on_device(self.device):
            self.images = xp.ascontiguousarray(backend.to_device(self.dataset.data, self.device))
            self.labels = backend.to_device(self.dataset.targets, self.device)
        if seed is None:  # follow manual_seed, so that a seeded script repeats
            seed = int(backend.generator(np).integers(2 ** 63))
        self.generator = np.random.default_rng(seed)

    def __len__(self):
        """Batches per epoch."""
        n = len(self.labels)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.labels)
        order = self.generator.permutation(n) if self.shuffle else np.arange(n)
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._batch(order[start:start + self.batch_size])

    def _batch(self, index):
        xp = backend.get_array_module(self.images)
        with backend.on_device(self.device):
            index = xp.asarray(index)
            images = xp.take(self.images, index, axis=0)
            if self.transform is not None:
                images = self.transform(images, self.generator)
            return Tensor._wrap(to_float32(images, copy=False)), Tensor._wrap(xp.take(self.labels, index))

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
        return (f"DataLoader(images={len(self.labels)}, batch_size={self.batch_size}, shuffle={self.shuffle}, "
                f"drop_last={self.drop_last}, device='{self.device}', transform={self.transform!r})")


def _on_host(array):
    """A NumPy array from a NumPy or CuPy array, a Tensor or a list."""
    if isinstance(array, Tensor):
        array = array.array
    return backend.to_device(array, "cpu") if hasattr(array, "shape") else np.asarray(array)
