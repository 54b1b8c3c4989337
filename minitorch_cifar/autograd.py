"""Reverse-mode automatic differentiation: the ``Function`` base class and the backward pass.

A ``Function`` computes one op on raw arrays in ``forward`` and, given the gradient of the loss with
respect to its output, returns the gradients with respect to each input in ``backward``. Calling
``SomeFunction.apply(*tensors)`` runs the forward and, when a gradient will be needed, records the
function as the creator of its output. ``Tensor.backward`` then walks that graph once, in reverse
topological order, applying the chain rule:  dL/d(input) = backward(dL/d(output)),  and checks that
each gradient a ``backward`` returns fits its input.

The modules stack without a cycle: autograd <- ops (each op a Function) <- tensor (Tensor's methods
call the ops). Tensor registers its class here, so that ``apply`` can wrap results without an import.
"""
import contextlib
import functools
import weakref

import numpy as np

from . import backend

_grad_enabled = True


def is_grad_enabled():
    return _grad_enabled


class _GradMode(contextlib.ContextDecorator):
    """Context manager and decorator that turns graph recording off (or on) inside it."""

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        global _grad_enabled
        self.previous = _grad_enabled
        _grad_enabled = self.enabled

    def __exit__(self, *exc):
        global _grad_enabled
        _grad_enabled = self.previous
        return False


def no_grad():
    """``with no_grad():`` (or ``@no_grad()``) runs ops without recording them for backward."""
    return _GradMode(False)


def enable_grad():
    return _GradMode(True)


class set_grad_enabled(_GradMode):
    """``set_grad_enabled(False)`` turns recording off at once; used in ``with``, it restores the previous mode."""

    def __init__(self, mode):
        global _grad_enabled
        super().__init__(bool(mode))
        self.previous, _grad_enabled = _grad_enabled, self.enabled

    def __enter__(self):
        return self


def unbroadcast(grad, shape):
    """Sum ``grad`` down to ``shape``, undoing NumPy broadcasting (the adjoint of broadcast_to)."""
    if grad.shape == shape:
        return grad
    extra = grad.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and grad.shape[i + extra] != 1)
    grad = grad.sum(axis=axes, keepdims=True) if axes else grad
    return grad.reshape(shape)


_inplace_changes = 0  # in-place changes of any tensor so far: an op recorded since the last one needs no check
_changed = {}  # id(tensor) -> (weak reference, number of its last in-place change), in the order of those changes


def count_inplace_change(tensor):
    """Count an in-place change of ``tensor``'s values in its ``_version``, and note it as the latest change, for
    backward's check of the arrays an op saved (``_check_saved``)."""
    global _inplace_changes
    tensor._version += 1
    _inplace_changes += 1
    key = id(tensor)
    ref, _ = _changed.pop(key, (None, 0))
    if ref is None or ref() is not tensor:
        ref = weakref.ref(tensor, functools.partial(_forget_changed, key))
    _changed[key] = ref, _inplace_changes  # last in the dict: the latest change


def _forget_changed(key, ref):
    """A tensor changed in place is gone: its entry goes (unless its id serves a newer tensor already)."""
    if _changed.get(key, (None,))[0] is ref:
        del _changed[key]


_Tensor = None  # the class ops take and return: tensor.py registers Tensor, since it imports this module


def register_tensor_class(cls):
    """Make ``Function.apply`` unwrap ``cls`` inputs to their ``.array`` and wrap its results in ``cls``."""
    global _Tensor
    _Tensor = cls


class InvalidGradientError(RuntimeError):
    """A ``backward`` returned the wrong number of gradients, or one that does not fit its input."""


class Function:
    """One differentiable op. Subclasses define ``forward(*arrays, **options)`` and ``backward(grad)``.

    ``forward`` may keep on ``self`` what ``backward`` needs; ``backward`` returns one gradient per
    input (``None`` for an input that needs none; ``self.needs_grad[i]`` says which do), each of its
    input's shape, and never writes into the ``grad`` it is given, which other ops may share. An op
    whose ``forward`` keeps no input or output array (only shapes, axes...) sets ``saves_arrays = False``:
    the in-place check then has nothing to record for it.
    """

    retained = None  # the output tensor, when retain_grad() asked to keep its gradient
    saves_arrays = True  # False for an op whose forward keeps no input or output array: nothing to check in place
    changes_seen = None  # how many in-place changes there had been when a recorded op that saves arrays ran
    released = False  # True once backward (without retain_graph) dropped what forward saved
    gpu = None  # the id of the GPU that holds the inputs (and runs forward and backward); None on the CPU

    def __init__(self, needs_grad):
        self.needs_grad = needs_grad

    @classmethod
    def apply(cls, *inputs, **options):
        """Run the op on tensors (or plain numbers/arrays, taken as constants) and record it for backward."""
        Tensor, host_types = _Tensor, backend.HOST_TYPES
        arrays, on_host = [], True  # on_host: every input a NumPy array or a number, the CPU's case
        for t in inputs:  # one plain loop: a list comprehension and a second pass for the types cost 0.2 us more
            array = t.array if isinstance(t, Tensor) else _constant(t)
            on_host = on_host and type(array) in host_types
            arrays.append(array)
        gpu = None  # the GPU of the inputs; None on the CPU
        if not on_host:
            if len(arrays) > 1:
                backend.check_same_device(arrays, cls.__name__)
            gpu = backend.gpu_of(arrays)
        if _grad_enabled:
            needs_grad = tuple([isinstance(t, Tensor) and t.requires_grad for t in inputs])
        else:
            needs_grad = (False,) * len(inputs)  # no input needs a gradient while recording is off
        fn = cls(needs_grad)
        if gpu is None or gpu == backend.current_gpu():
            result = fn.forward(*arrays, **options)
        else:  # on the inputs' GPU, not on CuPy's current one: new arrays and random draws (dropout) belong there
            with backend.gpu_context(gpu):
                result = fn.forward(*arrays, **options)
        if not (True in needs_grad and result.dtype.kind in "fc"):
            return Tensor._wrap(result)
        out = Tensor._wrap(result, requires_grad=True)
        # Link to the inputs' creators (or to leaf tensors; None for an input that needs no gradient), not to the
        # input tensors: an intermediate array is then freed as soon as no op saved it for backward.
        fn.parents = [(t if t._creator is None else t._creator) if needed else None
                      for t, needed in zip(inputs, needs_grad)]
        fn.out_dtype, fn.out_shape = result.dtype, result.shape  # what a gradient of the output must fit
        fn.gpu = gpu  # where backward runs
        if cls.saves_arrays:  # for the in-place check (_check_saved) in backward
            fn.changes_seen = _inplace_changes
        out._creator = fn
        return out

    def forward(self, *arrays, **options):
        raise NotImplementedError

    def backward(self, grad):
        raise NotImplementedError

    def release(self):
        """Drop what forward saved and the links to the parents, freeing that memory."""
        self.__dict__.clear()
        self.released = True

    def __repr__(self):
        return f"<{type(self).__name__}Backward>"


def _constant(x):
    """A non-tensor input as the op sees it; a NumPy scalar becomes a Python number so that it cannot
    promote float32 to float64."""
    return x.item() if isinstance(x, np.generic) else x


def _check_saved(fn):
    """PyTorch's check that no array an op kept for its backward (as an attribute) was modified in place since its
    forward: the tensors changed in place after it are looked for, latest first, among ``fn``'s attributes."""
    for ref, change in reversed(list(_changed.values())):
        if change <= fn.changes_seen:
            return
        t = ref()
        if t is not None and any(v is t.array for v in vars(fn).values()):
            raise RuntimeError(f"one of the variables needed for gradient computation has been modified by an "
                               f"inplace operation: a tensor of shape {t.shape} that {type(fn).__name__} saved for "
                               f"backward was changed in place after it (it is at version {t._version} now). Hint: "
                               f"do that operation out of place (y = y * 2, not y.mul_(2)), or clone() the tensor "
                               f"first")


def _consumers(root):
    """For each function reachable from ``root`` through its parents (by id), how many gradients it receives: one
    from each use of its output by a function of the graph."""
    counts, stack = {id(root): 0}, [root]
    while stack:
        fn = stack.pop()
        if fn.released:
            raise RuntimeError("backward through a graph a second time: its saved arrays were freed by the "
                               "first backward; pass retain_graph=True to the first call if you need this")
        for parent in fn.parents:
            if isinstance(parent, Function):
                key = id(parent)
                if key in counts:
                    counts[key] += 1
                else:
                    counts[key] = 1
                    stack.append(parent)
    return counts


def backward(root, grad, retain_graph=False):
    """Accumulate d(root)/d(leaf) · grad into ``.grad`` of every leaf that requires a gradient.

    The gradient reaching each function is the sum over every op that used its output; a function runs once all
    of those have passed theirs on (``_consumers`` counts them), so that sum is complete."""
    given = set()  # arrays already stored as some .grad: a second holder gets a copy

    def to_leaf(leaf, g):
        flags = g.flags  # CuPy's flags have no `writeable`: its arrays cannot be read-only
        owned = g.base is None and flags.c_contiguous and getattr(flags, "writeable", True) and id(g) not in given
        leaf._accumulate_grad(g, owned)
        given.add(id(leaf.grad.array))

    if root._creator is None:
        to_leaf(root, grad)
        return
    waiting = _consumers(root._creator)
    grads, ready = {id(root._creator): grad}, [root._creator]

    def run(fn):
        """fn's backward, its gradients passed on; what fn saved goes before they are summed, and its own gradient
        and those it returned on return (not after the next function's backward)."""
        g = grads.pop(id(fn), None)  # None: each use of the output returned None as its gradient
        if fn.changes_seen is not None and fn.changes_seen != _inplace_changes:
            _check_saved(fn)
        if fn.retained is not None and g is not None:
            fn.retained._accumulate_grad(g, owned=False)
        parents = fn.parents
        input_grads = _one_per_input(fn, fn.backward(g), len(parents)) if g is not None else (None,) * len(parents)
        del g
        if not retain_graph:
            fn.release()
        leaves = []  # given their gradients once all of fn's are checked
        for index, parent in enumerate(parents):
            ig = input_grads[index]
            if isinstance(parent, Function):
                key = id(parent)
                if ig is not None:
                    ig = _fitted(fn, index, ig, parent.out_shape, parent.out_dtype)
                    grads[key] = ig if key not in grads else grads[key] + ig
                waiting[key] -= 1
                if not waiting[key]:
                    ready.append(parent)
            elif ig is not None and parent is not None:
                leaves.append((parent, _fitted(fn, index, ig, parent.array.shape, parent.array.dtype)))
        for leaf, ig in leaves:
            to_leaf(leaf, ig)

    gpu = caller_gpu = None  # the GPU made current last, and the one current when backward was called
    try:
        while ready:
            fn = ready.pop()
            if fn.gpu is not None and fn.gpu != gpu:  # each function runs on its inputs' GPU, as its forward did
                previous, gpu = backend.use_gpu(fn.gpu), fn.gpu
                caller_gpu = previous if caller_gpu is None else caller_gpu
            run(fn)
    finally:
        if caller_gpu is not None:
            backend.use_gpu(caller_gpu)


def _one_per_input(fn, grads, count):
    """What ``fn.backward`` returned, as a tuple with one gradient (or None) per input: trailing Nones beyond them are
    fine, as in PyTorch."""
    if type(grads) is not tuple:
        grads = (grads,)
    if len(grads) != count and (len(grads) < count or any(g is not None for g in grads[count:])):
        raise InvalidGradientError(f"Function {type(fn).__name__} returned an incorrect number of gradients "
                                   f"(expected {count}, one per input of forward, got {len(grads)})")
    return grads


def _fitted(fn, index, grad, shape, dtype):
    """``grad`` as the gradient of input ``index`` of ``fn``, which must have that input's shape and a float/complex
    dtype: cast to the input's dtype."""
    if getattr(grad, "dtype", None) is dtype and grad.shape == shape:  # the common case: nothing to check further
        return grad
    if getattr(grad, "shape", None) != shape or grad.dtype.kind != dtype.kind:
        raise InvalidGradientError(_invalid_gradient(fn, index, grad, shape, dtype))
    return grad if grad.dtype == dtype else grad.astype(dtype, copy=False)


def _invalid_gradient(fn, index, grad, shape, dtype):
    """The message for a gradient that does not fit input ``index`` of ``fn`` (PyTorch's wording)."""
    problem = f"Function {type(fn).__name__} returned an invalid gradient at index {index} - "
    if not hasattr(grad, "shape"):
        return problem + f"got {type(grad).__name__} but expected an array of shape {shape}"
    if grad.shape != shape:
        return problem + f"got shape {tuple(grad.shape)} but expected shape {shape}, the input's"
    kind = "complex" if dtype.kind == "c" else "floating-point"
    return problem + f"got dtype {grad.dtype} but expected a {kind} gradient for the input's dtype {dtype}"
