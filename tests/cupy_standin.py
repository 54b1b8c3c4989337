"""A CuPy-shaped stand-in, so that the GPU path's backend-independent logic runs on the CPU: two GPUs, device
ids and the current one, host-to-device uploads (counted), device-to-host copies, CuPy's float32 matmul compute
type (recorded), and NumPy's other array functions, whose new arrays are made on the current GPU."""
import contextlib
import types

import numpy as np


class DeviceArray(np.ndarray):
    """A NumPy array that says it lives on GPU ``device.id``; results of operations on it inherit the id."""

    def __array_finalize__(self, source):
        self.gpu_id = getattr(source, "gpu_id", 0)

    @property
    def device(self):
        return types.SimpleNamespace(id=self.gpu_id)

    def get(self):
        """A NumPy copy (a device-to-host copy in CuPy)."""
        return np.array(self).view(np.ndarray)


class StandInCupy(types.ModuleType):
    """The few names of CuPy that the tested code calls; every ``asarray`` counts as one upload."""

    ndarray = DeviceArray
    float32, float64 = np.float32, np.float64

    def __init__(self):
        super().__init__("cupy")
        self.uploads = []                # (device id, shape) of every host-to-device copy
        self.compute_types = []          # every (dtype, compute type) given to set_compute_type
        self._current = 0
        self._core = types.SimpleNamespace(_routines_linalg=types.SimpleNamespace(
            COMPUTE_TYPE_DEFAULT=1, COMPUTE_TYPE_TF32=7,
            set_compute_type=lambda dtype, kind: self.compute_types.append((dtype, kind))))
        # CuPy's reductions give 0-d arrays on the GPU, where NumPy's give host scalars
        self.linalg = types.SimpleNamespace(
            norm=lambda *args, **kwargs: on_gpu(np.linalg.norm(*args, **kwargs), self._current))
        self.cuda = types.SimpleNamespace(Device=self._device, runtime=types.SimpleNamespace(
            getDeviceCount=lambda: 2, getDevice=lambda: self._current, setDevice=self._set_current))

    @contextlib.contextmanager
    def _use(self, device_id):
        previous, self._current = self._current, device_id
        try:
            yield
        finally:
            self._current = previous

    def _set_current(self, device_id):
        self._current = device_id

    def _device(self, device_id=None):
        """``cupy.cuda.Device(n)``: its ``id``, and a context that makes it current."""
        return _DeviceContext(self, self._current if device_id is None else device_id)

    def asarray(self, values, dtype=None):
        host = np.asarray(values, dtype)
        self.uploads.append((self._current, host.shape))
        return on_gpu(host, self._current)

    def matmul(self, a, b, out=None):
        return np.matmul(a, b, out=out)

    # where CuPy's function differs from NumPy's, the stand-in does as CuPy does
    def indices(self, dimensions, dtype=int):
        """No ``sparse=`` in CuPy's."""
        return _on_current_gpu(np.indices(dimensions, dtype), self._current)

    def bincount(self, x, weights=None, minlength=0):
        """CuPy's takes the maximum of ``x`` first, and so refuses an empty array."""
        if len(x) == 0:
            raise ValueError("zero-size array to reduction operation maximum which has no identity")
        return _on_current_gpu(np.bincount(x, weights, minlength), self._current)

    def __getattr__(self, name):
        """NumPy's ``name``; a function's array results on the current GPU (``xp.empty``, ``xp.stack`` ...)."""
        if name.startswith("_"):
            raise AttributeError(f"the CuPy stand-in has no attribute {name!r}")
        value = getattr(np, name)
        if not callable(value) or isinstance(value, type):  # constants and dtypes (xp.inf, xp.int64)
            return value
        return lambda *args, **kwargs: _on_current_gpu(value(*args, **kwargs), self._current)


class _DeviceContext:
    def __init__(self, cupy, device_id):
        self._cupy, self.id = cupy, device_id
        self._context = None

    def __enter__(self):
        self._context = self._cupy._use(self.id)
        return self._context.__enter__()

    def __exit__(self, *error):
        return self._context.__exit__(*error)


def _on_current_gpu(result, device_id):
    """A NumPy function's result with its new arrays (not views of stand-in arrays) placed on GPU ``device_id``."""
    if isinstance(result, (list, tuple)):
        return type(result)(_on_current_gpu(r, device_id) for r in result)
    if type(result) is np.ndarray:
        result = result.view(DeviceArray)
        result.gpu_id = device_id
    return result


def on_gpu(values, device_id=0):
    """``values`` as a stand-in array on GPU ``device_id``."""
    array = np.array(values).view(DeviceArray)
    array.gpu_id = device_id
    return array
