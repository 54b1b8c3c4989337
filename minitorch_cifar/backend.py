"""The one switch point between NumPy (CPU) and CuPy (NVIDIA GPU).

Every other module asks this one for the array module (``xp``) of its inputs, so the same Python
code runs on both. CuPy is imported lazily, on the first request for a CUDA device or array.
"""
import contextlib
import itertools
import os
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
    if type(array) is np.ndarray:  # the CPU's case, answered first: every op asks this of its inputs
        return False
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


def all_finite(arrays):
    """Whether every element of every array (all on one device) is finite: one flag per array, read once (one GPU
    synchronisation, not one per array)."""
    if not arrays:
        return True
    xp = get_array_module(*arrays)
    return bool(xp.stack([xp.isfinite(a).all() for a in arrays]).all())


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


_saw_a_gpu = None  # the CuPy module once it has seen a GPU: GPUs do not go away, so the count is asked only until then


def _cuda_module_for(device):
    global _saw_a_gpu
    cp = cupy()
    if cp is not _saw_a_gpu and not cuda_is_available():
        raise DeviceError(f"device {device!r} asked for, but CuPy sees no GPU (is the NVIDIA driver loaded?); "
                          f"for the CUDA toolkit, {_CUDA_HINT}")
    _saw_a_gpu = cp
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


def gpu_of(arrays):
    """The id of the GPU that holds the first CuPy array among ``arrays``; None when there is none."""
    for a in arrays:
        if is_cupy_array(a):
            return a.device.id
    return None


def current_gpu():
    """The id of CuPy's current GPU, where new arrays are made and kernels run."""
    return _cupy.cuda.runtime.getDevice()


def on_device_of(array):
    """A context in which new arrays are made on ``array``'s device (a no-op on the CPU)."""
    return _cupy.cuda.Device(array.device.id) if is_cupy_array(array) else _ON_CPU


def gpu_context(device_id):
    """A context in which GPU ``device_id`` is CuPy's current one."""
    return _cupy.cuda.Device(device_id)


def use_gpu(device_id):
    """Make GPU ``device_id`` CuPy's current one (as ``cupy.cuda.Device(n).use()``); returns the id that was."""
    previous = current_gpu()
    if previous != device_id:
        _cupy.cuda.runtime.setDevice(device_id)
    return previous


# ----------------------------------------------------------------------------- constants on the GPU
_MAX_CONSTANTS = 1024
_constants = {}  # (device id, dtype, shape, bytes) -> the CuPy copy, oldest first


def device_constant(values, like, dtype=None):
    """A read-only CuPy copy of the small host array ``values`` (as ``dtype``) on the device of CuPy array ``like``.

    Made once per content and device, then reused: pooling's window tables and Normalize's mean and std
    cost no host-to-device copy per call. Callers must not write into the result."""
    host = np.ascontiguousarray(values, dtype)
    device_id = like.device.id
    key = (device_id, host.dtype.str, host.shape, host.tobytes())
    copy = _constants.get(key)
    if copy is None:
        if len(_constants) >= _MAX_CONSTANTS:
            del _constants[next(iter(_constants))]
        with cupy().cuda.Device(device_id):
            copy = _constants[key] = cupy().asarray(host)
    return copy


# ----------------------------------------------------------------------------- random numbers
# Counter-based: every generator is derived from a few integers, (seed, stream, device), so that these
# integers, saved in a checkpoint, restore the draws on every device (CuPy's generator state itself cannot
# be saved). manual_seed starts stream 0; the Trainer starts stream e at the beginning of epoch e, so a run
# resumed from an epoch's checkpoint draws exactly what the uninterrupted run drew, on the CPU and the GPU.
_seed = None       # None until seeded or first used; then an int (fresh entropy when never seeded)
_stream = 0
_generators = {}   # -1 (the CPU) or a GPU's id -> its generator in the current stream


def manual_seed(seed):
    """Seed every random generator the framework uses, on the CPU and on each GPU (and start stream 0)."""
    global _seed, _stream
    _seed, _stream = int(seed), 0
    _generators.clear()


def start_stream(stream):
    """Re-derive every generator from (seed, ``stream``): the draws from here on depend on these two alone."""
    global _stream
    _current_seed()
    _stream = int(stream)
    _generators.clear()


def _current_seed():
    global _seed
    if _seed is None:
        _seed = int(np.random.SeedSequence().entropy)  # unseeded: fresh entropy, kept so that it can be saved
    return _seed


def host_generator(seed, *key):
    """A NumPy generator derived from ``seed`` and the integers ``key`` (``SeedSequence(seed, spawn_key=key)``):
    independent streams for different keys, the same numbers for the same ones."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=key))


def generator(xp):
    """The framework's random generator for array module ``xp`` (on CuPy: for the current device), in the
    current stream."""
    key = -1 if xp is np else xp.cuda.Device().id
    gen = _generators.get(key)
    if gen is None:
        gen = _generators[key] = _new_generator(xp, key)
    return gen


def _new_generator(xp, device_id):
    seed = _current_seed()
    if xp is np:  # stream 0 on the CPU is default_rng(seed), as NumPy users expect from a seed
        return host_generator(seed, *((_stream, 0) if _stream else ()))
    words = np.random.SeedSequence(seed, spawn_key=(_stream, 1 + device_id)).generate_state(2, np.uint32)
    return xp.random.default_rng(int(words[0]) << 32 | int(words[1]))


def rng_state():
    """The generators' state as JSON data: the seed and stream, and the CPU generator's position in the stream
    (so that CPU draws resume bit-exact anywhere; GPU draws resume exactly from the start of a stream)."""
    state = {"seed": _current_seed(), "stream": _stream}
    if -1 in _generators:
        state["numpy"] = _generators[-1].bit_generator.state
    return state


def set_rng_state(state):
    """Restore what ``rng_state`` returned."""
    global _seed, _stream
    if "seed" in state:  # files written before streams existed hold the CPU generator alone
        _seed, _stream = int(state["seed"]), int(state["stream"])
        _generators.clear()
    if "numpy" in state:
        generator(np).bit_generator.state = state["numpy"]


# ----------------------------------------------------------------------------- matrix products
_tf32_in_cupy = None  # the float32 compute type last given to CuPy: True for TF32, False for full float32


def cuda_matmul(a, b, out=None):
    """``a @ b`` of CuPy arrays (``out=`` as in ``matmul``); float32 products run in TF32 when
    ``backends.cuda.matmul.allow_tf32`` is set. Every CUDA matrix product of the framework goes through here."""
    global _tf32_in_cupy
    from . import backends
    cp = cupy()
    wanted = backends.cuda.matmul.allow_tf32
    if wanted != _tf32_in_cupy:  # CuPy's setting is process-wide, like PyTorch's flag
        _set_float32_compute_type(cp, wanted)
        _tf32_in_cupy = wanted
    return cp.matmul(a, b, out=out)


def _set_float32_compute_type(cp, tf32):
    """Make CuPy's float32 matrix products TF32 or full float32. CuPy has no public switch: its private
    ``_core._routines_linalg.set_compute_type`` is used where it exists; where it does not, full float32 (CuPy's
    default unless the environment sets CUPY_TF32) needs nothing, and TF32 cannot be had."""
    core = cp._core
    newer = getattr(core, "_gpu", None)  # where CuPy's newer sources keep it
    linalg = getattr(core, "_routines_linalg", None) or getattr(newer, "_routines_linalg", None)
    setter = getattr(linalg, "set_compute_type", None)
    if setter is not None:
        setter(cp.float32, linalg.COMPUTE_TYPE_TF32 if tf32 else linalg.COMPUTE_TYPE_DEFAULT)
    elif tf32 or os.environ.get("CUPY_TF32", "0") != "0":
        raise DeviceError(f"this CuPy ({getattr(cp, '__version__', 'unknown version')}) has no "
                          f"cupy._core._routines_linalg.set_compute_type, through which float32 products are "
                          f"switched {'to' if tf32 else 'from'} TF32: "
                          + ("leave backends.cuda.matmul.allow_tf32 False" if tf32 else "unset CUPY_TF32"))


def matmul(a, b):
    """``a @ b`` of NumPy or CuPy arrays, with matmul's batching rules: CuPy's through ``cuda_matmul`` (TF32)."""
    return cuda_matmul(a, b) if is_cupy_array(a) else a @ b


def scatter_add(target, index, values):
    """``target[index] += values`` where repeated indices accumulate, each element's values added in the order they
    come: np.add.at on the CPU, ``add_at_in_order`` on the GPU (cupyx.scatter_add adds with atomics, in an order
    that changes from run to run)."""
    if is_cupy_array(target):
        add_at_in_order(cupy(), target, index, values)
    else:
        np.add.at(target, index, values)


def add_at_in_order(xp, target, index, values):
    """np.add.at(target, index, values) for a C-contiguous ``target``, in whole-array operations of ``xp``, with the
    same sums in the same order: round k adds each element's k-th value, and as no element takes two values in one
    round, an indexed addition does it. As many rounds as the most repeated element takes values."""
    positions = xp.arange(target.size).reshape(target.shape)[index]  # where each value goes, as a flat index
    if positions.size == 0:  # nothing to add (CuPy's bincount, below, refuses an empty array)
        return
    values = xp.broadcast_to(values, positions.shape).reshape(-1)
    positions = positions.reshape(-1)
    order = xp.argsort(positions, kind="stable")  # by element, each element's values in their order
    positions, values = positions[order], values[order]
    rank = xp.arange(len(positions)) - xp.searchsorted(positions, positions)  # k: the element's k-th value
    order = xp.argsort(rank, kind="stable")  # the values of round 0, then of round 1...
    positions, values = positions[order], values[order]
    flat, start = target.reshape(-1), 0
    for stop in itertools.accumulate(xp.bincount(rank).tolist()):  # each round's values are positions[start:stop]
        flat[positions[start:stop]] += values[start:stop]
        start = stop
