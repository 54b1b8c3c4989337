"""Checkpoints and weight files: ``.npz`` archives of arrays plus one JSON document, never a pickle.

An archive holds
    model/<state_dict key>        the model's parameters and buffers
    optimizer/state/<i>/<name>    the optimizer's per-parameter arrays (momentum buffers, Adam moments)
    <path>/<to>/<array>           any other array, named by where it sits in the document
    __meta__                      the JSON document: format and version, the model's fingerprint (its keys,
                                  shapes and dtypes), the optimizer's param groups, the scheduler's state, the
                                  epoch, the history, the framework's random-generator state and any extras;
                                  each array in it is a reference ``{"__array__": "<name in the archive>"}`` (a
                                  Tensor's ``{"__tensor__": ..., "device": ...}``), a tuple ``{"__tuple__": [...]}``.
Files are written atomically: a temporary file in the same folder, then one rename, so a crash or an error
while writing leaves the previous file as it was.
"""
import contextlib
import json
import os
import uuid

import numpy as np

from .. import backend
from ..tensor import Tensor

FORMAT = "minitorch_cifar.checkpoint"
VERSION = 2  # 2 marks Tensors and tuples ("__tensor__", "__tuple__"); version-1 files still read
_META = "__meta__"
_ZIP_MAGIC = b"PK\x03\x04"  # how every .npz archive (a zip file) starts


class CheckpointError(ValueError):
    """A checkpoint or weight file that is missing, unreadable, not one of ours, or made for another model."""


# ---------------------------------------------------------------------- writing
@contextlib.contextmanager
def atomic_write(path, text=False):
    """Open a temporary file beside ``path`` for writing (binary, or UTF-8 text); when the block ends without
    error it replaces ``path`` in one rename (creating missing folders), otherwise it is deleted and ``path``
    is untouched."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    temporary = os.path.join(folder, f".{os.path.basename(path)}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        with (open(temporary, "x", newline="", encoding="utf-8") if text else open(temporary, "xb")) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def save_checkpoint(path, model, optimizer=None, scheduler=None, epoch=None, history=None, **extra):
    """Save everything needed to resume training: the model's state dict, the optimizer's and the scheduler's
    state, the epoch, the history, the framework's random-generator state, and ``extra`` values (numbers,
    strings, lists, dicts and arrays, e.g. a data loader's ``state_dict()``)."""
    document = {"model": model.state_dict(),
                "optimizer": None if optimizer is None else optimizer.state_dict(),
                "scheduler": None if scheduler is None else scheduler.state_dict(),
                "epoch": epoch, "history": history, "rng": rng_state(), "extra": extra}
    _write(path, "checkpoint", model, document)
    return os.fspath(path)


def save_weights(model, path):
    """Save a model's parameters and buffers alone (its state dict) to ``path``."""
    _write(path, "weights", model, {"model": model.state_dict()})
    return os.fspath(path)


def _write(path, kind, model, document):
    arrays = {}
    meta = {"format": FORMAT, "version": VERSION, "kind": kind, "fingerprint": fingerprint(model),
            **pack(document, "", arrays)}
    write_archive(path, meta, arrays)


def write_archive(path, meta, arrays):
    """Write ``arrays`` and the JSON document ``meta`` (as the ``__meta__`` entry) to the .npz ``path``, atomically."""
    arrays[_META] = np.array(json.dumps(meta))
    with atomic_write(path) as file:
        np.savez(file, **arrays)


def fingerprint(model):
    """``[[key, shape, dtype], ...]`` of a model's state dict: what a checkpoint must match to load."""
    return [[key, list(value.shape), str(value.dtype)] for key, value in model.state_dict().items()]


def pack(value, name, arrays, encode=None):
    """``value`` as JSON data, its arrays moved into ``arrays`` under their path (``name``) in the document.

    Tensors, arrays, numbers, strings, None, lists, tuples and dicts are stored; ``encode``, if given, turns any
    other object into such values (``save`` uses it for a Module's architecture)."""
    if isinstance(value, Tensor):
        return {"__tensor__": _store(value.array, name, arrays), "device": str(value.device)}
    if isinstance(value, np.generic):
        return value.item()
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return {"__array__": _store(value, name, arrays)}
    if isinstance(value, dict):
        packed = [(key, pack(item, f"{name}/{key}" if name else str(key), arrays, encode))
                  for key, item in value.items()]
        if all(isinstance(key, str) for key in value):
            return dict(packed)
        return {"__items__": [list(pair) for pair in packed]}  # keeps int keys (optimizer state) ints
    if isinstance(value, (list, tuple)):
        items = [pack(item, f"{name}/{i}", arrays, encode) for i, item in enumerate(value)]
        return items if isinstance(value, list) else {"__tuple__": items}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if encode is not None:
        return pack(encode(value), name, arrays, encode)
    raise TypeError(f"cannot store {type(value).__name__} at {name!r} in a checkpoint: only arrays, Tensors, "
                    f"numbers, strings, None, lists, tuples and dicts")


def _store(array, name, arrays):
    if name in arrays:
        raise ValueError(f"two arrays would be stored as {name!r} in the checkpoint (a key with '/' in it?)")
    arrays[name] = backend.to_device(array, "cpu")
    return name


def unpack(value, arrays, tensor=None, decode=None):
    """The value ``pack`` stored, with ``arrays`` put back. A stored Tensor comes back as ``tensor(array, device)``
    (as its NumPy array without ``tensor``); each dict is passed through ``decode`` if given."""
    if isinstance(value, list):
        return [unpack(item, arrays, tensor, decode) for item in value]
    if not isinstance(value, dict):
        return value
    if "__array__" in value:
        return arrays[value["__array__"]]
    if "__tensor__" in value:
        array = arrays[value["__tensor__"]]
        return array if tensor is None else tensor(array, value["device"])
    if "__tuple__" in value:
        return tuple(unpack(item, arrays, tensor, decode) for item in value["__tuple__"])
    if "__items__" in value:
        items = {key: unpack(item, arrays, tensor, decode) for key, item in value["__items__"]}
    else:
        items = {key: unpack(item, arrays, tensor, decode) for key, item in value.items()}
    return items if decode is None else decode(items)


# ---------------------------------------------------------------------- random generators
def rng_state():
    """The framework's random-generator state (JSON data: the seed, the stream and the CPU generator's
    position); enough to repeat the draws on the CPU and, from the start of an epoch, on the GPU."""
    return backend.rng_state()


def set_rng_state(state):
    backend.set_rng_state(state)


# ---------------------------------------------------------------------- reading
def load_checkpoint(path, model, optimizer=None, scheduler=None, restore_rng=True):
    """Load a checkpoint into ``model`` (and ``optimizer``, ``scheduler``), and with ``restore_rng`` restore
    the framework's random-generator state. Returns ``{'epoch': ..., 'history': ..., **extra}``.

    The file is checked against the model first: a missing, unexpected or mis-shaped key raises
    CheckpointError naming it, and nothing is changed."""
    document = _read(path, model)
    for name, target in (("optimizer", optimizer), ("scheduler", scheduler)):
        if target is None:
            continue
        if document.get(name) is None:
            raise CheckpointError(f"{path}: the file holds no {name} state (it is a {document['kind']} file); "
                                  f"load it without the {name}")
        try:
            target.load_state_dict(document[name])
        except (ValueError, KeyError, TypeError) as e:
            raise CheckpointError(f"{path}: its {name} state does not fit this {type(target).__name__}: {e}") from e
    model.load_state_dict(document["model"])
    if restore_rng and document.get("rng") is not None:
        set_rng_state(document["rng"])
    return {"epoch": document.get("epoch"), "history": document.get("history"), **document.get("extra", {})}


def load_weights(model, path):
    """Load the weights in ``path`` (a weight file or a full checkpoint) into ``model``; returns the model."""
    model.load_state_dict(_read(path, model)["model"])
    return model


def _read(path, model):
    """The document stored in ``path``, after checking that its model fits ``model``."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: no such checkpoint file")
    with open(path, "rb") as file:
        start = file.read(len(_ZIP_MAGIC))
    if start != _ZIP_MAGIC:  # np.load would take it for a pickle, and advise loading it as one: never
        raise CheckpointError(f"{path}: not a minitorch_cifar checkpoint: it is not an .npz archive (a checkpoint "
                              f"or weight file saved by minitorch_cifar); it may be corrupt, or another kind of file")
    try:
        archive = np.load(path, allow_pickle=False)
        with archive:
            if _META not in archive.files:
                raise CheckpointError(f"{path}: not a minitorch_cifar checkpoint (the archive has no {_META} entry)")
            meta = json.loads(archive[_META].item())
            if meta.get("format") != FORMAT:
                raise CheckpointError(f"{path}: not a minitorch_cifar checkpoint (format {meta.get('format')!r})")
            if meta.get("version", 0) > VERSION:
                raise CheckpointError(f"{path}: checkpoint version {meta['version']} is newer than this "
                                      f"minitorch_cifar reads ({VERSION}); upgrade minitorch_cifar")
            _check_fits(path, meta["fingerprint"], model)
            return unpack(meta, {name: archive[name] for name in archive.files if name != _META})
    except CheckpointError:
        raise
    except Exception as e:  # a truncated zip, a pickle inside the archive: whatever np.load or json trips over
        detail = "it holds pickled data, which is never loaded" if "pickle" in str(e) else f"{type(e).__name__}: {e}"
        raise CheckpointError(f"{path}: cannot read it as a checkpoint, the file is truncated, corrupt or of "
                              f"another kind ({detail})") from None


def _check_fits(path, saved, model):
    """Raise CheckpointError naming the first key where the saved fingerprint and the model differ."""
    saved_shapes = {key: tuple(shape) for key, shape, _ in saved}
    own = model.state_dict()
    problem = None
    for key, value in own.items():
        if key not in saved_shapes:
            problem = f"key {key!r} of the model is missing from the file"
        elif saved_shapes[key] != value.shape:
            problem = f"{key!r} has shape {saved_shapes[key]} in the file but {value.shape} in the model"
        if problem:
            break
    else:
        unexpected = [key for key in saved_shapes if key not in own]
        if unexpected:
            problem = f"the file has key {unexpected[0]!r}, which the model does not"
    if problem:
        raise CheckpointError(f"{path} does not fit this {type(model).__name__}: {problem} (was it saved from "
                              f"another architecture?)")
