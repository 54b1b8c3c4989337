"""The one switch point between NumPy (CPU) and CuPy (NVIDIA GPU).

Every other module asks this one for the array module (``xp``) of its inputs, so the same Python
code runs on both. CuPy is imported lazily, on the first request for a CUDA device or array.
"""
import contextlib
import sys

import numpy as np

_cupy = None
_CUDA_HINT = ("install CuPy for your CUDA version: pip install 'minitorch_cifar[cuda12]' "
              "(CUDA 12.x) or 'minitorch_cifar[cuda13]' (CUDA 13.x)")


class DeviceError(RuntimeError):
    """A device is missing, unknown, or two tensors of one op live on different devices."""


def cupy():
    """Import CuPy on first use; a clear error says how to install it."""
    global _cupy
    if _cupy is None:
        try:
            import cupy as cp
        except ImportError as e:
            raise DeviceError(f"CUDA needs CuPy, which is not installed ({e}); {_CUDA_HINT}") from None
        _cupy = cp
    return _cupy


def cuda_is_available():
    """True when CuPy imports and sees at least one GPU."""
    try:
        return cupy().cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def is_cupy_array(array):
    """True for a CuPy array, also one made before the framework first asked for CuPy."""
    global _cupy
    if _cupy is None:
        _cupy = sys.modules.get("cupy")  # imported by the caller, not yet by us
        if _cupy is None:
            return False
    return isinstance(array, _cupy.ndarray)


def get_array_module(*arrays):
    """``cupy`` if any argument is a CuPy array, else ``numpy``."""
    for a in arrays:
        if is_cupy_array(a):
            return _cupy
    return np


def parse_device(device):
    """Normalise 'cpu', 'cuda', 'cuda:N' (or None = 'cpu') to a canonical string."""
    if device is None:
        return "cpu"
    device = str(device)
    if device == "cpu":
        return device
    if device == "cuda" or device.startswith("cuda:") and device[5:].isdigit():
        return device if ":" in device else "cuda:0"
    raise DeviceError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'cuda:N'")


def device_of(array):
    """The canonical device string of an array."""
    if is_cupy_array(array):
        return f"cuda:{array.device.id}"
    return "cpu"


HOST_TYPES = frozenset({np.ndarray, int, float, bool, complex, type(None)})  # all on the CPU, or no device at all


def check_same_device(arrays, op_name):
    """Raise if the arrays of one op live on different devices, naming both; numbers among them are ignored."""
    if HOST_TYPES.issuperset(map(type, arrays)):  # the common case, decided without asking each array
        return
    devices = [device_of(a) for a in arrays if hasattr(a, "shape")]
    for other in devices[1:]:
        if other != devices[0]:
            raise DeviceError(f"{op_name}: expected all tensors on one device, found {devices[0]} and {other}; "
                              f"move them with .to(device)")


def _cuda_module_for(device):
    cp = cupy()
    if not cuda_is_available():
        raise DeviceError(f"device {device!r} asked for, but CuPy sees no GPU (is the NVIDIA driver loaded?); "
                          f"for the CUDA toolkit, {_CUDA_HINT}")
    return cp


def array_module_for(device):
    """The array module that stores arrays on ``device``."""
    device = parse_device(device)
    return np if device == "cpu" else _cuda_module_for(device)


def to_device(array, device):
    """Copy ``array`` to ``device`` (no copy if it is already there)."""
    device = parse_device(device)
    if device_of(array) == device:
        return array
    if device == "cpu":
        return array.get()
    cp = _cuda_module_for(device)
    with cp.cuda.Device(int(device[5:])):
        return cp.asarray(array)


def on_device(device):
    """A context in which new CuPy arrays are made on ``device`` (a no-op on the CPU)."""
    device = parse_device(device)
    if device == "cpu":
        return _ON_CPU
    return _cuda_module_for(device).cuda.Device(int(device[5:]))


_ON_CPU = contextlib.nullcontext()  # reusable: it holds no state


# ----------------------------------------------------------------------------- random numbers
_seed = None
_generators = {}


def manual_seed(seed):
    """Seed every random generator the framework uses, on the CPU and on each GPU."""
    global _seed
    _seed = int(seed)
    _generators.clear()


def generator(xp):
    """The framework's random generator for array module ``xp`` (created from the seed on first use)."""
    key = -1 if xp is np else xp.cuda.Device().id
    gen = _generators.get(key)
    if gen is None:
        gen = _new_generator(xp, key)
        _generators[key] = gen
    return gen


def _new_generator(xp, device_id):
    # Each GPU gets its own stream, derived from the one seed so that runs repeat.
    if xp is np:
        return np.random.default_rng(_seed)
    seed = None if _seed is None else int(np.random.SeedSequence([_seed, device_id]).generate_state(1)[0])
    return xp.random.default_rng(seed)


def scatter_add(target, index, values):
    """``target[index] += values`` where repeated indices accumulate (np.add.at / cupyx.scatter_add)."""
    if is_cupy_array(target):
        import cupyx
        cupyx.scatter_add(target, index, values)
    else:
        np.add.at(target, index, values)
