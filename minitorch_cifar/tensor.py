"""``Tensor``: an n-dimensional array (NumPy or CuPy) that records the ops made on it for autograd."""
import collections
import math
import numbers
import sys

import numpy as np

from . import autograd, backend
from .devices import device as _device
from .ops import linalg, reduce
from .ops import elementwise as ew
from .ops import shape as shape_ops
from .ops.convert import Cast, Copy, ToDevice

float16, float32, float64 = np.float16, np.float32, np.float64
int32, int64, uint8, bool_ = np.int32, np.int64, np.uint8, np.bool_
long = int64

ReturnTypes = collections.namedtuple("values_indices", ["values", "indices"])
_TYPE_NAMES = {np.float32: "Float", np.float64: "Double", np.float16: "Half", np.int64: "Long", np.int32: "Int",
               np.int16: "Short", np.int8: "Char", np.uint8: "Byte", np.bool_: "Bool"}  # PyTorch's type names


_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=math.inf, edgeitems=3, linewidth=80)}  # PyTorch's
_print_options = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """How tensors print, as PyTorch's: ``precision`` digits after the point, at most ``threshold`` entries before
    the middle ones are left out (``edgeitems`` shown at each end), lines of ``linewidth`` characters; ``profile``
    ('default', 'short', 'full') sets all four first; ``sci_mode`` True or False forces scientific notation on or
    off (None: NumPy's choice)."""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: profile must be one of {sorted(_PROFILES)}, got {profile!r}")
        _print_options.update(_PROFILES[profile])
    given = dict(precision=precision, threshold=threshold, edgeitems=edgeitems, linewidth=linewidth)
    _print_options.update({name: value for name, value in given.items() if value is not None}, sci_mode=sci_mode)


def _array2string_options():
    """``_print_options`` as ``np.array2string``'s arguments."""
    options = _print_options
    threshold = sys.maxsize if options["threshold"] == math.inf else int(options["threshold"])
    out = dict(precision=options["precision"], threshold=threshold, edgeitems=options["edgeitems"],
               max_line_width=options["linewidth"])
    if options["sci_mode"] is not None:
        notation = f".{options['precision']}{'e' if options['sci_mode'] else 'f'}"
        out["formatter"] = {"float_kind": lambda v: format(v, notation)}
    return out


def _default_dtype(array):
    """Python floats become float32 (the framework's default); everything else keeps its dtype."""
    return np.float32 if array.dtype == np.float64 else None


def _in_place(method):
    """The in-place form of the Tensor ``method``: its result written into the tensor (``Tensor._inplace``)."""
    def in_place(self, *args, **kwargs):
        return self._inplace(lambda t: method(t, *args, **kwargs))
    in_place.__name__ = method.__name__ + "_"
    return in_place


class Tensor:
    """A multi-dimensional array on one device, with an optional gradient.

    ``array`` is the NumPy or CuPy array. When ``requires_grad`` is true, every op on the tensor is
    recorded, and ``backward()`` fills ``grad`` with d(result)/d(this tensor).
    """

    __slots__ = ("array", "requires_grad", "grad", "_creator", "_version", "_hooks", "__weakref__")
    __array_priority__ = 1000  # so that ndarray + Tensor is handled by Tensor.__radd__

    def __init__(self, data, requires_grad=False, dtype=None, device=None):
        """Wrap ``data`` (a number, nested list, NumPy/CuPy array or Tensor); an array of the same device and
        dtype is shared, not copied. Python floats become float32, Python ints int64."""
        if isinstance(data, Tensor):
            data = data.array
        is_array = hasattr(data, "shape") and not isinstance(data, np.generic)
        if device is None:
            device = backend.device_of(data) if is_array else "cpu"
        xp = backend.array_module_for(device)
        with backend.on_device(device):
            array = backend.to_device(data, device) if is_array else xp.asarray(data)
            if dtype is None and not is_array:
                dtype = _default_dtype(array)
            if dtype is not None:
                array = array.astype(dtype, copy=False)
        self._init(array, requires_grad)

    def _init(self, array, requires_grad):
        if requires_grad and array.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {array.dtype}")
        self.array = array
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._creator = None
        self._version = 0  # counts in-place modifications, for autograd's check of saved tensors
        self._hooks = None  # register_hook's hooks of a leaf, by handle id (an intermediate tensor's: its creator's)

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """Wrap an array without copying or checking it (for the ops' outputs)."""
        t = object.__new__(cls)
        t.array = array
        t.requires_grad = requires_grad
        t.grad = None
        t._creator = None
        t._version = 0
        t._hooks = None
        return t

    # ------------------------------------------------------------------ properties
    @property
    def data(self):
        """PyTorch's ``.data``: a tensor sharing this one's array, detached from the graph."""
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value):
        """``t.data = other`` replaces the array (a Tensor's or an array on the same device) in place of the old."""
        array = value.array if isinstance(value, Tensor) else value
        backend.check_same_device([self.array, array], "data assignment")
        self.array = array

    @property
    def shape(self):
        return tuple(self.array.shape)

    @property
    def ndim(self):
        return self.array.ndim

    @property
    def dtype(self):
        return self.array.dtype

    @property
    def device(self):
        return _device(backend.device_of(self.array))

    @property
    def is_leaf(self):
        """False only for a tensor a recorded op made (one with a ``grad_fn``), as in PyTorch."""
        return self._creator is None

    @property
    def grad_fn(self):
        """The ``Function`` that made this tensor and will carry its gradient back (None for a leaf)."""
        return self._creator

    @property
    def T(self):
        return self.permute(*reversed(range(self.ndim)))

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def numel(self):
        return int(self.array.size)

    def dim(self):
        return self.ndim

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __repr__(self):
        array = backend.to_device(self.array, "cpu")
        body = np.array2string(array, separator=", ", prefix="tensor(", **_array2string_options())
        extras = []
        if self.device != "cpu":
            extras.append(f"device='{self.device}'")
        if array.dtype != np.float32 and array.dtype != np.int64 and array.dtype != np.bool_:
            extras.append(f"dtype={array.dtype}")
        if self._creator is not None:
            extras.append(f"grad_fn={self._creator!r}")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Add d(self)/d(leaf) to ``.grad`` of every leaf that requires a gradient (or of each of ``inputs``)."""
        if gradient is not None and not isinstance(gradient, Tensor):
            gradient = Tensor(gradient)  # as a Tensor, copied: the caller keeps its array
        autograd.backward(self, gradient, retain_graph, create_graph, inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` each time the gradient w.r.t. this tensor is computed; it may return a replacement."""
        return autograd.register_hook(self, hook)

    def _accumulate_grad(self, g, owned):
        """Add ``g`` to ``.grad``; ``owned`` says g is a fresh array that nothing else holds."""
        if self.grad is None:
            self.grad = Tensor._wrap(g if owned else backend.get_array_module(g).array(g, order="C"))
        else:
            self.grad = Tensor._wrap(self.grad.array + g)

    def retain_grad(self):
        """Keep ``.grad`` on this non-leaf tensor after backward."""
        if self._creator is not None:
            self._creator.retained = self

    def detach(self):
        """The same data, cut from the graph."""
        return Tensor._wrap(self.array)

    def requires_grad_(self, requires_grad=True):
        if requires_grad and self.dtype.kind not in "fc":
            raise TypeError(f"only floating-point tensors can require gradients, got dtype {self.dtype}")
        self.requires_grad = requires_grad
        return self

    def zero_(self):
        return self.fill_(0)

    # ------------------------------------------------------------------ devices and dtypes
    def to(self, device=None, dtype=None, non_blocking=False):
        """A copy on ``device`` and/or of ``dtype`` (self when nothing changes); gradients flow through.
        ``non_blocking`` is accepted for PyTorch's signature: the copy is complete when ``to`` returns."""
        if isinstance(device, (type, np.dtype)):
            device, dtype = None, device
        out = self
        if device is not None and backend.parse_device(device) != self.device:
            out = ToDevice.apply(out, device=backend.parse_device(device))
        if dtype is not None and np.dtype(dtype) != self.dtype:
            out = Cast.apply(out, dtype=np.dtype(dtype))
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=0, non_blocking=False):
        return self.to(f"cuda:{device}" if isinstance(device, int) else device)

    def numpy(self):
        """The data as a NumPy array (copied from the GPU if needed); refuses a tensor that needs a gradient."""
        if self.requires_grad:
            raise RuntimeError("numpy() on a tensor that requires grad: call .detach().numpy()")
        return backend.to_device(self.array, "cpu")

    def item(self):
        if self.array.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        if backend.is_cupy_array(self.array):  # a read from the GPU: a loss's bad class index shows here, as in PyTorch
            from .nn.functional import check_targets
            check_targets()
        return self.array.reshape(()).item()

    def tolist(self):
        return backend.to_device(self.array, "cpu").tolist()

    def float(self):
        return self.to(dtype=np.float32)

    def double(self):
        return self.to(dtype=np.float64)

    def long(self):
        return self.to(dtype=np.int64)

    def int(self):
        return self.to(dtype=np.int32)

    def bool(self):
        return self.to(dtype=np.bool_)

    def clone(self):
        return Copy.apply(self)

    # ------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return ew.Add.apply(self, other)

    def __radd__(self, other):
        return ew.Add.apply(other, self)

    def __sub__(self, other):
        return ew.Sub.apply(self, other)

    def __rsub__(self, other):
        return ew.Sub.apply(other, self)

    def __mul__(self, other):
        return ew.Mul.apply(self, other)

    def __rmul__(self, other):
        return ew.Mul.apply(other, self)

    def __truediv__(self, other):
        return ew.Div.apply(self, other)

    def __rtruediv__(self, other):
        return ew.Div.apply(other, self)

    def __neg__(self):
        return ew.Neg.apply(self)

    def __pow__(self, other):
        return ew.Pow.apply(self, other)

    def __rpow__(self, other):
        return ew.Pow.apply(other, self)

    def __matmul__(self, other):
        return linalg.MatMul.apply(self, other)

    def __rmatmul__(self, other):
        return linalg.MatMul.apply(other, self)

    add, sub, mul, div, matmul, pow = __add__, __sub__, __mul__, __truediv__, __matmul__, __pow__

    # comparisons give boolean tensors and no gradient
    def _compare(self, other, op):
        other = other.array if isinstance(other, Tensor) else other
        if hasattr(other, "shape"):
            backend.check_same_device([self.array, other], "comparison")
        return Tensor._wrap(op(self.array, other))

    def __eq__(self, other):
        return self._compare(other, lambda a, b: a == b)

    def __ne__(self, other):
        return self._compare(other, lambda a, b: a != b)

    def __lt__(self, other):
        return self._compare(other, lambda a, b: a < b)

    def __le__(self, other):
        return self._compare(other, lambda a, b: a <= b)

    def __gt__(self, other):
        return self._compare(other, lambda a, b: a > b)

    def __ge__(self, other):
        return self._compare(other, lambda a, b: a >= b)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__
    __hash__ = object.__hash__

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.array.size} elements is ambiguous")
        return bool(self.array)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.dtype.kind not in "iu":
            raise TypeError("only integer tensors of one element can be used as an index")
        return int(self.item())

    # ------------------------------------------------------------------ elementwise maths
    def exp(self):
        return ew.Exp.apply(self)

    def log(self):
        return ew.Log.apply(self)

    def sqrt(self):
        return ew.Sqrt.apply(self)

    def abs(self):
        return ew.Abs.apply(self)

    __abs__ = abs

    def tanh(self):
        return ew.Tanh.apply(self)

    def sigmoid(self):
        return ew.Sigmoid.apply(self)

    def relu(self):
        return ew.ReLU.apply(self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise ValueError("clamp needs at least one of min and max")
        return ew.Clamp.apply(self, min=min, max=max)

    clip = clamp

    def sign(self):
        """-1, 0 or 1; piecewise constant, so its gradient is zero, as PyTorch's."""
        return ew.Rounding.apply(self, how="sign")

    def isnan(self):
        return Tensor._wrap(backend.get_array_module(self.array).isnan(self.array))

    def isinf(self):
        return Tensor._wrap(backend.get_array_module(self.array).isinf(self.array))

    def isfinite(self):
        return Tensor._wrap(backend.get_array_module(self.array).isfinite(self.array))

    def maximum(self, other):
        return ew.Maximum.apply(self, other, take_max=True)

    def minimum(self, other):
        return ew.Maximum.apply(self, other, take_max=False)

    # ------------------------------------------------------------------ reductions
    def sum(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        return reduce.Sum.apply(self, axis=dim, keepdims=keepdim)

    def mean(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        return reduce.Mean.apply(self, axis=dim, keepdims=keepdim)

    def var(self, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None, keepdims=None):
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        correction = (1 if unbiased else 0) if correction is None else correction
        return reduce.Var.apply(self, axis=dim, correction=correction, keepdims=keepdim)

    def std(self, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None, keepdims=None):
        return self.var(dim, unbiased, keepdim, correction=correction, axis=axis, keepdims=keepdims).sqrt()

    def amax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        return reduce.Extreme.apply(self, axis=dim, keepdims=keepdim, largest=True)

    def amin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        return reduce.Extreme.apply(self, axis=dim, keepdims=keepdim, largest=False)

    def max(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Over all elements or a tuple of axes: the largest value. Along one int dim: (values, indices)."""
        return self._extreme(dim, keepdim, axis, keepdims, largest=True)

    def min(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return self._extreme(dim, keepdim, axis, keepdims, largest=False)

    def _extreme(self, dim, keepdim, axis, keepdims, largest):
        dim, keepdim = _dims(dim, axis, keepdim, keepdims)
        if isinstance(dim, Tensor):  # max(other) is the elementwise maximum, as in PyTorch
            return self.maximum(dim) if largest else self.minimum(dim)
        if not isinstance(dim, numbers.Integral):
            return reduce.Extreme.apply(self, axis=dim, keepdims=keepdim, largest=largest)
        xp = backend.get_array_module(self.array)
        pick = xp.argmax if largest else xp.argmin
        index = xp.expand_dims(pick(self.array, axis=dim), dim)
        values = reduce.TakeAlongAxis.apply(self, index, axis=dim)
        if not keepdim:
            values, index = values.squeeze(dim), index.squeeze(dim)
        return ReturnTypes(values, Tensor._wrap(index))

    def argmax(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return self._arg(*_dims(dim, axis, keepdim, keepdims), largest=True)

    def argmin(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        return self._arg(*_dims(dim, axis, keepdim, keepdims), largest=False)

    def _arg(self, dim, keepdim, largest):
        xp = backend.get_array_module(self.array)
        pick = xp.argmax if largest else xp.argmin
        if dim is None:
            return Tensor._wrap(xp.asarray(pick(self.array)))
        index = pick(self.array, axis=dim)
        return Tensor._wrap(xp.expand_dims(index, dim) if keepdim else index)

    def all(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Whether every element (along ``dim``) is nonzero: a bool tensor."""
        return self._logical("all", *_dims(dim, axis, keepdim, keepdims))

    def any(self, dim=None, keepdim=False, *, axis=None, keepdims=None):
        """Whether some element (along ``dim``) is nonzero: a bool tensor."""
        return self._logical("any", *_dims(dim, axis, keepdim, keepdims))

    def _logical(self, name, dim, keepdim):
        result = getattr(self.array, name)(axis=dim, keepdims=keepdim)
        return Tensor._wrap(backend.get_array_module(self.array).asarray(result))

    def norm(self, p="fro", dim=None, keepdim=False, dtype=None):
        """The vector p-norm over all elements or over ``dim`` (an int or a tuple): (sum |x|^p)^(1/p) for a number
        p > 0 ('fro' is p=2), max |x| for inf, min |x| for -inf, the count of nonzeros for 0."""
        x = self if dtype is None else self.to(dtype=dtype)
        if x.dtype.kind not in "fc":
            raise TypeError(f"norm(): expected a floating-point tensor, got dtype {x.dtype}")
        p = 2 if p == "fro" else p
        if not isinstance(p, numbers.Real) or p < 0 and p != -np.inf:
            raise ValueError(f"norm(): p must be 'fro', inf, -inf or a number >= 0, got {p!r}")
        if p in (np.inf, -np.inf):
            return x.abs().amax(dim, keepdim) if p > 0 else x.abs().amin(dim, keepdim)
        if p == 0:
            return (x != 0).sum(dim, keepdim).to(dtype=x.dtype)
        if p == 1:
            return x.abs().sum(dim, keepdim)
        total = (x * x if p == 2 else x.abs() ** p).sum(dim, keepdim)
        # d|x|_p/dx = sign(x) |x|^(p-1) / |x|_p^(p-1): 0/0 at a zero norm, where PyTorch takes 0, as the mask does
        nonzero = total.detach() != 0
        return ew.Where.apply(nonzero, total, 1.0) ** (1 / p) * nonzero

    def softmax(self, dim=-1):
        return reduce.Softmax.apply(self, axis=dim)

    def log_softmax(self, dim=-1):
        return reduce.LogSoftmax.apply(self, axis=dim)

    # ------------------------------------------------------------------ shapes
    def reshape(self, *shape):
        shape = tuple(shape[0]) if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        try:
            return shape_ops.Reshape.apply(self, shape=shape)
        except ValueError:
            message = f"cannot reshape a tensor of shape {self.shape} ({self.numel()} elements) into {shape}"
            raise ValueError(message) from None

    view = reshape

    def flatten(self, start_dim=0, end_dim=-1):
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:])

    def permute(self, *axes):
        axes = tuple(axes[0]) if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else axes
        if sorted(a % self.ndim for a in axes) != list(range(self.ndim)):
            raise ValueError(f"permute: {axes} is not a permutation of the {self.ndim} axes of shape {self.shape}")
        return shape_ops.Permute.apply(self, axes=tuple(a % self.ndim for a in axes))

    def transpose(self, dim0, dim1):
        axes = list(range(self.ndim))
        axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
        return self.permute(axes)

    def unsqueeze(self, dim):
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim=None):
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dims = {d % self.ndim for d in ((dim,) if isinstance(dim, int) else dim)}
        return self.reshape(tuple(n for i, n in enumerate(self.shape) if not (i in dims and n == 1)))

    def expand(self, *sizes):
        sizes = tuple(sizes[0]) if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)) else sizes
        lead = len(sizes) - self.ndim
        target = tuple(self.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        return shape_ops.BroadcastTo.apply(self, shape=target)

    def __getitem__(self, index):
        return shape_ops.GetItem.apply(self, index=_array_index(index, self.array))

    def __setitem__(self, index, value):
        if self.requires_grad and autograd.is_grad_enabled():
            raise RuntimeError("in-place assignment to a tensor that requires grad; wrap it in no_grad()")
        value = value.array if isinstance(value, Tensor) else value
        if isinstance(value, np.ndarray) or backend.is_cupy_array(value):  # CuPy takes no NumPy array here
            value = backend.to_device(value, self.device)
        self.array[_array_index(index, self.array)] = value
        autograd.count_inplace_change(self)

    # ------------------------------------------------------------------ pieces and picks along an axis
    def split(self, split_size_or_sections, dim=0):
        """Pieces along ``dim``: of ``split_size`` each (the last may be smaller), or of the given sizes."""
        dim = _dim(dim, self.ndim, "split")
        n = self.shape[dim]
        if isinstance(split_size_or_sections, numbers.Integral):
            size = int(split_size_or_sections)
            if size < 0 or size == 0 and n > 0:
                raise ValueError(f"split(): split_size must be positive (0 only for an empty dimension), got {size}")
            sizes = [min(size, n - start) for start in range(0, n, size)] if n else [0]
        else:
            sizes = [int(k) for k in split_size_or_sections]
            if sum(sizes) != n or min(sizes, default=0) < 0:
                raise ValueError(f"split(): sizes {sizes} must be non-negative and sum to {n}, the size of "
                                 f"dimension {dim}")
        starts = np.cumsum([0] + sizes[:-1])
        return tuple(self[shape_ops.along(dim, slice(int(start), int(start) + k))] for start, k in zip(starts, sizes))

    def chunk(self, chunks, dim=0):
        """``chunks`` pieces along ``dim`` of equal size, the last smaller (and fewer pieces where they run out)."""
        if chunks <= 0:
            raise ValueError(f"chunk(): chunks must be positive, got {chunks}")
        n = self.shape[_dim(dim, self.ndim, "chunk")]
        return self.split(-(-n // chunks), dim) if n else self.split([0] * chunks, dim)

    def unbind(self, dim=0):
        """The slices along ``dim``, that axis removed."""
        dim = _dim(dim, self.ndim, "unbind")
        return tuple(self[shape_ops.along(dim, i)] for i in range(self.shape[dim]))

    def index_select(self, dim, index):
        """The entries at ``index`` (a 1-d integer tensor; repeats allowed) along ``dim``."""
        dim = _dim(dim, self.ndim, "index_select")
        index = _index_array(index, self, "index_select")
        if index.ndim > 1:
            raise ValueError(f"index_select(): index must be a 1-d tensor, got shape {tuple(index.shape)}")
        shape_ops.check_positions(index, self.shape[dim], dim, "index_select")
        return self[shape_ops.along(dim, index.reshape(-1))]

    def gather(self, dim, index):
        """out[p] = self[p with its ``dim`` coordinate replaced by index[p]], for each position p of ``index``."""
        dim = _dim(dim, self.ndim, "gather")
        index = _index_array(index, self, "gather")
        shape_ops.check_gather_index(index, self.shape, dim, "gather")
        return shape_ops.GetItem.apply(self, index=shape_ops.along_axis(index, dim))

    def scatter(self, dim, index, src=None, value=None, *, reduce=None):
        """A copy with ``src``'s values (a tensor, of which the part of ``index``'s shape is used, or a number
        ``value``) written at self[p with its ``dim`` coordinate replaced by index[p]], for each position p of
        ``index``."""
        if reduce is not None:
            raise NotImplementedError(f"scatter(): reduce={reduce!r} is not supported; use scatter_add for 'add'")
        src = value if src is None else src
        if src is None:
            raise TypeError("scatter(): give src (a tensor) or value (a number)")
        return self._scatter("scatter", dim, index, src, accumulate=False)

    def scatter_add(self, dim, index, src):
        """A copy with ``src``'s values added at self[p with its ``dim`` coordinate replaced by index[p]]."""
        if not isinstance(src, Tensor):
            raise TypeError(f"scatter_add(): src must be a tensor, got {type(src).__name__}")
        return self._scatter("scatter_add", dim, index, src, accumulate=True)

    def _scatter(self, what, dim, index, src, accumulate):
        dim = _dim(dim, self.ndim, what)
        index = _index_array(index, self, what)
        shape_ops.check_gather_index(index, self.shape, dim, what)
        if isinstance(src, Tensor):
            if src.dtype != self.dtype:
                raise TypeError(f"{what}(): src's dtype {src.dtype} differs from the tensor's {self.dtype}")
            if src.ndim != index.ndim or any(i > n for i, n in zip(index.shape, src.shape)):
                raise ValueError(f"{what}(): index of shape {tuple(index.shape)} must be no larger than src of "
                                 f"shape {src.shape}")
        elif not isinstance(src, numbers.Number):
            raise TypeError(f"{what}(): src must be a tensor or a number, got {type(src).__name__}")
        return shape_ops.Scatter.apply(self, src, index, axis=dim, accumulate=accumulate)

    scatter_, scatter_add_ = _in_place(scatter), _in_place(scatter_add)

    def flip(self, *dims):
        """A copy with the entries in reverse order along each of ``dims`` (a copy, as PyTorch's: writing into it
        leaves this tensor as it is)."""
        dims = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
        dims = {_dim(d, self.ndim, "flip") for d in dims}
        return self[tuple(slice(None, None, -1) if a in dims else slice(None) for a in range(self.ndim))].clone()

    def roll(self, shifts, dims=None):
        """The entries moved ``shifts`` places along ``dims``, those pushed off the end coming back at the start;
        without ``dims``, along the flattened tensor."""
        if dims is None:
            return self.flatten().roll(shifts, (0,)).reshape(self.shape)
        shifts, dims = (tuple(v) if isinstance(v, (tuple, list)) else (v,) for v in (shifts, dims))
        if len(shifts) != len(dims):
            raise ValueError(f"roll(): {len(shifts)} shifts for {len(dims)} dims; give one shift per dim")
        out = self
        for shift, dim in zip(shifts, dims):
            dim = _dim(dim, self.ndim, "roll")
            cut = -shift % self.shape[dim] if self.shape[dim] else 0  # out[i] = x[(i + cut) % n] = x[(i - shift) % n]
            if cut:
                head, tail = out[shape_ops.along(dim, slice(cut, None))], out[shape_ops.along(dim, slice(None, cut))]
                out = shape_ops.Cat.apply(head, tail, axis=dim)
        return out.clone() if out is self else out  # a copy also where nothing moved, as PyTorch's

    # ------------------------------------------------------------------ bitwise and integer arithmetic
    # ``&``, ``|``, ``^``, ``~`` on bool and integer tensors (logical on bools); ``//``, ``%`` and fmod with PyTorch's
    # signs. Only remainder and fmod carry a gradient (1 for the dividend), as in PyTorch.
    def __and__(self, other):
        return self._compare(other, ew.bitwise_and)

    def __or__(self, other):
        return self._compare(other, ew.bitwise_or)

    def __xor__(self, other):
        return self._compare(other, ew.bitwise_xor)

    def __invert__(self):
        return Tensor._wrap(ew.bitwise_not(self.array))

    __rand__, __ror__, __rxor__ = __and__, __or__, __xor__
    bitwise_and, bitwise_or, bitwise_xor, bitwise_not = __and__, __or__, __xor__, __invert__

    def floor_divide(self, other):
        """self / other rounded down (integers stay integers); no gradient, as in PyTorch."""
        return self._compare(other, ew.floor_divide)

    def __rfloordiv__(self, other):
        return self._compare(other, lambda a, b: ew.floor_divide(b, a))

    def remainder(self, other):
        """self - floor(self / other) * other: the sign of the divisor, as Python's ``%``."""
        return ew.Remainder.apply(self, other, how="floor")

    def __rmod__(self, other):
        return ew.Remainder.apply(other, self, how="floor")

    def fmod(self, other):
        """self - trunc(self / other) * other: the sign of the dividend, as C's fmod."""
        return ew.Remainder.apply(self, other, how="trunc")

    __floordiv__, __mod__ = floor_divide, remainder

    __iand__, __ior__, __ixor__, __ifloordiv__, __imod__ = map(_in_place, (__and__, __or__, __xor__, __floordiv__,
                                                                         __mod__))

    def __contains__(self, element):
        """``element in t``: whether some entry equals ``element`` (a number or a tensor broadcast against this one)."""
        if not isinstance(element, (Tensor, numbers.Number)):
            raise TypeError(f"Tensor.__contains__ only supports Tensor or scalar, but you passed in a {type(element)}.")
        return bool((self == element).any())

    # ------------------------------------------------------------------ orderings, running sums, products, counts
    def sort(self, dim=-1, descending=False, stable=False):
        """(values, indices) sorted along ``dim``, ascending unless ``descending``; NaN counts as the largest. The sort
        is always stable (ties keep their order), whatever ``stable`` says."""
        order = self.argsort(dim, descending)
        return ReturnTypes(self.clone(), order) if self.ndim == 0 else self._picks_along(order.array, dim)

    def argsort(self, dim=-1, descending=False, stable=False):
        """The indices that sort ``dim`` (``sort``'s indices)."""
        dim = _dim(dim, self.ndim, "argsort")
        if self.ndim == 0:
            return Tensor._wrap(reduce.sort_order(self.array.reshape(1), 0).reshape(()))
        return Tensor._wrap(reduce.sort_order(self.array, dim, descending))

    def _picks_along(self, index, dim):
        """(values, indices): the entries at positions ``index`` (an integer array) along ``dim``, differentiable."""
        return ReturnTypes(shape_ops.GetItem.apply(self, index=shape_ops.along_axis(index, dim)), Tensor._wrap(index))

    def cumsum(self, dim, *, dtype=None):
        """The running sums along ``dim``."""
        x = self._accumulating(dtype)
        return x.clone() if self.ndim == 0 else reduce.CumSum.apply(x, axis=_dim(dim, self.ndim, "cumsum"))

    def prod(self, dim=None, keepdim=False, *, dtype=None):
        """The product of all entries, or along ``dim``; its gradient is right also where entries are 0."""
        x = self._accumulating(dtype)
        if dim is None or self.ndim == 0:
            return reduce.Prod.apply(x.reshape(-1), axis=0)  # 0-d, as is a 0-d tensor's product along dim 0
        return reduce.Prod.apply(x, axis=_dim(dim, self.ndim, "prod"), keepdims=keepdim)

    def _accumulating(self, dtype):
        """This tensor in ``dtype``, or, where none is given, in int64 if it is a bool or integer tensor (PyTorch's
        type for their sums and products)."""
        dtype = np.int64 if dtype is None and self.dtype.kind in "biu" else dtype
        return self if dtype is None else self.to(dtype=dtype)

    def logsumexp(self, dim, keepdim=False):
        """log(sum(exp(self))) over ``dim`` (an int or a tuple), computed without overflow."""
        x = self if self.dtype.kind in "fc" else self.float()
        return reduce.LogSumExp.apply(x, axis=dim, keepdims=keepdim)

    def count_nonzero(self, dim=None):
        xp = backend.get_array_module(self.array)
        return Tensor._wrap(xp.asarray(xp.count_nonzero(self.array, axis=dim), dtype=np.int64))

    def masked_select(self, mask):
        """The entries where the bool ``mask`` holds (the two broadcast against each other), as a 1-d tensor."""
        mask = mask if isinstance(mask, Tensor) else Tensor(mask, device=self.device)
        if mask.dtype != np.bool_:
            raise TypeError(f"masked_select: expected a bool mask, got dtype {mask.dtype}")
        shape = np.broadcast_shapes(self.shape, mask.shape)
        return self.expand(shape)[mask.expand(shape)]

    def nonzero(self, *, as_tuple=False):
        """The indices of the nonzero entries: an (n, ndim) tensor, or with ``as_tuple`` one tensor per axis."""
        xp = backend.get_array_module(self.array)
        if as_tuple:
            return tuple(Tensor._wrap(i) for i in xp.nonzero(xp.atleast_1d(self.array)))
        return Tensor._wrap(xp.argwhere(self.array))

    def unique(self, sorted=True, return_inverse=False, return_counts=False, dim=None):
        """The distinct values (with ``dim``, the distinct slices along it), always sorted; on request also where each
        entry's value is among them and how often each occurs. No gradient."""
        dim = None if dim is None else _dim(dim, self.ndim, "unique")
        out = [Tensor._wrap(a) for a in reduce.unique(self.array, return_inverse, return_counts, dim)]
        return tuple(out) if len(out) > 1 else out[0]

    def bincount(self, weights=None, minlength=0):
        """How often each of 0, 1, ... occurs in this 1-d non-negative integer tensor (or the sum of its
        ``weights``)."""
        weights = weights.array if isinstance(weights, Tensor) else weights
        return Tensor._wrap(reduce.bincount(self.array, weights, minlength))

    def repeat_interleave(self, repeats, dim=None, *, output_size=None):
        """Each entry along ``dim`` (of the flattened tensor, without it) repeated ``repeats`` times (an int, or a
        count for each entry)."""
        x, dim = (self.flatten(), 0) if dim is None else (self, _dim(dim, self.ndim, "repeat_interleave"))
        xp = backend.get_array_module(self.array)
        repeats = repeats.tolist() if isinstance(repeats, Tensor) else repeats  # CuPy's repeat takes ints or a list
        return x[shape_ops.along(dim, xp.repeat(xp.arange(x.shape[dim]), repeats))]

    # ------------------------------------------------------------------ more maths, as compositions
    def square(self):
        return self * self

    def reciprocal(self):
        return 1 / self

    def rsqrt(self):
        return self ** -0.5

    def erf(self):
        return ew.Erf.apply(self if self.dtype.kind in "fc" else self.float())

    def lerp(self, end, weight):
        """self + weight (end - self)."""
        return self + weight * (end - self)

    def addcmul(self, tensor1, tensor2, *, value=1):
        """self + value tensor1 tensor2."""
        return self + (tensor1 * tensor2 if value == 1 else value * tensor1 * tensor2)

    def addcdiv(self, tensor1, tensor2, *, value=1):
        """self + value tensor1 / tensor2."""
        return self + (tensor1 / tensor2 if value == 1 else value * tensor1 / tensor2)

    lerp_, addcmul_, addcdiv_ = map(_in_place, (lerp, addcmul, addcdiv))

    # ------------------------------------------------------------------ matrices and comparisons of whole tensors
    def mm(self, mat2):
        """The product of two matrices."""
        linalg.check_product_shapes("mm", self.shape, mat2.shape)
        return self @ mat2

    def bmm(self, batch2):
        """The products of two batches of matrices (3-d tensors), one pair at a time."""
        linalg.check_product_shapes("bmm", self.shape, batch2.shape)
        return self @ batch2

    def dot(self, other):
        """The inner product of two 1-d tensors of one size."""
        linalg.check_product_shapes("dot", self.shape, other.shape)
        return self @ other

    def outer(self, vec2):
        """The outer product of two 1-d tensors: self[i] vec2[j]."""
        linalg.check_product_shapes("outer", self.shape, vec2.shape)
        return self.unsqueeze(1) * vec2.unsqueeze(0)

    @property
    def mT(self):
        """The transpose of the last two axes (of a matrix, or of each matrix of a batch)."""
        if self.ndim < 2:
            raise ValueError(f"tensor.mT is only supported on matrices or batches of matrices. Got {self.ndim}-D "
                             f"tensor.")
        return self.transpose(-2, -1)

    def tril(self, diagonal=0):
        """The entries on and below the ``diagonal``-th diagonal of the last two axes (0 above; diagonal 0 is the main
        one, positive ones above it); the gradient passes where the entries are kept."""
        return self._triangle(diagonal, lower=True)

    def triu(self, diagonal=0):
        """The entries on and above the ``diagonal``-th diagonal of the last two axes (0 below)."""
        return self._triangle(diagonal, lower=False)

    def _triangle(self, diagonal, lower):
        if self.ndim < 2:
            raise ValueError(f"{'tril' if lower else 'triu'}: input tensor must have at least 2 dimensions, got shape "
                             f"{self.shape}")
        return ew.Where.apply(shape_ops.triangle(self.array, diagonal, lower), self, self.dtype.type(0))

    tril_, triu_ = map(_in_place, (tril, triu))

    def isclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """Whether each entry is within atol + rtol |other| of ``other``'s: a bool tensor."""
        return self._compare(other, lambda a, b: backend.get_array_module(a).isclose(a, b, rtol, atol, equal_nan))

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False):
        """Whether every entry is close to ``other``'s (``isclose``): a Python bool."""
        return bool(self.isclose(other, rtol, atol, equal_nan).all())

    def equal(self, other):
        """Whether ``other`` has the same shape and the same entries: a Python bool."""
        return self.shape == other.shape and bool((self == other).all())

    def is_contiguous(self, memory_format=None):
        """Always True: every op here takes any memory layout (``view`` copies where needed), so no tensor needs
        ``contiguous()``."""
        return True

    def detach_(self):
        """Cut this tensor from the graph, in place: it becomes a leaf that requires no gradient."""
        self._creator, self.requires_grad = None, False
        return self

    # ------------------------------------------------------------------ PyTorch compatibility
    # NumPy interop, dtype names, ``new_*`` factories, rounding, and the in-place family (``add_``, ``mul_``,
    # ``normal_`` ...). An in-place op computes its result out of place, writes it into this tensor's array
    # (so aliases such as ``param.data`` see it) and counts the change in ``_version``: backward refuses a
    # tensor that an op saved for its backward and that was modified in place since, as PyTorch does.
    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)`` (and so ``plt.imshow(t)``) for a CPU tensor."""
        if self.device != "cpu":
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy the "
                            f"tensor to host memory first.")
        array = np.asarray(self.array, dtype=self.dtype if dtype is None else dtype)  # a 0-d result may be a scalar
        return array.copy() if copy else array

    def __format__(self, spec):
        """``f"{loss:.4f}"`` formats a 0-d tensor's value; other tensors only format as ``str``, as in PyTorch."""
        if self.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError(f"unsupported format string {spec!r} for a tensor of shape {self.shape} (only 0-d "
                            f"tensors format as numbers; use .item() or .tolist())")
        return str(self)

    @property
    def is_cuda(self):
        return self.device != "cpu"

    def type(self, dtype=None):
        """Without an argument, PyTorch's type name ('torch.FloatTensor'); with a dtype or such a name, a cast."""
        if dtype is None:
            prefix = "torch." if self.device == "cpu" else "torch.cuda."
            return prefix + _TYPE_NAMES[self.dtype.type] + "Tensor"
        if isinstance(dtype, str):
            name = dtype.rsplit(".", 1)[-1]
            dtypes = {f"{n}Tensor": d for d, n in _TYPE_NAMES.items()}
            if name not in dtypes:
                raise ValueError(f"unknown tensor type {dtype!r}; known: {', '.join(sorted(dtypes))}")
            on_gpu = self.device if self.device != "cpu" else "cuda"
            return self.to(on_gpu if ".cuda." in dtype else "cpu", dtypes[name])
        return self.to(dtype=dtype)

    def type_as(self, other):
        return self.to(dtype=other.dtype)

    def half(self):
        return self.to(dtype=np.float16)

    def byte(self):
        return self.to(dtype=np.uint8)

    def view_as(self, other):
        return self.reshape(other.shape)

    reshape_as = view_as

    def expand_as(self, other):
        return self.expand(other.shape)

    def contiguous(self):
        return self

    def t(self):
        """The transpose of a matrix (a tensor of at most 2 dimensions), as PyTorch's ``t()``."""
        if self.ndim > 2:
            raise ValueError(f"t() expects a tensor of at most 2 dimensions, got shape {self.shape}; use transpose()")
        return self.T

    def topk(self, k, dim=-1, largest=True, sorted=True):
        """The ``k`` largest (or smallest) values along ``dim`` and their indices, largest first."""
        xp = backend.get_array_module(self.array)
        order = reduce.sort_order(self.array, dim, descending=largest)
        return self._picks_along(xp.take(order, xp.arange(k), axis=dim), dim)

    def nelement(self):
        return self.numel()

    def element_size(self):
        return self.dtype.itemsize

    def new_tensor(self, data, dtype=None, device=None, requires_grad=False):
        from .factories import tensor
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def new_zeros(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(size, 0, dtype, device, requires_grad)

    def new_ones(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(size, 1, dtype, device, requires_grad)

    def new_empty(self, *size, dtype=None, device=None, requires_grad=False):
        return self._new(size, 0, dtype, device, requires_grad)

    def new_full(self, size, fill_value, dtype=None, device=None, requires_grad=False):
        return self._new((size,), fill_value, dtype, device, requires_grad)

    def _new(self, size, fill_value, dtype, device, requires_grad):
        """A tensor of ``size`` filled with ``fill_value``, with this tensor's dtype and device unless given."""
        from .factories import full
        size = tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else size
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device,
                    requires_grad=requires_grad)

    def floor(self):
        """Rounding is piecewise constant: its gradient is zero, as PyTorch's."""
        return ew.Rounding.apply(self, how="floor")

    def ceil(self):
        return ew.Rounding.apply(self, how="ceil")

    def round(self, decimals=0):
        """Halves round to even, as in PyTorch and NumPy."""
        return ew.Rounding.apply(self, how="round", decimals=decimals)

    def masked_fill(self, mask, value):
        """``value`` where the boolean ``mask`` (broadcast to this shape) holds, this tensor elsewhere."""
        from .ops import where
        value = value.item() if isinstance(value, Tensor) else value
        return where(mask, self.dtype.type(value), self)

    # in-place arithmetic and maths: the out-of-place op, written back
    def add_(self, other, alpha=1):
        return self._inplace(lambda t: t + (other if alpha == 1 else other * alpha))

    def sub_(self, other, alpha=1):
        return self._inplace(lambda t: t - (other if alpha == 1 else other * alpha))

    def mul_(self, other):
        return self._inplace(lambda t: t * other)

    def div_(self, other):
        return self._inplace(lambda t: t / other)

    def pow_(self, exponent):
        return self._inplace(lambda t: t ** exponent)

    def clamp_(self, min=None, max=None):
        return self._inplace(lambda t: t.clamp(min, max))

    clip_ = clamp_

    def masked_fill_(self, mask, value):
        return self._inplace(lambda t: t.masked_fill(mask, value))

    def copy_(self, src):
        """Copy ``src`` (a tensor or array, broadcast to this shape, on any device) into this tensor."""
        src = src if isinstance(src, Tensor) else Tensor(src)
        return self._inplace(lambda t: src.to(self.device, self.dtype).expand(self.shape))

    __iadd__, __isub__, __imul__, __itruediv__ = add_, sub_, mul_, div_

    def _inplace(self, op):
        """Write ``op(self)`` into this tensor's array; when autograd records it, this tensor takes its place
        in the graph, and the op works on a copy of the old values (which its backward may need)."""
        self._check_inplace()
        recording = autograd.is_grad_enabled()
        source = self
        if recording:
            source = Tensor._wrap(self.array.copy(), requires_grad=self.requires_grad)
            source._creator = self._creator
        out = op(source)
        if out.shape != self.shape:
            raise RuntimeError(f"in-place op: the result's shape {out.shape} (after broadcasting) does not match "
                               f"the tensor's shape {self.shape}")
        if not np.can_cast(out.dtype, self.dtype, "same_kind"):
            raise RuntimeError(f"in-place op: result type {out.dtype} can't be cast to the tensor's dtype {self.dtype}")
        self.array[...] = out.array
        if recording:
            self._creator, self.requires_grad = out._creator, out.requires_grad
        autograd.count_inplace_change(self)
        return self

    def _check_inplace(self):
        if self.requires_grad and self._creator is None and autograd.is_grad_enabled():
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation (wrap "
                               "the update in no_grad(), or modify .data)")

    # in-place fills: the old values are overwritten, so no gradient flows back through them
    def fill_(self, value):
        value = value.item() if isinstance(value, Tensor) else value
        return self._overwrite(lambda xp: xp.full(self.shape, value, dtype=self.dtype))

    def normal_(self, mean=0.0, std=1.0):
        return self._overwrite(lambda xp: backend.generator(xp).standard_normal(self.shape) * std + mean)

    def uniform_(self, a=0.0, b=1.0):
        return self._overwrite(lambda xp: backend.generator(xp).random(self.shape) * (b - a) + a)

    def bernoulli_(self, p=0.5):
        """1 with probability ``p`` (a number, or a tensor of probabilities broadcast to this shape), else 0."""
        p = p.array if isinstance(p, Tensor) else p
        return self._overwrite(lambda xp: backend.generator(xp).random(self.shape) < p)

    def _overwrite(self, make):
        """Replace every value by ``make(xp)`` (cast to this dtype); recorded, the tensor leaves the graph."""
        self._check_inplace()
        with backend.on_device(self.device):
            self.array[...] = make(backend.get_array_module(self.array))
        if self._creator is not None and autograd.is_grad_enabled():
            self._creator, self.requires_grad = None, False
        autograd.count_inplace_change(self)
        return self

    def relu_(self):
        return self._inplace(Tensor.relu)

    def sqrt_(self):
        return self._inplace(Tensor.sqrt)

    def exp_(self):
        return self._inplace(Tensor.exp)

    def log_(self):
        return self._inplace(Tensor.log)

    def abs_(self):
        return self._inplace(Tensor.abs)

    def neg_(self):
        return self._inplace(Tensor.__neg__)

    def sigmoid_(self):
        return self._inplace(Tensor.sigmoid)

    def tanh_(self):
        return self._inplace(Tensor.tanh)

    def floor_(self):
        return self._overwrite(lambda xp: xp.floor(self.array))

    def ceil_(self):
        return self._overwrite(lambda xp: xp.ceil(self.array))

    def round_(self, decimals=0):
        return self._overwrite(lambda xp: xp.round(self.array, decimals))


def _dims(dim, axis, keepdim, keepdims):
    """Accept PyTorch's (dim, keepdim) and NumPy's (axis, keepdims) spellings."""
    return (axis if dim is None else dim), (keepdim if keepdims is None else keepdims)


def _dim(dim, ndim, what):
    """``dim`` as a non-negative axis of a tensor of ``ndim`` dimensions; PyTorch's error where it is out of range."""
    axes = max(ndim, 1)  # a 0-d tensor takes dim 0 or -1, as in PyTorch
    if not -axes <= dim < axes:
        raise IndexError(f"{what}(): dimension out of range (expected to be in range of [{-axes}, {axes - 1}], "
                         f"but got {dim})")
    return dim % axes


def _index_array(index, data, what):
    """An index tensor (or list/array) as an integer array on ``data``'s device."""
    if not isinstance(index, Tensor):
        index = Tensor(index, device=data.device)
    backend.check_same_device([data.array, index.array], what)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{what}(): index must be an integer tensor, got dtype {index.dtype}")
    return index.array


def _array_index(index, data):
    """Turn Tensors and lists inside an index into arrays on the indexed tensor's device."""
    xp = backend.get_array_module(data)

    def convert(part):
        if isinstance(part, Tensor):
            backend.check_same_device([data, part.array], "indexing")
            return part.array
        if isinstance(part, list) or isinstance(part, np.ndarray) and xp is not np:
            return xp.asarray(part)
        return part

    return tuple(convert(p) for p in index) if isinstance(index, tuple) else convert(index)


autograd.register_tensor_class(Tensor)
