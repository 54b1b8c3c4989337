"""``save(obj, path)`` and ``load(path)``, as PyTorch's, in the checkpoints' format: an .npz of arrays and one JSON
document, never a pickle, so loading a file runs no code from it.

``obj`` may be a state dict, an optimizer's or a scheduler's, or any nesting of dicts, lists and tuples of
Tensors, arrays, numbers, strings, None and bools; it comes back with the same structure, tuples as tuples and
Tensors as Tensors. A whole model built from the framework's own layers (containers of ``nn`` layers, the models
of ``minitorch_cifar.models``) is stored as data: each module's type, its attributes (the constructor's arguments
as the layer keeps them: channels, kernel size, stride ...), parameters, buffers and sub-modules. ``load`` rebuilds
it from those types alone (forward hooks, being code, are not saved). A model of a user-defined Module class is
code, not data: save its ``state_dict()``.
"""
import json
import os
import zipfile

import numpy as np

from . import backend
from .tensor import Tensor
from .train.checkpoint import pack, unpack, write_archive

FORMAT = "minitorch_cifar.save"
VERSION = 1
_META = "__meta__"
_TABLES = ("_parameters", "_buffers", "_non_persistent_buffers", "_modules", "_forward_hooks", "_forward_pre_hooks",
           "_backward_hooks", "_backward_pre_hooks")  # hooks are code: a saved model has none


def save(obj, path):
    """Write ``obj`` to ``path`` (atomically: a crash leaves any previous file as it was)."""
    arrays = {}
    meta = {"format": FORMAT, "version": VERSION, "object": pack(obj, "object", arrays, encode=_module_as_data)}
    write_archive(path, meta, arrays)


def load(path, map_location=None, weights_only=None):
    """Read what ``save`` wrote. Tensors go to ``map_location``: a device, a dict from saved device to device, or
    PyTorch's ``lambda storage, location: ...`` (given the CPU array and the saved device, it returns an array or a
    device); without it, back to the device they were saved from. ``weights_only`` is accepted for PyTorch's
    signature: these files never hold code."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    _refuse_pytorch_file(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            meta = json.loads(archive[_META].item()) if _META in archive.files else {}
            if meta.get("format") != FORMAT:
                raise ValueError(f"{path}: not a file written by minitorch_cifar.save (for a checkpoint of "
                                 f"train.save_checkpoint, use train.load_checkpoint)")
            if meta["version"] > VERSION:
                raise ValueError(f"{path}: format version {meta['version']} is newer than this minitorch_cifar reads "
                                 f"({VERSION}); upgrade minitorch_cifar")
            arrays = {name: archive[name] for name in archive.files if name != _META}
    except (OSError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: cannot read it, the file is truncated, corrupt or of another kind "
                         f"({type(e).__name__}: {e})") from None

    def tensor(array, device):
        if callable(map_location):
            placed = map_location(array, device)
            if hasattr(placed, "shape"):
                return Tensor(placed)
            return Tensor(array, device=_destination(device, placed))
        return Tensor(array, device=_destination(device, map_location))

    return unpack(meta["object"], arrays, tensor=tensor, decode=_module_from_data)


def _refuse_pytorch_file(path):
    """Raise, in one line, for a file that torch.save wrote (a pickle, bare or inside a zip)."""
    with open(path, "rb") as file:
        is_pickle = file.read(1) == b"\x80"  # the PROTO opcode that starts every pickle since protocol 2
    if not is_pickle and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            is_pickle = any(name.endswith("data.pkl") for name in archive.namelist())
    if is_pickle:
        raise ValueError(f"{path} was written by torch.save in PyTorch's pickle format, which minitorch_cifar does not "
                         f"read (unpickling runs code from the file); convert a state_dict in PyTorch with numpy: "
                         f"numpy.savez('weights.npz', **{{k: v.cpu().numpy() for k, v in torch.load('{path}')"
                         f".items()}}), then model.load_state_dict(dict(numpy.load('weights.npz')))")


def _destination(saved_device, map_location):
    """The device a tensor saved on ``saved_device`` is loaded to."""
    if isinstance(map_location, dict):
        map_location = map_location.get(saved_device, map_location.get(saved_device.split(":")[0]))
    device = saved_device if map_location is None else backend.parse_device(map_location)
    if device != "cpu" and not backend.cuda_is_available():
        raise backend.DeviceError(f"the file holds tensors saved on {saved_device}, but no GPU is usable here; "
                                  f"pass map_location='cpu' to load them onto the CPU")
    return device


# ---------------------------------------------------------------------- whole models as data
def _known_modules():
    """{type name: class} of the modules ``save`` stores as data: ``nn``'s layers and the zoo's own blocks."""
    from . import nn
    from .models.resnet import resnet_classes
    from .models.resnet9 import resnet9_classes

    known = {name: cls for name, cls in vars(nn).items() if isinstance(cls, type) and issubclass(cls, nn.Module)}
    known.update({f"models.{cls.__name__}": cls for cls in resnet_classes(nn) + resnet9_classes(nn)})
    return known


def _module_as_data(value):
    """A built-in Module as a dict of its type, attributes, parameters, buffers and sub-modules (for ``pack``)."""
    from .nn import Module

    if not isinstance(value, Module):
        raise TypeError(f"save() cannot store a {type(value).__name__}: only Tensors, arrays, numbers, strings, None, "
                        f"lists, tuples, dicts and models built from minitorch_cifar's own layers")
    names = {cls: name for name, cls in _known_modules().items()}
    if type(value) not in names:
        cls = type(value).__name__
        raise TypeError(f"save() cannot store a {cls}: it is a user-defined Module class, whose architecture is "
                        f"code, not data; save its weights with save(model.state_dict(), path) and load them into "
                        f"a new {cls}(...) with model.load_state_dict(load(path))")
    attributes = {key: item for key, item in vars(value).items() if key not in _TABLES}
    return {"__module__": names[type(value)], "attributes": attributes,
            "parameters": dict(value._parameters), "frozen": [k for k, p in value._parameters.items()
                                                              if p is not None and not p.requires_grad],
            "buffers": dict(value._buffers), "non_persistent": sorted(value._non_persistent_buffers),
            "modules": dict(value._modules)}


def _module_from_data(data):
    """Rebuild a module that ``_module_as_data`` stored (its sub-modules are rebuilt already); other dicts pass."""
    if "__module__" not in data:
        return data
    from .nn import Module, Parameter

    known = _known_modules()
    if data["__module__"] not in known:
        raise ValueError(f"the file holds a module of unknown type {data['__module__']!r} (saved by a newer "
                         f"minitorch_cifar?)")
    module = object.__new__(known[data["__module__"]])
    Module.__init__(module)
    for key, item in data["attributes"].items():
        object.__setattr__(module, key, item)
    for key, item in data["parameters"].items():
        module._parameters[key] = None if item is None else Parameter(item, requires_grad=key not in data["frozen"])
    module._buffers.update(data["buffers"])
    module._non_persistent_buffers.update(data["non_persistent"])
    module._modules.update(data["modules"])
    return module
