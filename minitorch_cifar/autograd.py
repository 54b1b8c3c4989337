"""Reverse-mode automatic differentiation: the ``Function`` base class and the backward pass.

A ``Function`` computes one op on raw arrays in ``forward`` and, given the gradient of the loss with
respect to its output, returns the gradients with respect to each input in ``backward``. Calling
``SomeFunction.apply(*tensors)`` runs the forward and, when a gradient will be needed, records the
function as the creator of its output. ``Tensor.backward`` (``backward`` here) then walks that graph once, in
reverse topological order, applying the chain rule:  dL/d(input) = backward(dL/d(output)),  and checks that
each gradient a ``backward`` returns fits its input. ``grad`` takes the same walk (``_walk``) but returns the
gradients w.r.t. chosen tensors instead of adding to ``.grad``; hooks a tensor registered run on its gradient.

The modules stack without a cycle: autograd <- ops (each op a Function) <- tensor (Tensor's methods
call the ops). Tensor registers its class here, so that ``apply`` can wrap results without an import.
"""
import contextlib
import functools
import itertools
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
    _hooks = None  # the hooks registered on the output tensor (register_hook), by handle id

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


class RemovableHandle:
    """What ``register_hook`` and the modules' ``register_*_hook`` return; ``remove()`` takes the hook off."""

    _ids = itertools.count()

    def __init__(self, hooks):
        self.hooks, self.id = hooks, next(self._ids)

    def remove(self):
        self.hooks.pop(self.id, None)


def register_hook(tensor, hook):
    """``Tensor.register_hook``: keep ``hook`` in the node that stands for ``tensor`` in the graph (the creator of an
    intermediate tensor, so that an in-place change of it later leaves the hook on the value it was given for)."""
    if not tensor.requires_grad:
        raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
    node = _node(tensor)
    if node._hooks is None:
        node._hooks = {}
    handle = RemovableHandle(node._hooks)
    node._hooks[handle.id] = hook
    return handle


def _as_tuple(tensors):
    return tuple(tensors) if isinstance(tensors, (tuple, list)) else (tensors,)


def _seeds(tensors, gradients, what):
    """Each of ``tensors`` (outputs to differentiate) paired with its gradient array: a copy of the given Tensor; an
    array as it is, handed over (it may become a .grad), unless it needs converting; ones for a one-element tensor."""
    tensors = _as_tuple(tensors)
    gradients = (None,) * len(tensors) if gradients is None else _as_tuple(gradients)
    if len(gradients) != len(tensors):
        raise RuntimeError(f"{what}: got {len(tensors)} tensors and {len(gradients)} gradients")
    seeds = []
    for index, (tensor, gradient) in enumerate(zip(tensors, gradients)):
        if not tensor.requires_grad:
            raise RuntimeError(f"{what}: element {index} of tensors does not require grad and does not have a "
                               f"grad_fn (was it made under no_grad(), or from tensors without requires_grad=True?)")
        array, xp = tensor.array, backend.get_array_module(tensor.array)
        if gradient is None:
            if array.size != 1:
                raise RuntimeError(f"{what}: grad can be implicitly created only for scalar outputs: element {index} "
                                   f"of tensors, a non-scalar tensor of shape {tensor.shape} needs a gradient of that "
                                   f"shape (or reduce it first, e.g. loss.sum())")
            with backend.on_device_of(array):  # the first gradient on this tensor's GPU, not on CuPy's current one
                seeds.append((tensor, xp.ones(array.shape, array.dtype)))  # ones_like: 3x the time
            continue
        given = isinstance(gradient, _Tensor)  # the caller keeps a Tensor: its array is copied
        gradient = gradient.array if given else gradient
        backend.check_same_device([array, gradient], what)
        if given or getattr(gradient, "shape", None) != array.shape or getattr(gradient, "dtype", None) != array.dtype:
            with backend.on_device_of(array):
                gradient = xp.array(gradient, dtype=array.dtype)
        if gradient.shape != array.shape:
            raise RuntimeError(f"{what}: mismatch in shape: the gradient of element {index} has shape "
                               f"{tuple(gradient.shape)} but the tensor has shape {tensor.shape}")
        seeds.append((tensor, gradient))
    return seeds


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """PyTorch's ``torch.autograd.backward``: add the gradient of ``tensors`` (weighted by ``grad_tensors``) w.r.t.
    every leaf that requires one (or only w.r.t. ``inputs``) to its ``.grad``."""
    _no_create_graph(create_graph)
    seeds = _seeds(tensors, grad_tensors, "backward")
    given = set()  # arrays already stored as some .grad: a second holder gets a copy
    targets = None if inputs is None else {id(_node(t)): t for t in _as_tuple(inputs)}
    if targets == {}:
        raise RuntimeError("backward(): the `inputs` argument cannot be empty")

    def to_grad(node, g):
        if targets is None:  # a leaf (an intermediate tensor keeps its gradient only after retain_grad())
            tensor = node
        else:
            tensor = targets.get(id(node))
            if tensor is None:
                return
        if tensor._creator is not None:  # an intermediate tensor among ``inputs``
            tensor._accumulate_grad(g, owned=False)
            return
        flags = g.flags  # CuPy's flags have no `writeable`: its arrays cannot be read-only
        owned = (g.base is None and flags.c_contiguous and getattr(flags, "writeable", True) and id(g) not in given
                 and tensor._hooks is None)  # else a hook may still hold g
        tensor._accumulate_grad(g, owned)
        given.add(id(tensor.grad.array))

    _walk(seeds, create_graph if retain_graph is None else retain_graph, to_grad, targets)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """PyTorch's ``torch.autograd.grad``: the gradients of ``outputs`` (weighted by ``grad_outputs``) w.r.t. each of
    ``inputs`` (leaves or intermediate tensors), as a tuple, leaving every ``.grad`` as it is. The graph is freed
    unless ``retain_graph``; ``only_inputs`` is accepted and ignored, as PyTorch does."""
    _no_create_graph(create_graph)
    if is_grads_batched:
        raise NotImplementedError("grad(is_grads_batched=True) is not supported: call grad once per grad_outputs")
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, but got: "
                         "allow_unused=False.")
    inputs = _as_tuple(inputs)
    for index, tensor in enumerate(inputs):
        if not tensor.requires_grad:
            raise RuntimeError(f"grad(): one of the differentiated Tensors (inputs[{index}]) does not require grad")
    seeds = _seeds(outputs, grad_outputs, "grad")
    found = {}

    def keep(node, g):
        if id(node) in targets:
            found[id(node)] = g

    targets = {id(_node(t)) for t in inputs}
    _walk(seeds, create_graph if retain_graph is None else retain_graph, keep, targets)
    results = []
    for index, tensor in enumerate(inputs):
        g = found.get(id(_node(tensor)))
        if g is None and not (allow_unused or materialize_grads):
            raise RuntimeError(f"grad(): the differentiated Tensor at index {index} appears to not have been used "
                               f"in the graph. Set allow_unused=True if this is the desired behavior.")
        if g is None and materialize_grads:
            g = backend.get_array_module(tensor.array).zeros_like(tensor.array)
        results.append(None if g is None else _Tensor._wrap(g))
    return tuple(results)


def _no_create_graph(create_graph):
    if create_graph:
        raise NotImplementedError("create_graph=True is not supported: this engine's backward computes on arrays, "
                                  "so the gradients it returns have no graph to differentiate again (no "
                                  "higher-order gradients, e.g. no gradient-penalty term that needs the gradient's "
                                  "own gradient)")


def _consumers(roots, kept=None):
    """For each node reachable from ``roots`` (by id), how many gradients it receives: one from each use of its output
    by a function of the graph (only by those in ``kept``, ids, where given). A node is a function, standing for the
    tensor it made, or a leaf tensor that requires a gradient."""
    counts, stack = {}, []
    for node in roots:
        if id(node) not in counts:
            counts[id(node)] = 0
            if isinstance(node, Function):
                stack.append(node)
    while stack:
        for parent in _parents(stack.pop()):
            if parent is not None and (kept is None or id(parent) in kept):
                key = id(parent)
                if key in counts:
                    counts[key] += 1
                else:
                    counts[key] = 1
                    if isinstance(parent, Function):
                        stack.append(parent)
    return counts


def _parents(fn):
    """``fn.parents``, which a backward without retain_graph frees."""
    if fn.released:
        raise RuntimeError("backward through a graph a second time: its saved arrays were freed by the "
                           "first backward; pass retain_graph=True to the first call if you need this")
    return fn.parents


def _leading_to(roots, targets):
    """The ids of the nodes from which one of ``targets`` (ids) is reached through the parents, targets included:
    only they need a gradient. A depth-first walk that decides each node after its parents."""
    leads, stack = {}, [(node, False) for node in roots]
    while stack:
        node, parents_done = stack.pop()
        key = id(node)
        if parents_done:
            leads[key] = key in targets or any(leads[id(p)] for p in node.parents if p is not None)
        elif key not in leads:
            leads[key] = key in targets  # final for a leaf; a function's is decided after its parents
            if isinstance(node, Function):
                stack.append((node, True))
                stack.extend((p, False) for p in _parents(node) if p is not None and id(p) not in leads)
    return {key for key, yes in leads.items() if yes}


def _node(tensor):
    """The node that stands for ``tensor`` in the graph: its creator, or the tensor itself for a leaf."""
    return tensor if tensor._creator is None else tensor._creator


def _walk(seeds, retain_graph, deliver, targets=None):
    """The chain rule from ``seeds`` (pairs of a tensor and the gradient array w.r.t. it) back through the graph.

    Each node is visited once its gradient is complete: the sum over every use of its output (``_consumers`` counts
    them). Its tensor's hooks run on that gradient, a tensor that called retain_grad() keeps it as ``.grad``, then
    ``deliver(node, grad)`` takes it, and a function's backward passes it on to its parents: dL/d(input) =
    backward(dL/d(output)). With ``targets`` (ids of nodes), only the functions on a path to one of them run."""
    roots, grads = {}, {}
    for tensor, grad in seeds:
        key = id(_node(tensor))
        roots[key] = _node(tensor)
        grads[key] = grad if key not in grads else grads[key] + grad
    kept = None if targets is None else _leading_to(roots.values(), targets)
    waiting = _consumers([node for key, node in roots.items() if kept is None or key in kept], kept)
    ready = [node for key, node in roots.items() if waiting.get(key) == 0]

    def take(node, g, is_function):
        """The complete gradient ``g`` w.r.t. node's tensor after its hooks, kept by retain_grad(), delivered."""
        if node._hooks:
            g = _hooked(node, g)
        if is_function and node.retained is not None:
            node.retained._accumulate_grad(g, owned=False)
        if targets is not None or not is_function:  # without targets only the leaves' gradients are wanted
            deliver(node, g)
        return g

    def run(fn):
        """fn's gradient taken and its backward's passed on; what fn saved goes before they are summed, and its own
        gradient and those it returned on return (not after the next function's backward)."""
        g, parents = grads.pop(id(fn), None), fn.parents  # None: each use of fn's output returned None
        if g is not None and (fn._hooks or fn.retained is not None or targets is not None):
            g = take(fn, g, True)
        if fn.changes_seen is not None and fn.changes_seen != _inplace_changes:
            _check_saved(fn)
        if g is None:
            input_grads = (None,) * len(parents)
        elif targets is None:
            input_grads = _one_per_input(fn, fn.backward(g), len(parents))
        else:  # backward computes the gradients only of the inputs that lead to a target
            needs_grad = fn.needs_grad
            fn.needs_grad = tuple([parent is not None and id(parent) in waiting for parent in parents])
            try:
                input_grads = _one_per_input(fn, fn.backward(g), len(parents))
            finally:
                fn.needs_grad = needs_grad
        del g
        if not retain_graph:
            fn.release()
        complete = []  # leaves whose gradient is complete: taken once all of fn's gradients are checked
        for index, parent in enumerate(parents):
            key = id(parent)
            if parent is None or targets is not None and key not in waiting:  # None: needs no gradient
                continue
            is_function = isinstance(parent, Function)
            ig = input_grads[index]
            if ig is not None:
                shape, dtype = (parent.out_shape, parent.out_dtype) if is_function else \
                    (parent.array.shape, parent.array.dtype)
                ig = _fitted(fn, index, ig, shape, dtype)
                grads[key] = ig if key not in grads else grads[key] + ig
            waiting[key] -= 1
            if not waiting[key]:
                if is_function:
                    ready.append(parent)
                elif key in grads:  # a leaf: nothing is left to pass on
                    complete.append(parent)
        for leaf in complete:
            take(leaf, grads.pop(id(leaf)), False)

    gpu = caller_gpu = None  # the GPU made current last, and the one current when backward was called
    try:
        for leaf in [node for node in ready if not isinstance(node, Function)]:  # backward() on a leaf itself
            ready.remove(leaf)
            take(leaf, grads.pop(id(leaf)), False)
        while ready:
            fn = ready.pop()
            if fn.gpu is not None and fn.gpu != gpu:  # each function runs on its inputs' GPU, as its forward did
                previous, gpu = backend.use_gpu(fn.gpu), fn.gpu
                caller_gpu = previous if caller_gpu is None else caller_gpu
            run(fn)
    finally:
        if caller_gpu is not None:
            backend.use_gpu(caller_gpu)


def _hooked(node, grad):
    """``grad`` after the hooks registered on the node's tensor, each given the gradient so far as a Tensor and
    returning None or a replacement."""
    for hook in list(node._hooks.values()):
        replaced = hook(_Tensor._wrap(grad))
        if replaced is not None:
            new = replaced.array if isinstance(replaced, _Tensor) else replaced
            if getattr(new, "shape", None) != grad.shape or new.dtype != grad.dtype:
                change = "size" if getattr(new, "shape", None) != grad.shape else "type"
                raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} has changed the {change} of value: it "
                                   f"returned {type(replaced).__name__} of shape {getattr(new, 'shape', None)} and "
                                   f"dtype {getattr(new, 'dtype', None)} for a gradient of shape {grad.shape} and "
                                   f"dtype {grad.dtype}")
            grad = new
    return grad


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
