"""``device`` objects and the ``cuda`` namespace, as PyTorch's: ``device('cuda' if cuda.is_available() else 'cpu')``."""
from . import backend


class device(str):
    """A device name ('cpu', 'cuda', 'cuda:N') that also answers PyTorch's ``.type`` and ``.index``.

    It is a string, so it is accepted wherever a device string is, and it compares equal to the string it
    spells (``tensor.device == 'cpu'`` and ``tensor.device == device('cpu')`` both hold)."""

    def __new__(cls, type_or_name, index=None):
        """``device('cuda:1')``, ``device('cuda', 1)``, or ``device(1)`` for a GPU's number alone."""
        name = f"cuda:{type_or_name}" if isinstance(type_or_name, int) else str(type_or_name)
        if index is not None:
            if ":" in name:
                raise ValueError(f"device({name!r}, {index}): the name already holds an index")
            name = f"{name}:{int(index)}"
        if name != "cuda":
            backend.parse_device(name)  # raises DeviceError for an unknown name
        return super().__new__(cls, name)

    @property
    def type(self):
        return self.split(":")[0]

    @property
    def index(self):
        """The GPU's number, or None for 'cpu' and a bare 'cuda'."""
        return int(self.split(":")[1]) if ":" in self else None

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


class cuda:
    """``cuda.is_available()``, ``device_count()``, ``current_device()``, ``get_device_name()``, ``manual_seed()``,
    ``synchronize()``, ``empty_cache()`` and ``cuda.amp`` (``autocast``, ``GradScaler``), as in PyTorch."""

    is_available = staticmethod(backend.cuda_is_available)
    # one seed drives the CPU's and every GPU's generator, so these seed the CPU's too
    manual_seed = manual_seed_all = staticmethod(backend.manual_seed)

    @staticmethod
    def current_device():
        """The number of the GPU that new CUDA arrays go to (a DeviceError without a GPU)."""
        return backend.array_module_for("cuda").cuda.Device().id

    @staticmethod
    def get_device_name(which=None):
        """The product name of GPU ``which`` (a number or device; the current one by default)."""
        cp = backend.array_module_for("cuda")  # a DeviceError without a GPU
        index = None if which is None else device(which).index
        index = cp.cuda.Device().id if index is None else index
        return cp.cuda.runtime.getDeviceProperties(index)["name"].decode()

    @staticmethod
    def synchronize():
        """Wait for the GPU's queued work (a no-op without a GPU)."""
        if backend.cuda_is_available():
            backend.cupy().cuda.Device().synchronize()

    @staticmethod
    def empty_cache():
        """Return the GPU memory CuPy holds in its pool but no array uses (a no-op without a GPU)."""
        if backend.cuda_is_available():
            backend.cupy().get_default_memory_pool().free_all_blocks()

    @staticmethod
    def device_count():
        """The number of GPUs CuPy sees (0 without CuPy or a GPU)."""
        if not backend.cuda_is_available():
            return 0
        return backend.cupy().cuda.runtime.getDeviceCount()


# imported last: amp imports tensor, which imports ``device`` from here
from . import amp as _amp  # noqa: E402


class _CudaAmp:
    """``torch.cuda.amp``: ``autocast`` and ``GradScaler`` with the device fixed to 'cuda'."""
    autocast = _amp.CudaAutocast
    GradScaler = _amp.CudaGradScaler


cuda.amp = _CudaAmp
